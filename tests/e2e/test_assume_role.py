"""STS AssumeRole with ProvidedContexts against a live server (docs/sts.md): boto3 end to end (CreateTokenWithIAM's
identity context -> AssumeRole -> GetCallerIdentity with the new credentials), Debian's AWS CLI 2.9
(``aws sts assume-role --provided-contexts``, with the STS model ``ssoidc cli-endpoints`` writes to
AWS_DATA_PATH), and the refusals: each the modelled error, no 5xx, nothing minted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ssoidc.ids import unique_id
from ssoidc.storage.base import SessionCredentialRecord, Store
from tests.e2e.test_apply_live import apply
from tests.helpers.clients import make_client
from tests.helpers.config import ACCOUNT, JWT_BEARER, ROOT, e2e_config
from tests.helpers.pg import drop_schema, new_schema, pg_base_url, require_postgres, with_query
from tests.helpers.servers import LiveServer, create_credential, running_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of this module's own, on each store (the roles are catalogue rows, the sessions rows of their own)."""
    tmp = tmp_path_factory.mktemp(f"assume-role-{request.param}")
    if request.param == "sqlite":
        with running_server(tmp) as s:
            yield s
        return
    base = pg_base_url()
    require_postgres(base, "The PostgreSQL leg of the AssumeRole tests")
    schema = new_schema("ssoidc_sts")
    try:
        url = with_query(base, search_path=schema)
        with running_server(tmp, database_url=url) as s:
            s.env["SSOIDC_DATABASE_URL"] = url  # ssoidc apply / credentials create reach the same store
            yield s
    finally:
        drop_schema(base, schema)


PROVIDER = "arn:aws:iam::aws:contextProvider/IdentityCenter"
APP_USER = f"arn:aws:iam::{ACCOUNT}:user/app-backend"
STRANGER = f"arn:aws:iam::{ACCOUNT}:user/stranger"
TIP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/tip/tip-app"
PLAIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/plain"


def trust(*actions: str) -> str:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Principal": {"AWS": APP_USER}, "Action": "sts:AssumeRole"}
    ]
    if "sts:SetContext" in actions:
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"AWS": APP_USER},
                "Action": "sts:SetContext",
                "Condition": {"ForAllValues:ArnEquals": {"sts:RequestContextProviders": PROVIDER}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@pytest.fixture(scope="module")
def server(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    doc = e2e_config(live.url)
    doc["Roles"] = [
        {
            "RoleName": "tip-app",
            "Path": "/tip/",
            "AssumeRolePolicyDocument": trust("sts:AssumeRole", "sts:SetContext"),
            "MaxSessionDuration": 7200,
            "Policies": [
                {
                    "PolicyName": "chain",
                    "PolicyDocument": {
                        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]
                    },
                }
            ],
        },
        {"RoleName": "plain", "AssumeRolePolicyDocument": trust("sts:AssumeRole")},
        {
            "RoleName": "chained",
            "MaxSessionDuration": 7200,
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": [TIP_ROLE, PLAIN_ROLE]},
                        "Action": "sts:AssumeRole",
                    }
                ]
            },
        },
    ]
    out = apply(live, doc, tmp_path_factory.mktemp("assume-role") / "config.yaml")
    assert out.returncode == 0, out.stderr
    return live


@pytest.fixture(scope="module")
def app_creds(server: LiveServer) -> tuple[str, str]:
    return create_credential(server, APP_USER)


def sts(server: LiveServer, key: str, secret: str, token: str | None = None) -> Any:
    return boto3.client(
        "sts",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1}),
    )


def identity_context(server: LiveServer) -> str:
    resp = make_client(server).create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
    )
    ctx: str = resp["awsAdditionalDetails"]["identityContext"]
    return ctx


def session_record(server: LiveServer, akid: str) -> SessionCredentialRecord | None:
    async def go(st: Store) -> SessionCredentialRecord | None:
        return await st.get_session_credential(akid)

    return server.with_store(go)


def test_identity_enhanced_session_end_to_end(server: LiveServer, app_creds: tuple[str, str]) -> None:
    ctx = identity_context(server)
    resp = sts(server, *app_creds).assume_role(
        RoleArn=TIP_ROLE,
        RoleSessionName="alice-report",
        DurationSeconds=7200,
        ProvidedContexts=[{"ProviderArn": PROVIDER, "ContextAssertion": ctx}],
    )
    creds, user = resp["Credentials"], resp["AssumedRoleUser"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert user["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/tip-app/alice-report"
    role_id = unique_id("AROA", f"arn:aws:iam::{ACCOUNT}:role/tip-app")
    assert user["AssumedRoleId"] == f"{role_id}:alice-report"
    assert 7100 < creds["Expiration"].timestamp() - time.time() <= 7200
    me = sts(
        server, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    ).get_caller_identity()
    assert me["Arn"] == user["Arn"]
    assert me["UserId"] == user["AssumedRoleId"]
    assert me["Account"] == ACCOUNT
    record = session_record(server, creds["AccessKeyId"])
    assert record is not None
    assert record.source == TIP_ROLE and record.role_arn == TIP_ROLE
    assert record.on_behalf_of_user_id == server.users["alice"]
    assert record.on_behalf_of_identity_store_arn is not None
    assert record.on_behalf_of_identity_store_arn.endswith(server.configuration().instance.identity_store_id)


def test_without_a_context_the_session_remembers_nobody(
    server: LiveServer, app_creds: tuple[str, str]
) -> None:
    resp = sts(server, *app_creds).assume_role(RoleArn=PLAIN_ROLE, RoleSessionName="batch")
    record = session_record(server, resp["Credentials"]["AccessKeyId"])
    assert record is not None and record.on_behalf_of_user_id is None
    assert "PackedPolicySize" not in resp


def test_role_chaining_takes_the_sessions_permission_policies(
    server: LiveServer, app_creds: tuple[str, str]
) -> None:
    """A role session assuming a role: the trust policy must name its role, and its role's permission policies
    (tip-app allows sts:AssumeRole; plain has none, so nothing) must allow it too; one hour at most."""
    chained = f"arn:aws:iam::{ACCOUNT}:role/chained"

    def session_of(role: str) -> Any:
        c = sts(server, *app_creds).assume_role(RoleArn=role, RoleSessionName="hop1")["Credentials"]
        return sts(server, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    tip = session_of(TIP_ROLE)
    resp = tip.assume_role(RoleArn=chained, RoleSessionName="hop2")
    assert resp["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/chained/hop2"
    before = server.count("session_credentials")
    with pytest.raises(ClientError) as info:
        tip.assume_role(RoleArn=chained, RoleSessionName="hop2", DurationSeconds=3601)
    assert info.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as info:  # the plain role's trust policy names the app user only
        tip.assume_role(RoleArn=PLAIN_ROLE, RoleSessionName="hop2")
    assert info.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as info:  # trusted, but the plain role's sessions may call nothing
        session_of(PLAIN_ROLE).assume_role(RoleArn=chained, RoleSessionName="hop2")
    assert info.value.response["Error"]["Code"] == "AccessDenied"
    assert server.count("session_credentials") == before + 1  # only the plain session itself


def test_session_policy_reports_its_packed_size(server: LiveServer, app_creds: tuple[str, str]) -> None:
    policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "*"}]}
    )
    resp = sts(server, *app_creds).assume_role(RoleArn=PLAIN_ROLE, RoleSessionName="narrow", Policy=policy)
    assert 0 < resp["PackedPolicySize"] <= 100
    record = session_record(server, resp["Credentials"]["AccessKeyId"])
    assert record is not None and record.session_policy == json.loads(policy)


def _tampered(ctx: str) -> str:
    i = len(ctx) // 2
    return ctx[:i] + ("A" if ctx[i] != "A" else "B") + ctx[i + 1 :]


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("no-set-context", 403, "AccessDenied"),
        ("tampered", 400, "InvalidParameterValue"),
        ("other-provider", 400, "InvalidParameterValue"),
        ("unknown-role", 403, "AccessDenied"),
        ("stranger", 403, "AccessDenied"),
        ("too-long", 400, "ValidationError"),
        ("under-model-minimum", 400, "ValidationError"),
        ("bad-session-name", 400, "ValidationError"),
        ("malformed-policy", 400, "MalformedPolicyDocument"),
        ("managed-policy", 400, "InvalidParameterValue"),
        ("tags", 400, "InvalidParameterValue"),
    ],
)
def test_refusals_mint_nothing(
    server: LiveServer, app_creds: tuple[str, str], case: str, status: int, code: str
) -> None:
    ctx = identity_context(server)
    creds = app_creds
    args: dict[str, Any] = {
        "RoleArn": TIP_ROLE,
        "RoleSessionName": "s1",
        "ProvidedContexts": [{"ProviderArn": PROVIDER, "ContextAssertion": ctx}],
    }
    if case == "no-set-context":
        args["RoleArn"] = PLAIN_ROLE
    elif case == "tampered":
        args["ProvidedContexts"][0]["ContextAssertion"] = _tampered(ctx)
    elif case == "other-provider":
        args["ProvidedContexts"][0]["ProviderArn"] = "arn:aws:iam::aws:contextProvider/Other"
    elif case == "unknown-role":
        args["RoleArn"] = f"arn:aws:iam::{ACCOUNT}:role/nobody"
    elif case == "stranger":
        creds = create_credential(server, STRANGER)
    elif case == "too-long":
        args["DurationSeconds"] = 7201
    elif case == "under-model-minimum":
        args["DurationSeconds"] = 899
    elif case == "bad-session-name":
        args["RoleSessionName"] = "no spaces"
    elif case == "malformed-policy":
        args["Policy"] = '{"Statement": [], "Statement": []}'
    elif case == "managed-policy":
        args["PolicyArns"] = [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]
    elif case == "tags":
        args["Tags"] = [{"Key": "team", "Value": "a"}]
    before = server.count("session_credentials")
    client = sts(server, *creds)
    if case in ("under-model-minimum", "bad-session-name"):  # boto3 checks the model first: send it raw
        client = boto3.client(
            "sts",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id=creds[0],
            aws_secret_access_key=creds[1],
            config=Config(retries={"total_max_attempts": 1}, parameter_validation=False),
        )
    with pytest.raises(ClientError) as info:
        client.assume_role(**args)
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status
    assert err["Error"]["Code"] == code
    assert ctx not in err["Error"]["Message"]
    assert server.count("session_credentials") == before


def test_the_aws_cli_with_provided_contexts(
    server: LiveServer, app_creds: tuple[str, str], tmp_path: Path
) -> None:
    """Debian's AWS CLI 2.9.19 (``/usr/bin/aws``), whose bundled STS model predates ProvidedContexts, given the
    pinned model through the AWS_DATA_PATH directory ``ssoidc cli-endpoints`` writes."""
    aws = shutil.which("aws", path="/usr/bin")
    assert aws is not None, "Debian's awscli package provides /usr/bin/aws"
    data_path = tmp_path / "aws-data"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ssoidc",
            "cli-endpoints",
            "--endpoint-url",
            server.url,
            "--dir",
            str(data_path),
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_DATA_PATH": str(data_path),
        "AWS_ACCESS_KEY_ID": app_creds[0],
        "AWS_SECRET_ACCESS_KEY": app_creds[1],
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    contexts = json.dumps([{"ProviderArn": PROVIDER, "ContextAssertion": identity_context(server)}])
    out = subprocess.run(
        [
            aws,
            "sts",
            "assume-role",
            "--endpoint-url",
            server.url,
            "--role-arn",
            TIP_ROLE,
            "--role-session-name",
            "cli",
            "--provided-contexts",
            contexts,
            "--output",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/tip-app/cli"
    record = session_record(server, doc["Credentials"]["AccessKeyId"])
    assert record is not None and record.on_behalf_of_user_id == server.users["alice"]
    env |= {
        "AWS_ACCESS_KEY_ID": doc["Credentials"]["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": doc["Credentials"]["SecretAccessKey"],
        "AWS_SESSION_TOKEN": doc["Credentials"]["SessionToken"],
    }
    who = subprocess.run(
        [aws, "sts", "get-caller-identity", "--endpoint-url", server.url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["Arn"] == doc["AssumedRoleUser"]["Arn"]


def test_no_secret_reaches_the_log(server: LiveServer, app_creds: tuple[str, str]) -> None:
    ctx = identity_context(server)
    resp = sts(server, *app_creds).assume_role(
        RoleArn=TIP_ROLE,
        RoleSessionName="logged",
        ProvidedContexts=[{"ProviderArn": PROVIDER, "ContextAssertion": ctx}],
    )
    with pytest.raises(ClientError):
        sts(server, *app_creds).assume_role(
            RoleArn=TIP_ROLE,
            RoleSessionName="logged",
            ProvidedContexts=[{"ProviderArn": PROVIDER, "ContextAssertion": _tampered(ctx)}],
        )
    log = (server.data_dir.parent / "server.log").read_text()
    creds = resp["Credentials"]
    for secret in (creds["SecretAccessKey"], creds["SessionToken"], ctx, _tampered(ctx), app_creds[1]):
        assert secret not in log

"""The access portal end to end through boto3 on live servers (SQLite and PostgreSQL; issue 15 items 3-5): a user
logs in with the public-client device flow, lists accounts and roles, gets role credentials, and those credentials
work (GetCallerIdentity names the assumed role; sso-admin allows what the permission set allows and nothing
else); botocore's own SSO credential provider gets credentials from an ``sso-session`` profile; and every refusal
(a foreign, scope-less or logged-out bearer, a role not assigned, another key's session token, expired session
credentials) is the modelled error, never a 5xx, with nothing minted."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from ssoidc.ids import permission_set_role_name
from tests.helpers.clients import make_admin_client
from tests.helpers.config import ACCOUNT, INSTANCE_ARN
from tests.helpers.pg import drop_schema, new_schema, pg_base_url, require_postgres, with_query
from tests.helpers.portal import (
    A1,
    A2,
    ADMIN,
    OPERATOR,
    SESSION,
    login,
    plant_access,
    profile_env,
    sso_home,
)
from tests.helpers.servers import LiveServer, running_server
from tests.helpers.text import altered

ONE_TRY = Config(retries={"total_max_attempts": 1})


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of this module's own (permission sets are planted in it), on each store."""
    tmp = tmp_path_factory.mktemp(f"portal-{request.param}")
    if request.param == "sqlite":
        with running_server(tmp) as s:
            plant_access(s)
            yield s
        return
    base = pg_base_url()
    require_postgres(base, "The PostgreSQL leg of the portal walkthrough")
    schema = new_schema("ssoidc_portal")
    try:
        with running_server(tmp, database_url=with_query(base, search_path=schema)) as s:
            plant_access(s)
            yield s
    finally:
        drop_schema(base, schema)


def portal(server: LiveServer) -> Any:
    return boto3.client(
        "sso",
        endpoint_url=server.url,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
    )


def client(server: LiveServer, service: str, creds: dict[str, Any]) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=creds["accessKeyId"],
        aws_secret_access_key=creds["secretAccessKey"],
        aws_session_token=creds["sessionToken"],
        config=ONE_TRY,
    )


def fails(call: Any, **kw: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as info:
        call(**kw)
    err = info.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"].get("Message", "")


def test_login_accounts_roles_credentials_that_work(server: LiveServer) -> None:
    alice = login(server)["accessToken"]
    sso = portal(server)
    accounts = sso.list_accounts(accessToken=alice)["accountList"]
    assert accounts == [{"accountId": A1, "accountName": A1, "emailAddress": f"aws+{A1}@example.com"}]
    roles = sso.list_account_roles(accessToken=alice, accountId=A1)["roleList"]
    assert roles == [{"roleName": "Operator", "accountId": A1}]
    before = time.time()
    creds = sso.get_role_credentials(accessToken=alice, accountId=A1, roleName="Operator")["roleCredentials"]
    assert creds["accessKeyId"].startswith("ASIA")
    expires = creds["expiration"] / 1000  # epoch milliseconds
    assert before + 4 * 3600 - 5 <= expires <= time.time() + 4 * 3600  # the permission set's PT4H
    role = permission_set_role_name("Operator", OPERATOR.arn)
    who = client(server, "sts", creds).get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::{A1}:assumed-role/{role}/alice" and who["Account"] == A1
    assert who["UserId"].startswith("AROA") and who["UserId"].endswith(":alice")
    admin = client(server, "sso-admin", creds)
    assert [i["InstanceArn"] for i in admin.list_instances()["Instances"]] == [INSTANCE_ARN]
    code, status, message = fails(admin.list_applications, InstanceArn=INSTANCE_ARN)
    assert (code, status) == ("AccessDeniedException", 400) and "sso:ListApplications" in message
    assert fails(client(server, "identitystore", creds).list_users, IdentityStoreId="d-0000000000")[0] == (
        "AccessDeniedException"
    )
    # bob has Admin on two accounts through his group: AdministratorAccess answers everything
    bob = login(server, "bob")["accessToken"]
    listed = sso.list_accounts(accessToken=bob, maxResults=1)
    rest = sso.list_accounts(accessToken=bob, maxResults=1, nextToken=listed["nextToken"])
    assert [a["accountId"] for a in listed["accountList"] + rest["accountList"]] == [A1, A2]
    paged = [
        a["accountId"]
        for page in sso.get_paginator("list_accounts").paginate(
            accessToken=bob, PaginationConfig={"PageSize": 1}
        )
        for a in page["accountList"]
    ]
    assert paged == [A1, A2]
    bob_creds = sso.get_role_credentials(accessToken=bob, accountId=A1, roleName="Admin")["roleCredentials"]
    assert client(server, "sso-admin", bob_creds).list_applications(InstanceArn=INSTANCE_ARN)["Applications"]
    # AdministratorAccess on another account administers nothing here
    elsewhere = sso.get_role_credentials(accessToken=bob, accountId=A2, roleName="Admin")["roleCredentials"]
    code, status, message = fails(client(server, "sso-admin", elsewhere).list_instances)
    assert (code, status) == ("AccessDeniedException", 400) and f"account {ACCOUNT}" in message
    assert client(server, "sts", elsewhere).get_caller_identity()["Account"] == A2
    # long-term credentials answer GetCallerIdentity too: the bootstrap admin is the account root
    root = make_admin_client(server, "sts").get_caller_identity()
    assert (root["Arn"], root["UserId"]) == (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    log = (server.data_dir.parent / "server.log").read_text()
    for secret in (alice, bob, creds["secretAccessKey"], creds["sessionToken"], bob_creds["sessionToken"]):
        assert secret not in log


def test_refusals_are_modelled_and_mint_nothing(server: LiveServer) -> None:
    sso = portal(server)
    tokens = login(server)
    alice = tokens["accessToken"]
    minted = server.count("session_credentials")
    scopeless = login(server, scopes=["openid"])["accessToken"]
    for bearer in ("not-a-token", tokens["refreshToken"], altered(alice, 2), scopeless):
        for call, kw in (
            (sso.list_accounts, {}),
            (sso.list_account_roles, {"accountId": A1}),
            (sso.get_role_credentials, {"accountId": A1, "roleName": "Operator"}),
        ):
            assert fails(call, accessToken=bearer, **kw) == (
                "UnauthorizedException",
                401,
                "Session token not found or invalid",
            )
    for account, role in ((A1, "Admin"), (A2, "Operator"), ("999999999999", "Operator")):
        assert fails(sso.get_role_credentials, accessToken=alice, accountId=account, roleName=role) == (
            "ForbiddenException",
            403,
            "No access",
        )
    assert sso.list_account_roles(accessToken=alice, accountId=A2)["roleList"] == []
    assert server.count("session_credentials") == minted
    # Logout ends the login; credentials already issued keep working until they expire
    creds = sso.get_role_credentials(accessToken=alice, accountId=A1, roleName="Operator")["roleCredentials"]
    sso.logout(accessToken=alice)
    assert fails(sso.list_accounts, accessToken=alice)[0] == "UnauthorizedException"
    assert client(server, "sts", creds).get_caller_identity()["Account"] == A1
    # a session token that belongs to another key, or none
    other = sso.get_role_credentials(
        accessToken=login(server)["accessToken"], accountId=A1, roleName="Operator"
    )["roleCredentials"]
    for token in (other["sessionToken"], None):
        sts = client(server, "sts", {**creds, "sessionToken": token})
        assert fails(sts.get_caller_identity)[:2] == ("InvalidClientTokenId", 403)
        assert fails(client(server, "sso-admin", {**creds, "sessionToken": token}).list_instances)[:2] == (
            "UnrecognizedClientException",
            403,
        )


def test_botocores_sso_credential_provider_on_an_sso_session_profile(
    server: LiveServer, tmp_path: Path
) -> None:
    """botocore reads the CLI's token cache (``~/.aws/sso/cache/<sha1 of the session name>.json``), calls
    GetRoleCredentials through ``AWS_ENDPOINT_URL_SSO`` and signs with what it got."""
    tokens = login(server)
    home = sso_home(server, tokens, tmp_path / "home")
    env = profile_env(home) | {
        f"AWS_ENDPOINT_URL_{s}": server.url for s in ("SSO", "SSO_OIDC", "STS", "SSO_ADMIN")
    }
    out = run_profile(env, "operator")
    role = permission_set_role_name("Operator", OPERATOR.arn)
    assert out == {
        "method": "sso",
        "asia": True,
        "arn": f"arn:aws:sts::{A1}:assumed-role/{role}/alice",
        "instances": [INSTANCE_ARN],
    }, out
    # a role the user does not have: botocore surfaces the portal's ForbiddenException
    (home / ".aws" / "config").write_text(
        (home / ".aws" / "config").read_text()
        + f"\n[profile admin]\nsso_session = {SESSION}\nsso_account_id = {A1}\nsso_role_name = {ADMIN.name}\n"
    )
    assert run_profile(env, "admin") == {"error": "ForbiddenException"}


PROFILE_SCRIPT = """
import json, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
one = Config(retries={"total_max_attempts": 1})
profile = boto3.Session(profile_name=sys.argv[1])
try:
    creds = profile.get_credentials().get_frozen_credentials()
except ClientError as exc:
    print(json.dumps({"error": exc.response["Error"]["Code"]}))
    raise SystemExit(0)
method = profile.get_credentials().method
who = profile.client("sts", config=one).get_caller_identity()
instances = profile.client("sso-admin", config=one).list_instances()["Instances"]
print(json.dumps({"method": method, "asia": creds.access_key.startswith("ASIA"), "arn": who["Arn"],
                  "instances": [i["InstanceArn"] for i in instances]}))
"""


def run_profile(env: dict[str, str], profile: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", PROFILE_SCRIPT, profile], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose session credentials live 2 seconds (``SSOIDC_SESSION_CREDENTIALS_MAX_TTL``) and access
    tokens 3 (``SSOIDC_ACCESS_TOKEN_TTL``)."""
    with running_server(
        tmp_path_factory.mktemp("portal-short"),
        extra_env={"SSOIDC_SESSION_CREDENTIALS_MAX_TTL": "2", "SSOIDC_ACCESS_TOKEN_TTL": "3"},
    ) as s:
        plant_access(s)
        yield s


def test_expired_session_credentials_are_expired_token(short_lived: LiveServer) -> None:
    alice = login(short_lived)["accessToken"]
    creds = portal(short_lived).get_role_credentials(accessToken=alice, accountId=A1, roleName="Operator")[
        "roleCredentials"
    ]
    assert creds["expiration"] / 1000 <= time.time() + 2
    sts, admin = client(short_lived, "sts", creds), client(short_lived, "sso-admin", creds)
    deadline = time.monotonic() + 10
    while True:  # poll until the 2 seconds are over
        try:
            sts.get_caller_identity()
        except ClientError:
            break
        assert time.monotonic() < deadline, "the session credentials never expired"
        time.sleep(0.2)
    assert fails(sts.get_caller_identity) == (
        "ExpiredToken",
        403,
        "The security token included in the request is expired",
    )
    assert fails(admin.list_instances)[:2] == ("ExpiredTokenException", 403)


def test_an_expired_bearer_is_unauthorized_and_mints_nothing(short_lived: LiveServer) -> None:
    tokens = login(short_lived)
    assert tokens["expiresIn"] == 3
    sso = portal(short_lived)
    deadline = time.monotonic() + 10
    while True:  # poll until the 3 seconds are over
        try:
            sso.list_accounts(accessToken=tokens["accessToken"])
        except ClientError:
            break
        assert time.monotonic() < deadline, "the access token never expired"
        time.sleep(0.2)
    minted = short_lived.count("session_credentials")
    assert fails(
        sso.get_role_credentials, accessToken=tokens["accessToken"], accountId=A1, roleName="Operator"
    )[:2] == ("UnauthorizedException", 401)
    assert fails(sso.list_accounts, accessToken=tokens["accessToken"])[:2] == ("UnauthorizedException", 401)
    assert short_lived.count("session_credentials") == minted

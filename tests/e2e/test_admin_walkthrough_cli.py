"""Acceptance: the trusted identity propagation setup built with AWS CLI subprocesses, then used by the CLI.

Operations driven through ``aws`` (both CLIs, as ``tests/e2e/test_aws_cli.py`` runs them: v1 from the venv, v2
from Debian with ``AWS_DATA_PATH`` pointing at the pinned botocore models, which its bundled ones predate):
sso-admin ListInstances, CreateTrustedTokenIssuer, CreateApplication, PutApplicationGrant,
PutApplicationAuthenticationMethod, PutApplicationAccessScope, CreateApplicationAssignment, ListApplications,
GetApplicationGrant, GetApplicationAuthenticationMethod; identitystore CreateUser, CreateGroup,
CreateGroupMembership, GetUserId; sso-oidc CreateTokenWithIAM (JWT bearer, then token exchange).

Each CLI gets its own server. Before the walkthrough the file configuration's applications and trusted token
issuer are removed with boto3 (preparation, not under test), because the new issuer reuses the demo issuer's URL,
which must be unique in the instance.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import V1_AWS, V2_AWS, data_path, proxy_env
from tests.helpers.clients import decode_unverified, make_admin_client
from tests.helpers.config import ACCESS_TYPE, ACCOUNT, AUDIENCE, JWT_BEARER, TOKEN_EXCHANGE, allow_account
from tests.helpers.servers import LiveServer, running_server

CUSTOM = "arn:aws:sso::aws:applicationProvider/custom"
EMAIL = "cli-walker@example.org"


class Aws:
    """One AWS CLI, run against one server with the bootstrap admin credential."""

    def __init__(self, exe: Path, server: LiveServer, env: dict[str, str], name: str) -> None:
        self.name = name
        self.exe = exe
        self.server = server
        self.env = server.aws_env() | {"AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": "", **proxy_env()} | env

    def run(self, service: str, op: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(self.exe), service, op, *args, "--endpoint-url", self.server.url, "--output", "json"]
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60)

    def __call__(self, service: str, op: str, *args: str) -> dict[str, Any]:
        proc = self.run(service, op, *args)
        assert proc.returncode == 0, f"aws {service} {op} exited {proc.returncode}: {proc.stderr}"
        out: dict[str, Any] = json.loads(proc.stdout) if proc.stdout.strip() else {}
        return out


def clear_file_configuration(server: LiveServer) -> None:
    sso = make_admin_client(server, "sso-admin")
    for app in sso.list_applications(InstanceArn=server.instance_arn)["Applications"]:
        sso.delete_application(ApplicationArn=app["ApplicationArn"])
    for t in sso.list_trusted_token_issuers(InstanceArn=server.instance_arn)["TrustedTokenIssuers"]:
        sso.delete_trusted_token_issuer(TrustedTokenIssuerArn=t["TrustedTokenIssuerArn"])


@pytest.fixture(params=["v1", "v2"])
def aws(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Aws]:
    if request.param == "v1":
        if not V1_AWS.exists():
            pytest.fail(f"{V1_AWS} is missing: run make install (awscli is a dev dependency)")
        exe, env = V1_AWS, {}
    else:
        if not V2_AWS.exists():
            pytest.fail(f"{V2_AWS} (AWS CLI v2) is missing: run make system-deps")
        exe, env = V2_AWS, {"AWS_DATA_PATH": str(data_path(tmp_path / "aws-data"))}
    with running_server(tmp_path / "server") as server:
        clear_file_configuration(server)
        yield Aws(exe, server, env, request.param)


ACTOR_POLICY = allow_account(f"arn:aws:iam::{ACCOUNT}:root")


def test_walkthrough(aws: Aws) -> None:
    """CLI v1 runs the whole setup (two applications, token exchange, read-backs); v2, whose every call costs
    about twice as long, the one-application core (every argument style: --cli-input-json, inline JSON,
    shorthand, a document-typed member)."""
    full = aws.name == "v1"
    server = aws.server
    (instance,) = aws("sso-admin", "list-instances")["Instances"]
    instance_arn, store_id = instance["InstanceArn"], instance["IdentityStoreId"]
    assert instance_arn == server.instance_arn

    # a modelled error reaches the CLI as such (exit status, code and operation on stderr) and changes nothing
    proc = aws.run(
        "sso-admin", "create-application", "--instance-arn", instance_arn,
        "--application-provider-arn", "arn:aws:sso::aws:applicationProvider/nonexistent", "--name", "x",
    )  # fmt: skip
    assert proc.returncode == (255 if aws.name == "v1" else 254), proc
    assert proc.stdout == ""
    assert "An error occurred (ResourceNotFoundException) when calling the CreateApplication operation" in (
        proc.stderr
    )

    tti = aws(
        "sso-admin", "create-trusted-token-issuer",
        "--instance-arn", instance_arn,
        "--name", "cli-idp",
        "--trusted-token-issuer-type", "OIDC_JWT",
        "--trusted-token-issuer-configuration",
        json.dumps({
            "OidcJwtConfiguration": {
                "IssuerUrl": server.issuer_url,
                "ClaimAttributePath": "email",
                "IdentityStoreAttributePath": "emails.value",
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
            }
        }),
    )["TrustedTokenIssuerArn"]  # fmt: skip

    def new_app(name: str) -> str:
        out = aws(
            "sso-admin", "create-application",
            "--instance-arn", instance_arn, "--application-provider-arn", CUSTOM, "--name", name,
        )  # fmt: skip
        return str(out["ApplicationArn"])

    client_app = new_app("cli-client")
    target_app = new_app("cli-target") if full else ""
    jwt_grant = {
        "JwtBearer": {
            "AuthorizedTokenIssuers": [{"TrustedTokenIssuerArn": tti, "AuthorizedAudiences": [AUDIENCE]}]
        }
    }
    aws(
        "sso-admin", "put-application-grant", "--cli-input-json",
        json.dumps({"ApplicationArn": client_app, "GrantType": JWT_BEARER, "Grant": jwt_grant}),
    )  # fmt: skip
    aws(
        "sso-admin", "put-application-authentication-method", "--cli-input-json",
        json.dumps({
            "ApplicationArn": client_app,
            "AuthenticationMethodType": "IAM",
            "AuthenticationMethod": {"Iam": {"ActorPolicy": ACTOR_POLICY}},
        }),
    )  # fmt: skip
    if full:
        aws(
            "sso-admin", "put-application-grant", "--application-arn", client_app,
            "--grant-type", "refresh_token", "--grant", '{"RefreshToken": {}}',
        )  # fmt: skip
        aws(
            "sso-admin", "put-application-grant", "--application-arn", target_app,
            "--grant-type", TOKEN_EXCHANGE, "--grant", '{"TokenExchange": {}}',
        )  # fmt: skip
        aws(
            "sso-admin", "put-application-authentication-method", "--application-arn", target_app,
            "--authentication-method-type", "IAM",
            "--authentication-method", json.dumps({"Iam": {"ActorPolicy": ACTOR_POLICY}}),
        )  # fmt: skip
        aws(
            "sso-admin", "put-application-access-scope", "--application-arn", client_app,
            "--scope", "records:read", "--authorized-targets", target_app,
        )  # fmt: skip

    user_id = aws(
        "identitystore", "create-user", "--identity-store-id", store_id,
        "--user-name", "cli-walker", "--display-name", "CLI Walker",
        "--name", "GivenName=Cli,FamilyName=Walker",
        "--emails", json.dumps([{"Value": EMAIL, "Type": "work", "Primary": True}]),
    )["UserId"]  # fmt: skip
    group_id = aws(
        "identitystore", "create-group", "--identity-store-id", store_id, "--display-name", "cli-walkers"
    )["GroupId"]
    aws(
        "identitystore", "create-group-membership", "--identity-store-id", store_id,
        "--group-id", group_id, "--member-id", f"UserId={user_id}",
    )  # fmt: skip
    for app in (client_app, target_app) if full else (client_app,):
        aws(
            "sso-admin", "create-application-assignment", "--application-arn", app,
            "--principal-id", group_id, "--principal-type", "GROUP",
        )  # fmt: skip

    if full:  # what the CLI reads back is what it wrote (and the rejected call left nothing behind)
        apps = aws("sso-admin", "list-applications", "--instance-arn", instance_arn)["Applications"]
        assert {a["ApplicationArn"] for a in apps} == {client_app, target_app}
        got = aws(
            "sso-admin", "get-application-grant", "--application-arn", client_app, "--grant-type", JWT_BEARER
        )
        assert got["Grant"] == jwt_grant
        got = aws(
            "sso-admin", "get-application-authentication-method",
            "--application-arn", client_app, "--authentication-method-type", "IAM",
        )  # fmt: skip
        assert got["AuthenticationMethod"] == {"Iam": {"ActorPolicy": ACTOR_POLICY}}

    tokens = aws(
        "sso-oidc", "create-token-with-iam", "--client-id", client_app,
        "--grant-type", JWT_BEARER, "--assertion", server.assertion(EMAIL),
    )  # fmt: skip
    claims = decode_unverified(tokens["idToken"])
    assert claims["sub"] == user_id
    assert claims["aud"] == client_app
    assert claims["act"]["sub"] == tti
    assert ("refreshToken" in tokens) is full  # only v1's client application got the RefreshToken grant

    if full:
        exchanged = aws(
            "sso-oidc", "create-token-with-iam", "--client-id", target_app, "--grant-type", TOKEN_EXCHANGE,
            "--subject-token", tokens["accessToken"], "--subject-token-type", ACCESS_TYPE,
        )  # fmt: skip
        target_claims = decode_unverified(exchanged["idToken"])
        assert (target_claims["sub"], target_claims["aud"]) == (user_id, target_app)
        assert target_claims["act"] == {"sub": client_app, "act": {"sub": tti}}

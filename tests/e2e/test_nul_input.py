"""A NUL character (U+0000) in any client input is a client mistake: a 4xx in the operation's own shape, the same
on both stores, and nothing written. PostgreSQL's text cannot hold NUL (SQLite can), so before it was refused at
the wire a NUL reached the store there and came back as a 500.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_authorize_http import get, hidden, params
from tests.helpers.clients import make_admin_client, make_client
from tests.helpers.config import JWT_BEARER, ROOT
from tests.helpers.servers import LiveServer, both_stores


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> LiveServer:
    return both_stores(request)


def code_of(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call()
    resp = err.value.response
    return str(resp["Error"]["Code"]), int(resp["ResponseMetadata"]["HTTPStatusCode"])


def test_admin_strings_and_policy_documents(server: LiveServer) -> None:
    before = server.configuration()
    sso = make_admin_client(server, "sso-admin")
    ids = make_admin_client(server, "identitystore")
    store_id = sso.list_instances()["Instances"][0]["IdentityStoreId"]
    assert code_of(
        lambda: ids.create_user(
            IdentityStoreId=store_id,
            UserName="nul-user",
            DisplayName="Nul\x00User",
            Name={"GivenName": "Nul", "FamilyName": "User"},
        )
    ) == ("ValidationException", 400)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sso-oauth:*",
              "Principal": {"AWS": "123456789012"}, "Resource": "*", "Sid": "a\x00b"}]}  # fmt: skip
    assert code_of(
        lambda: sso.put_application_authentication_method(
            ApplicationArn=server.apps["main"],
            AuthenticationMethodType="IAM",
            AuthenticationMethod={"Iam": {"ActorPolicy": policy}},
        )
    ) == ("ValidationException", 400)
    assert server.configuration() == before


def test_assertion_jti_with_nul(server: LiveServer) -> None:
    assertion = server.assertion(jti="replay\x00me")
    assert code_of(
        lambda: make_client(server).create_token_with_iam(
            clientId=server.apps["main"], grantType=JWT_BEARER, assertion=assertion
        )
    ) == ("InvalidGrantException", 400)
    # The JavaScript SDK gets the same answer.
    script = (
        "const {SSOOIDCClient, CreateTokenWithIAMCommand} = require('@aws-sdk/client-sso-oidc');"
        "const [url, app, assertion] = process.argv.slice(1);"
        "new SSOOIDCClient({endpoint: url, region: 'us-east-1', maxAttempts: 1}).send(new CreateTokenWithIAMCommand("
        "{clientId: app, grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion}))"
        ".then(() => console.log(JSON.stringify({ok: true})),"
        " e => console.log(JSON.stringify({name: e.name, status: e.$metadata.httpStatusCode})));"
    )
    out = subprocess.run(
        ["node", "-e", script, server.url, server.apps["main"], server.assertion(jti="js\x00jti")],
        env={**server.aws_env(), "NODE_PATH": str(ROOT / "tests" / "node" / "node_modules")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(out.stdout) == {"name": "InvalidGrantException", "status": 400}


def test_sign_in_name_with_nul(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as c:
        page = get(server, params(server), c)
        data = {
            "request": hidden(page.text, "request"),
            "csrf_token": hidden(page.text, "csrf_token"),
            "username": "ali\x00ce",
            "password": "whatever-it-is",
        }
        r = c.post("/authorize/signin", data=data)
        assert r.status_code == 401
        assert "Incorrect username or password." in r.text

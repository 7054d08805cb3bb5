"""The full grant chain through the AWS CLI (v1 and v2) and the AWS SDK for JavaScript v3.

JWT bearer, then refresh twice (rotating), then token exchange into the second application with both requested
token types; and authorization-code redemption with PKCE.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from tests.e2e.test_aws_cli import Cli, v1, v2, v2_data_path  # noqa: F401 - fixtures
from tests.e2e.test_aws_cli import cli as cli
from tests.e2e.test_js_sdk import Result, create_token, node  # noqa: F401 - fixtures
from tests.helpers.clients import decode_unverified
from tests.helpers.config import ACCESS_TYPE, JWT_BEARER, REDIRECT_URI, REFRESH_TYPE, TOKEN_EXCHANGE
from tests.helpers.servers import LiveServer


def check_chain(server: LiveServer, call: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    first = call({"clientId": server.apps["main"], "grantType": JWT_BEARER, "assertion": server.assertion()})
    second = call(
        {"clientId": server.apps["main"], "grantType": "refresh_token", "refreshToken": first["refreshToken"]}
    )
    third = call(
        {
            "clientId": server.apps["main"],
            "grantType": "refresh_token",
            "refreshToken": second["refreshToken"],
        }
    )
    assert len({first["refreshToken"], second["refreshToken"], third["refreshToken"]}) == 3
    assert third["issuedTokenType"] == REFRESH_TYPE
    assert decode_unverified(third["idToken"])["sub"] == server.users["alice"]
    exchange = {
        "clientId": server.apps["target"],
        "grantType": TOKEN_EXCHANGE,
        "subjectToken": third["accessToken"],
        "subjectTokenType": ACCESS_TYPE,
    }
    as_access = call({**exchange, "requestedTokenType": ACCESS_TYPE})
    assert as_access["issuedTokenType"] == ACCESS_TYPE
    assert "refreshToken" not in as_access
    assert decode_unverified(as_access["idToken"])["aud"] == server.apps["target"]
    as_refresh = call({**exchange, "requestedTokenType": REFRESH_TYPE})
    assert as_refresh["issuedTokenType"] == REFRESH_TYPE
    assert as_refresh["refreshToken"].startswith("aor")

    verifier = secrets.token_urlsafe(48)[:64]
    code = server.mint_code(verifier=verifier)
    redeemed = call(
        {
            "clientId": server.apps["web"],
            "grantType": "authorization_code",
            "code": code,
            "redirectUri": REDIRECT_URI,
            "codeVerifier": verifier,
        }
    )
    assert redeemed["refreshToken"].startswith("aor")
    assert decode_unverified(redeemed["idToken"])["aud"] == server.apps["web"]


def test_chain_through_the_aws_cli(server: LiveServer, cli: Cli) -> None:
    def call(request: dict[str, Any]) -> dict[str, Any]:
        out = cli.ok(server, "--cli-input-json", json.dumps(request), "--output", "json")
        body: dict[str, Any] = json.loads(out)
        return body

    check_chain(server, call)


def test_chain_through_the_js_sdk(server: LiveServer, create_token: Callable[..., Result]) -> None:  # noqa: F811
    def call(request: dict[str, Any]) -> dict[str, Any]:
        result = create_token(request)
        assert result.returncode == 0, result.body
        return result.body

    check_chain(server, call)

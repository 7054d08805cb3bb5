"""CreateTokenWithIAM with the JWT-bearer grant through boto3 against a live server."""

from __future__ import annotations

import time
from typing import Any

import boto3
import httpx
import jwt
import pytest

from ssoidc.aws.models import operation
from ssoidc.oauth.tokens import TokenMinter
from tests.helpers.clients import decode_unverified, race
from tests.helpers.config import JWT_BEARER
from tests.helpers.pg import pg_fetchval
from tests.helpers.servers import LiveServer, both_stores


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> LiveServer:
    """Every grant test runs against both stores (issue: PostgreSQL and many nodes)."""
    return both_stores(request)


def test_happy_path_members_match_model(server: LiveServer, oidc: Any) -> None:
    resp = oidc.create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
    )
    body = {k: v for k, v in resp.items() if k != "ResponseMetadata"}
    model = operation("sso-oidc", "CreateTokenWithIAM").output_shape
    assert set(body) <= set(model.members)
    assert set(body) == {
        "accessToken",
        "tokenType",
        "expiresIn",
        "refreshToken",
        "idToken",
        "issuedTokenType",
        "scope",
        "awsAdditionalDetails",
    }
    assert body["tokenType"] == "Bearer"
    assert body["expiresIn"] == 3600
    assert body["accessToken"].startswith("aoa")
    assert body["refreshToken"].startswith("aor")
    assert body["issuedTokenType"] == "urn:ietf:params:oauth:token-type:refresh_token"
    assert body["scope"] == ["sts:identity_context", "data:read", "data:write", "openid", "aws"]
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_id_token_verifies_against_published_jwks(server: LiveServer, oidc: Any) -> None:
    before = int(time.time())
    resp = oidc.create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
    )
    instance_id = server.instance_arn.rsplit("/", 1)[1]
    issuer = f"{server.url}/{instance_id}"
    disc = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    assert disc["issuer"] == issuer
    keys = jwt.PyJWKSet.from_dict(httpx.get(disc["jwks_uri"]).json())
    kid = jwt.get_unverified_header(resp["idToken"])["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    claims = jwt.decode(
        resp["idToken"], key.key, algorithms=["ES256"], audience=server.apps["main"], issuer=issuer
    )
    assert claims["sub"] == server.users["alice"]
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["iat"] >= before
    assert claims["aws:application_arn"] == server.apps["main"]
    assert claims["aws:instance_arn"] == server.instance_arn
    assert claims["aws:instance_account"] == "123456789012"
    assert claims["aws:identity_store_id"].startswith("d-")
    assert claims["aws:identity_store_arn"].endswith("/" + claims["aws:identity_store_id"])
    assert claims["act"]["sub"].startswith("arn:aws:sso::123456789012:trustedTokenIssuer/")
    assert time.strptime(claims["auth_time"], "%Y-%m-%dT%H:%M:%SZ")
    assert claims["sts:identity_context"] == resp["awsAdditionalDetails"]["identityContext"]


def test_identity_context_verifies_and_names_the_user(server: LiveServer, oidc: Any) -> None:
    resp = oidc.create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
    )
    minter = TokenMinter(server.master_key)
    ctx = minter.open_identity_context(resp["awsAdditionalDetails"]["identityContext"])
    assert ctx["sub"] == server.users["alice"]
    assert ctx["app"] == server.apps["main"]
    blob = resp["awsAdditionalDetails"]["identityContext"]
    tampered = blob[:10] + ("A" if blob[10] != "A" else "B") + blob[11:]
    with pytest.raises(ValueError):
        minter.open_identity_context(tampered)


def test_group_assignment_admits_member(server: LiveServer, oidc: Any) -> None:
    resp = oidc.create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion("bob@example.com")
    )
    assert decode_unverified(resp["idToken"])["sub"] == server.users["bob"]


def test_no_refresh_grant_means_no_refresh_token(server: LiveServer, oidc: Any) -> None:
    resp = oidc.create_token_with_iam(
        clientId=server.apps["no-refresh"],
        grantType=JWT_BEARER,
        assertion=server.assertion("carol@example.com"),
    )
    assert "refreshToken" not in resp
    assert resp["issuedTokenType"] == "urn:ietf:params:oauth:token-type:access_token"


def test_requested_scopes_narrow(server: LiveServer, oidc: Any) -> None:
    resp = oidc.create_token_with_iam(
        clientId=server.apps["main"],
        grantType=JWT_BEARER,
        assertion=server.assertion(),
        scope=["openid", "data:read"],
    )
    assert resp["scope"] == ["openid", "data:read"]


def test_parallel_replay_of_one_jti_yields_exactly_one_token(server: LiveServer) -> None:
    assertion = server.assertion()
    tokens_before = server.count("tokens")
    results = race(server, clientId=server.apps["main"], grantType=JWT_BEARER, assertion=assertion)
    assert results.count("ok") == 1
    assert results.count("InvalidGrantException") == 49
    assert server.count("tokens") == tokens_before + 2  # one access + one refresh token


def test_boto3_from_environment_endpoint(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in server.aws_env().items():
        monkeypatch.setenv(k, v)
    client = boto3.session.Session().client("sso-oidc")
    resp = client.create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
    )
    assert resp["accessToken"].startswith("aoa")


def test_tokens_are_stored_only_as_hashes(server: LiveServer, oidc: Any) -> None:
    resp = oidc.create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
    )
    if server.database_url:  # every row of every table of the schema, as text
        tables = pg_fetchval(
            server.database_url,
            "SELECT string_agg(table_name, ',') FROM information_schema.tables WHERE table_schema = current_schema()",
        ).split(",")
        assert "tokens" in tables
        raw = "\n".join(
            pg_fetchval(
                server.database_url, f"SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM \"{t}\" t"
            )
            for t in tables
        ).encode()
    else:
        raw = b"".join(p.read_bytes() for p in server.data_dir.iterdir() if p.name.startswith("ssoidc.db"))
    assert len(raw) > 1000  # the dump really holds the store
    for secret in (resp["accessToken"], resp["refreshToken"], resp["idToken"]):
        assert secret.encode() not in raw
        assert secret.split(":")[0].encode() not in raw

"""Every failure of CreateTokenWithIAM: the modelled error, no 5xx, nothing issued, nothing consumed.

After each rejected request the same user gets a token with a fresh assertion, proving the failure consumed
nothing that should survive.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helpers.clients import make_client, post_token
from tests.helpers.config import ACCOUNT, JWT_BEARER, OTHER_ACCOUNT
from tests.helpers.servers import LiveServer, create_credential
from tests.helpers.text import altered

OIDC_NS = "http://internal.amazon.com/coral/com.amazonaws.sso.oidc/"


@pytest.fixture()
def unchanged(server: LiveServer) -> Iterator[Callable[[], None]]:
    """Snapshot token and jti counts; the test calls the returned check after its failing request."""
    before = (server.count("tokens"), server.count("used_jtis"))

    def check() -> None:
        assert (server.count("tokens"), server.count("used_jtis")) == before, (
            "a failed request wrote something"
        )

    yield check


def expect(client: Any, code: str, status: int, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        client.create_token_with_iam(**params)
    err = info.value
    assert type(err).__name__ == code, f"boto3 raised {type(err).__name__}: {err}"
    assert err.response["Error"]["Code"] == code
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == status
    return dict(err.response)


def expect_jwt(
    client: Any,
    server: LiveServer,
    code: str,
    status: int,
    app: str = "main",
    *,
    client_id: str | None = None,
    assertion: str | None = None,
    **params: Any,
) -> dict[str, Any]:
    """``expect`` a JWT-bearer request to ``app`` (or to ``client_id``) with ``assertion`` (default: a fresh,
    valid one for alice)."""
    return expect(
        client,
        code,
        status,
        clientId=server.apps[app] if client_id is None else client_id,
        grantType=JWT_BEARER,
        assertion=server.assertion() if assertion is None else assertion,
        **params,
    )


def still_works(server: LiveServer, oidc: Any, email: str = "alice@example.com", app: str = "main") -> None:
    resp = oidc.create_token_with_iam(
        clientId=server.apps[app], grantType=JWT_BEARER, assertion=server.assertion(email)
    )
    assert resp["accessToken"].startswith("aoa")


def other_key_token(claims: dict[str, Any]) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "attacker"})


def base_claims(server: LiveServer) -> dict[str, Any]:
    return jwt.decode(server.assertion(), options={"verify_signature": False})


JWT_FAILURES: dict[str, Callable[[LiveServer], str]] = {
    "expired": lambda s: s.assertion(exp=int(time.time()) - 600, iat=int(time.time()) - 900, nbf=None),
    "not-yet-valid": lambda s: s.assertion(nbf=int(time.time()) + 600),
    "issued-in-future": lambda s: s.assertion(iat=int(time.time()) + 600),
    "missing-jti": lambda s: s.assertion(jti=None),
    "missing-exp": lambda s: s.assertion(exp=None),
    "untrusted-issuer": lambda s: s.assertion(iss="https://evil.example.com"),
    "issuer-trailing-slash": lambda s: s.assertion(iss=s.issuer_url + "/"),
    "audience-not-authorized": lambda s: s.assertion(aud="someone-else"),
    "audience-list-not-authorized": lambda s: s.assertion(aud=["x", "y"]),
    "no-claim-attribute": lambda s: s.assertion(email=None),
    "claim-not-a-string": lambda s: s.assertion(email=["alice@example.com"]),
    "no-matching-user": lambda s: s.assertion("nobody@example.com"),
    "several-matching-users": lambda s: s.assertion("dup@example.com"),
    "bad-signature": lambda s: (
        s.assertion()[:-6] + ("AAAAAA" if not s.assertion().endswith("AAAAAA") else "BBBBBB")
    ),
    "foreign-key-same-kid": lambda s: jwt.encode(
        base_claims(s),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": jwt.get_unverified_header(s.assertion())["kid"]},
    ),
    "unknown-kid": lambda s: other_key_token(base_claims(s)),
    "alg-none": lambda s: jwt.encode(base_claims(s), None, algorithm="none"),  # type: ignore[arg-type]
    "alg-hs256": lambda s: jwt.encode(
        base_claims(s), "secret-secret-secret-secret-secret!", algorithm="HS256"
    ),
    "not-a-jwt": lambda s: "not-a-jwt",
    "two-parts": lambda s: ".".join(s.assertion().split(".")[:2]),
}


@pytest.mark.parametrize("case", sorted(JWT_FAILURES))
def test_jwt_bearer_failures_are_invalid_grant(
    case: str, server: LiveServer, oidc: Any, unchanged: Callable[[], None]
) -> None:
    assertion = JWT_FAILURES[case](server)
    resp = expect_jwt(oidc, server, "InvalidGrantException", 400, assertion=assertion)
    assert resp["error"] == "invalid_grant"
    assert resp["error_description"]
    assert assertion not in json.dumps(resp)
    unchanged()
    still_works(server, oidc)


def test_replayed_jti_is_invalid_grant_and_names_the_cause(server: LiveServer, oidc: Any) -> None:
    assertion = server.assertion()
    oidc.create_token_with_iam(clientId=server.apps["main"], grantType=JWT_BEARER, assertion=assertion)
    tokens = server.count("tokens")
    resp = expect_jwt(oidc, server, "InvalidGrantException", 400, assertion=assertion)
    assert "already been used" in resp["error_description"]
    assert server.count("tokens") == tokens


def test_unassigned_user_is_access_denied_with_reason(
    server: LiveServer, oidc: Any, unchanged: Callable[[], None]
) -> None:
    resp = expect_jwt(
        oidc, server, "AccessDeniedException", 400, assertion=server.assertion("carol@example.com")
    )
    assert resp["error"] == "access_denied"
    assert "not assigned" in resp["error_description"]
    unchanged()
    still_works(
        server, oidc, "carol@example.com", app="no-refresh"
    )  # carol is fine where assignment is optional


def test_missing_assertion_is_invalid_request(
    server: LiveServer, oidc: Any, unchanged: Callable[[], None]
) -> None:
    expect(oidc, "InvalidRequestException", 400, clientId=server.apps["main"], grantType=JWT_BEARER)
    unchanged()


def test_unknown_client_is_invalid_client_401(
    server: LiveServer, oidc: Any, unchanged: Callable[[], None]
) -> None:
    bogus = altered(server.apps["main"], 4)
    expect_jwt(oidc, server, "InvalidClientException", 401, client_id=bogus)
    expect_jwt(oidc, server, "InvalidClientException", 401, client_id="not-an-arn")
    unchanged()


def test_disabled_application_is_invalid_client(
    server: LiveServer, oidc: Any, unchanged: Callable[[], None]
) -> None:
    expect_jwt(oidc, server, "InvalidClientException", 401, "disabled")
    unchanged()


def test_unsupported_grant_type(server: LiveServer, oidc: Any, unchanged: Callable[[], None]) -> None:
    for grant in ("password", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code", ""):
        expect(oidc, "UnsupportedGrantTypeException", 400, clientId=server.apps["main"], grantType=grant)
    unchanged()


def test_grant_not_configured_is_unauthorized_client(
    server: LiveServer, oidc: Any, unchanged: Callable[[], None]
) -> None:
    expect(
        oidc,
        "UnauthorizedClientException",
        400,
        clientId=server.apps["no-refresh"],
        grantType="refresh_token",
        refreshToken="aorX",
    )
    expect_jwt(oidc, server, "UnauthorizedClientException", 400, "target")
    unchanged()


def test_scope_outside_application_is_invalid_scope(
    server: LiveServer, oidc: Any, unchanged: Callable[[], None]
) -> None:
    resp = expect_jwt(oidc, server, "InvalidScopeException", 400, scope=["openid", "admin:everything"])
    assert "admin:everything" in resp["error_description"]
    unchanged()
    still_works(server, oidc)


# -- policy denials --------------------------------------------------------------------------------------------


def test_application_without_actor_policy_denies_everyone(
    server: LiveServer, oidc: Any, unchanged: Callable[[], None]
) -> None:
    resp = expect_jwt(oidc, server, "AccessDeniedException", 400, "no-policy")
    assert "PutApplicationAuthenticationMethod" in resp["error_description"]
    unchanged()


def test_actor_policy_naming_another_account_denies_without_leaking_it(
    server: LiveServer, oidc: Any, unchanged: Callable[[], None]
) -> None:
    resp = expect_jwt(oidc, server, "AccessDeniedException", 400, "other-account-only")
    assert OTHER_ACCOUNT not in json.dumps(resp)
    assert f"arn:aws:iam::{ACCOUNT}:root" in resp["error_description"]  # the caller learns who it is
    assert "ActorPolicy" in resp["error_description"]
    unchanged()


def test_explicit_deny_for_role_session_wins(server: LiveServer, unchanged: Callable[[], None]) -> None:
    key, secret = create_credential(server, f"arn:aws:sts::{ACCOUNT}:assumed-role/Denied/session-1")
    client = make_client(server, aws_access_key_id=key, aws_secret_access_key=secret)
    resp = expect_jwt(client, server, "AccessDeniedException", 400)
    assert "explicit" in resp["error_description"].lower()
    unchanged()
    other_key, other_secret = create_credential(
        server, f"arn:aws:sts::{ACCOUNT}:assumed-role/Allowed/session-1"
    )
    allowed = make_client(server, aws_access_key_id=other_key, aws_secret_access_key=other_secret)
    still_works(server, allowed)


def test_identity_policy_on_credential_must_also_allow(
    server: LiveServer, tmp_path: Any, unchanged: Callable[[], None]
) -> None:
    policy = tmp_path / "deny.json"
    policy.write_text(json.dumps({"Statement": {"Effect": "Allow", "Action": "sso:*", "Resource": "*"}}))
    key, secret = create_credential(
        server, f"arn:aws:iam::{ACCOUNT}:user/limited", "--policy-file", str(policy)
    )
    client = make_client(server, aws_access_key_id=key, aws_secret_access_key=secret)
    resp = expect_jwt(client, server, "AccessDeniedException", 400)
    assert "identity policy" in resp["error_description"]
    unchanged()


def test_session_credentials_need_their_token(server: LiveServer, unchanged: Callable[[], None]) -> None:
    key, secret = create_credential(
        server, f"arn:aws:sts::{ACCOUNT}:assumed-role/Allowed/s2", "--session-token", "the-session-token"
    )
    for session_token in (None, "wrong"):  # without it, and a wrong one
        client = make_client(
            server, aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=session_token
        )
        with pytest.raises(ClientError) as info:
            client.create_token_with_iam(
                clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
            )
        assert info.value.response["Error"]["Code"] == "UnrecognizedClientException", session_token
    unchanged()
    right = make_client(
        server, aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token="the-session-token"
    )
    still_works(server, right)


# -- SigV4 failures, answered by the front end ------------------------------------------------------------------


def body_for(server: LiveServer) -> bytes:
    return json.dumps(
        {"clientId": server.apps["main"], "grantType": JWT_BEARER, "assertion": server.assertion()}
    ).encode()


def assert_frontend_error(resp: Any, code: str, status: int = 403) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["x-amzn-errortype"].split(":")[0] == code
    assert resp.headers["x-amzn-requestid"]
    assert "message" in resp.json()


def test_sigv4_failures(server: LiveServer, unchanged: Callable[[], None]) -> None:
    body = body_for(server)
    now = dt.datetime.now(dt.UTC)
    assert_frontend_error(post_token(server, body, secret="wrong-secret"), "InvalidSignatureException")
    assert_frontend_error(post_token(server, body, key="AKIAUNKNOWNKEY000000"), "UnrecognizedClientException")
    assert_frontend_error(post_token(server, body, region="eu-west-1"), "InvalidSignatureException")
    assert_frontend_error(post_token(server, body, service="sso"), "InvalidSignatureException")
    old = post_token(server, body, when=now - dt.timedelta(minutes=6))
    assert_frontend_error(old, "InvalidSignatureException")
    assert "Signature expired" in old.json()["message"]
    assert_frontend_error(
        post_token(server, body, when=now + dt.timedelta(minutes=6)), "InvalidSignatureException"
    )
    import httpx

    unsigned = httpx.post(
        f"{server.url}/token?aws_iam=t", content=body, headers={"content-type": "application/json"}
    )
    assert_frontend_error(unsigned, "MissingAuthenticationTokenException")
    garbage = httpx.post(
        f"{server.url}/token?aws_iam=t", content=body, headers={"authorization": "AWS4-HMAC-SHA256 x"}
    )
    assert_frontend_error(garbage, "IncompleteSignatureException")
    # a body changed after signing
    url = f"{server.url}/token?aws_iam=t"
    from tests.helpers.clients import sign_request

    headers = sign_request(url, body)
    assert_frontend_error(
        httpx.post(url, content=body.replace(b"main", b"mayn") + b" ", headers=headers),
        "InvalidSignatureException",
    )
    unchanged()


def test_wrong_region_names_the_region_the_server_serves(
    server: LiveServer, unchanged: Callable[[], None]
) -> None:
    """boto3 with another ``region_name`` (a first run with the user's own AWS_REGION): the same
    InvalidSignatureException as before, and the message says which region this server expects."""
    wrong = make_client(server, region_name="eu-west-1")
    with pytest.raises(ClientError) as info:  # not a modelled sso-oidc error: botocore's plain ClientError
        wrong.create_token_with_iam(
            clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
        )
    err = info.value.response
    assert err["Error"]["Code"] == "InvalidSignatureException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err["Error"]["Message"] == (
        "Credential should be scoped to a valid region: the credential scope names region 'eu-west-1';"
        " this server serves region 'us-east-1'."
    )
    unchanged()


def test_sigv4_within_skew_window_is_accepted(server: LiveServer) -> None:
    now = dt.datetime.now(dt.UTC)
    assert post_token(server, body_for(server), when=now - dt.timedelta(minutes=4)).status_code == 200


# -- malformed bodies -------------------------------------------------------------------------------------------

MALFORMED: dict[str, tuple[bytes, str]] = {
    "not-json": (b"{not json", "not valid JSON"),
    "array": (b"[]", "JSON object"),
    "missing-client-id": (json.dumps({"grantType": JWT_BEARER}).encode(), "clientId"),
    "missing-grant-type": (json.dumps({"clientId": "x"}).encode(), "grantType"),
    "client-id-number": (json.dumps({"clientId": 5, "grantType": JWT_BEARER}).encode(), "clientId"),
    "scope-not-list": (
        json.dumps({"clientId": "x", "grantType": JWT_BEARER, "scope": "openid"}).encode(),
        "scope",
    ),
    "scope-member-not-string": (
        json.dumps({"clientId": "x", "grantType": JWT_BEARER, "scope": [1]}).encode(),
        "scope[0]",
    ),
    "too-large": (
        json.dumps({"clientId": "x", "grantType": JWT_BEARER, "assertion": "a" * 70000}).encode(),
        "large",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_bodies_are_invalid_request(
    case: str, server: LiveServer, unchanged: Callable[[], None]
) -> None:
    body, needle = MALFORMED[case]
    resp = post_token(server, body)
    assert resp.status_code == 400, resp.text
    assert resp.headers["x-amzn-errortype"] == "InvalidRequestException:" + OIDC_NS
    doc = resp.json()
    assert doc["error"] == "invalid_request"
    assert needle in doc["error_description"]
    unchanged()


def test_unknown_members_are_ignored(server: LiveServer) -> None:
    doc = json.loads(body_for(server))
    doc["somethingNew"] = {"nested": True}
    assert post_token(server, json.dumps(doc).encode()).status_code == 200


def test_plain_token_route_is_never_create_token_with_iam(
    server: LiveServer, unchanged: Callable[[], None]
) -> None:
    body = body_for(server)
    for query in ("", "aws_iam=f", "aws_iam=T", "aws_iam"):
        resp = post_token(server, body, query=query)
        assert resp.status_code == 400
        assert resp.headers["x-amzn-errortype"].startswith("InvalidRequestException:")
        # the public-client operation CreateToken refuses it (no clientSecret, or a query parameter it does not
        # take), never CreateTokenWithIAM
        described = resp.json()["error_description"]
        assert (
            "clientSecret is required" in described or "'aws_iam' this operation does not take" in described
        )
    unchanged()


def test_error_bodies_are_compact_json_without_secrets(server: LiveServer) -> None:
    assertion = server.assertion(aud="nope")
    body = json.dumps(
        {"clientId": server.apps["main"], "grantType": JWT_BEARER, "assertion": assertion}
    ).encode()
    resp = post_token(server, body)
    assert resp.status_code == 400
    assert b": " not in resp.content
    assert assertion.encode() not in resp.content
    log = (server.data_dir.parent / "server.log").read_text()
    assert assertion not in log


def test_other_methods_and_paths_get_clear_json_errors(server: LiveServer) -> None:
    import httpx

    r = httpx.get(f"{server.url}/token?aws_iam=t")
    assert r.status_code == 405
    assert r.json() == {"message": "Method not allowed"}
    r = httpx.get(f"{server.url}/no/such/path")
    assert r.status_code == 404
    assert r.json() == {"message": "Not found"}
    r = httpx.get(f"{server.url}/ssoins-0000000000000000/.well-known/jwks.json")
    assert r.status_code == 404
    r = httpx.post(
        f"{server.url}/token?aws_iam=t", content=b"x" * 70000, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert "too large" in r.json()["error_description"]

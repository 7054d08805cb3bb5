"""Issue 13 items 6, 8, 9 and 11 (JWT/JWKS), through boto3 CreateTokenWithIAM and sso-admin on both stores.

* Sessions do not outlive what granted them: removing the trusted token issuer from the application's JwtBearer
  grant, or deleting it, ends the session at its next refresh (InvalidGrant, nothing issued, the family revoked);
  removing an access scope narrows the next refresh; an exchanged session ends when its source application stops
  authorizing the target.
* ssoidc's own idToken issuer, in any spelling, cannot be registered as a trusted token issuer (ValidationException,
  nothing created), while the demo issuer on the same server stays trusted.
* Assertions with unbounded lifetimes, old ``iat``, unverified e-mails, extra audiences, ``kid: null``, non-UTF-8
  payloads or our own ``iss`` are InvalidGrant, and consume nothing (no token, no ``jti``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ssoidc.base64url import b64u
from ssoidc.storage.base import TokenRecord
from tests.helpers.clients import make_admin_client, make_client
from tests.helpers.config import ACCESS_TYPE, ACCOUNT, JWT_BEARER, REFRESH_TYPE, TOKEN_EXCHANGE, allow_account
from tests.helpers.idp import CUSTOM_PROVIDER, IssuerApp, LocalIssuer, local_issuer, register, unregister
from tests.helpers.servers import LiveServer, both_stores

INVALID_GRANT = "InvalidGrantException"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> LiveServer:
    return both_stores(request)


@pytest.fixture()
def sso(server: LiveServer) -> Any:
    return make_admin_client(server, "sso-admin")


@pytest.fixture()
def idp() -> Iterator[LocalIssuer]:
    with local_issuer() as issuer:
        yield issuer


@pytest.fixture()
def made(server: LiveServer, sso: Any, idp: LocalIssuer) -> Iterator[IssuerApp]:
    m = register(sso, server.instance_arn, idp)
    yield m
    unregister(sso, m)


def failure(call: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"].get("Message", "")


def find(server: LiveServer, token: str) -> TokenRecord | None:
    digest = hashlib.sha256(token.encode()).digest()
    return server.with_store(lambda st: st.find_token(digest))


def state(server: LiveServer) -> tuple[int, int]:
    return server.count("tokens"), server.count("used_jtis")


def refresh(oidc: Any, app: str, token: str, **kw: Any) -> Any:
    return oidc.create_token_with_iam(clientId=app, grantType="refresh_token", refreshToken=token, **kw)


# -- item 6: sessions end with what granted them --------------------------------------------------------------------


@pytest.mark.parametrize("change", ["issuer-removed-from-grant", "issuer-deleted"])
def test_refresh_ends_when_the_trusted_token_issuer_goes(
    server: LiveServer, oidc: Any, sso: Any, idp: LocalIssuer, made: IssuerApp, change: str
) -> None:
    first = oidc.create_token_with_iam(clientId=made.app_arn, grantType=JWT_BEARER, assertion=idp.assertion())
    second = refresh(
        oidc, made.app_arn, first["refreshToken"]
    )  # refreshing works while the issuer is trusted
    assert "local:read" in second["scope"]

    sso.delete_application_grant(ApplicationArn=made.app_arn, GrantType=JWT_BEARER)
    if change == "issuer-deleted":
        sso.delete_trusted_token_issuer(TrustedTokenIssuerArn=made.issuer_arn)
    before = state(server)
    status, code, message = failure(lambda: refresh(oidc, made.app_arn, second["refreshToken"]))
    assert (status, code) == (400, INVALID_GRANT)
    assert "trusted token issuer" in message
    assert state(server) == before  # nothing issued
    record = find(server, second["accessToken"])
    assert record is not None and record.revoked_at is not None  # the family is revoked

    if change == "issuer-removed-from-grant":  # trusting the issuer again does not revive the ended session
        sso.put_application_grant(
            ApplicationArn=made.app_arn,
            GrantType=JWT_BEARER,
            Grant={
                "JwtBearer": {
                    "AuthorizedTokenIssuers": [
                        {"TrustedTokenIssuerArn": made.issuer_arn, "AuthorizedAudiences": ["local-aud"]}
                    ]
                }
            },
        )
        assert failure(lambda: refresh(oidc, made.app_arn, second["refreshToken"]))[1] == INVALID_GRANT
        assert state(server) == before
        fresh = oidc.create_token_with_iam(
            clientId=made.app_arn, grantType=JWT_BEARER, assertion=idp.assertion()
        )
        assert refresh(oidc, made.app_arn, fresh["refreshToken"])["accessToken"]  # a new session works


def test_a_removed_access_scope_is_gone_from_the_next_refresh(
    server: LiveServer, oidc: Any, sso: Any, idp: LocalIssuer, made: IssuerApp
) -> None:
    first = oidc.create_token_with_iam(clientId=made.app_arn, grantType=JWT_BEARER, assertion=idp.assertion())
    assert "local:read" in first["scope"]
    sso.delete_application_access_scope(ApplicationArn=made.app_arn, Scope="local:read")
    before = state(server)
    status, code, _ = failure(
        lambda: refresh(oidc, made.app_arn, first["refreshToken"], scope=["local:read"])
    )
    assert (status, code) == (400, "InvalidScopeException")
    assert state(server) == before
    narrowed = refresh(oidc, made.app_arn, first["refreshToken"])
    assert "local:read" not in narrowed["scope"]
    assert "openid" in narrowed["scope"]
    record = find(server, narrowed["accessToken"])
    assert record is not None and "local:read" not in record.scopes


def test_an_exchanged_session_ends_when_its_source_stops_authorizing_the_target(
    server: LiveServer, oidc: Any, sso: Any, idp: LocalIssuer, made: IssuerApp
) -> None:
    target = sso.create_application(
        InstanceArn=server.instance_arn,
        ApplicationProviderArn=CUSTOM_PROVIDER,
        Name=f"target-{made.app_arn[-8:]}",
    )["ApplicationArn"]
    try:
        grants: dict[str, dict[str, Any]] = {
            TOKEN_EXCHANGE: {"TokenExchange": {}},
            "refresh_token": {"RefreshToken": {}},
        }
        for grant_type, grant in grants.items():
            sso.put_application_grant(ApplicationArn=target, GrantType=grant_type, Grant=grant)
        sso.put_application_authentication_method(
            ApplicationArn=target,
            AuthenticationMethodType="IAM",
            AuthenticationMethod={"Iam": {"ActorPolicy": allow_account(ACCOUNT)}},
        )
        sso.put_application_assignment_configuration(ApplicationArn=target, AssignmentRequired=False)
        sso.put_application_access_scope(
            ApplicationArn=made.app_arn, Scope="local:read", AuthorizedTargets=[target]
        )
        subject = oidc.create_token_with_iam(
            clientId=made.app_arn, grantType=JWT_BEARER, assertion=idp.assertion()
        )

        def exchange() -> Any:
            return oidc.create_token_with_iam(
                clientId=target,
                grantType=TOKEN_EXCHANGE,
                subjectToken=subject["accessToken"],
                subjectTokenType=ACCESS_TYPE,
                requestedTokenType=REFRESH_TYPE,
            )

        exchanged = exchange()
        again = refresh(
            oidc, target, exchanged["refreshToken"]
        )  # works while the source authorizes the target

        sso.put_application_access_scope(
            ApplicationArn=made.app_arn, Scope="local:read"
        )  # no targets any more
        before = state(server)
        status, code, message = failure(lambda: refresh(oidc, target, again["refreshToken"]))
        assert (status, code) == (400, INVALID_GRANT)
        assert "AuthorizedTargets" in message
        assert state(server) == before

        # a subject token whose own session was granted through an issuer that is gone is refused too
        sso.put_application_access_scope(
            ApplicationArn=made.app_arn, Scope="local:read", AuthorizedTargets=[target]
        )
        subject = oidc.create_token_with_iam(
            clientId=made.app_arn, grantType=JWT_BEARER, assertion=idp.assertion()
        )
        sso.delete_application_grant(ApplicationArn=made.app_arn, GrantType=JWT_BEARER)
        before = state(server)
        status, code, message = failure(exchange)
        assert (status, code) == (400, INVALID_GRANT)
        assert "trusted token issuer" in message
        assert state(server) == before
    finally:
        sso.delete_application(ApplicationArn=target)


# -- item 8: self-trust ---------------------------------------------------------------------------------------------


def own_issuer_aliases(server: LiveServer) -> list[str]:
    instance_id = server.instance_arn.rsplit("/", 1)[1]
    port = server.port
    return [
        f"http://127.0.0.1:{port}/{instance_id}",
        f"http://127.0.0.1:{port}/{instance_id}/",
        f"http://LOCALHOST:{port}/{instance_id}",
        f"http://localhost.:{port}/./{instance_id}",
        f"http://127.0.0.2:{port}/{instance_id}",
        f"http://127.0.0.1:{port}/%73soins-{instance_id[7:]}",
        f"http://127.0.0.1:{port}/demo-issuer/../{instance_id}",
        f"http://127.0.0.1:{port}/ssoins-0123456789abcdef",  # an instance id this server may have later
    ]


def test_our_own_issuer_cannot_be_a_trusted_token_issuer(server: LiveServer, oidc: Any, sso: Any) -> None:
    before = sso.list_trusted_token_issuers(InstanceArn=server.instance_arn)["TrustedTokenIssuers"]
    for url in own_issuer_aliases(server):
        status, code, message = failure(
            lambda url=url: sso.create_trusted_token_issuer(
                InstanceArn=server.instance_arn,
                Name="self-trust",
                TrustedTokenIssuerType="OIDC_JWT",
                TrustedTokenIssuerConfiguration={
                    "OidcJwtConfiguration": {
                        "IssuerUrl": url,
                        "ClaimAttributePath": "email",
                        "IdentityStoreAttributePath": "emails.value",
                        "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
                    }
                },
            )
        )
        assert (status, code) == (400, "ValidationException"), url
        assert "own idToken issuer" in message, url
    assert sso.list_trusted_token_issuers(InstanceArn=server.instance_arn)["TrustedTokenIssuers"] == before
    # the demo issuer on the same server is a separate, deliberately trusted issuer: still accepted
    assert any(t["Name"] == "demo" for t in before)
    assert oidc.create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
    )


# -- items 9 and 11: assertions -------------------------------------------------------------------------------------


def sign_raw(server: LiveServer, header: dict[str, Any], payload: bytes) -> str:
    """An RS256 JWS of the demo issuer over arbitrary payload bytes and header."""
    assert server._signer is not None
    key = server._signer._private
    assert isinstance(key, rsa.RSAPrivateKey)
    signing_input = f"{b64u(json.dumps(header).encode())}.{b64u(payload)}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64u(signature)}"


def demo_claims(server: LiveServer, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": server.issuer_url,
        "sub": "alice@example.com",
        "aud": "test-audience",
        "email": "alice@example.com",
        "email_verified": True,
        "iat": now,
        "exp": now + 300,
        "jti": b64u(hashlib.sha256(str(time.monotonic_ns()).encode()).digest()),
    }
    claims.update(overrides)
    return claims


def raw(server: LiveServer, **overrides: Any) -> str:
    """A demo-issuer assertion of ``demo_claims`` (None drops a claim), serialized by ``json`` (any integer size)."""
    claims = {k: v for k, v in demo_claims(server, **overrides).items() if v is not None}
    assert server._signer is not None
    return sign_raw(server, {"alg": "RS256", "kid": server._signer.kid}, json.dumps(claims).encode())


def year() -> int:
    return 365 * 86400


REFUSED: dict[str, Any] = {
    "email-unverified": lambda s: s.assertion(email_verified=False),
    "email-verified-missing": lambda s: s.assertion(email_verified=None),
    "email-verified-a-string": lambda s: s.assertion(email_verified="true"),
    "exp-ten-years-ahead": lambda s: s.assertion(exp=int(time.time()) + 10 * year()),
    "exp-10e50": lambda s: raw(s, exp=10**50),
    "exp-10e400": lambda s: raw(s, exp=10**400, iat=None),
    "iat-minus-10e400": lambda s: raw(s, iat=-(10**400)),
    "exp-1e300-float": lambda s: s.assertion(exp=1e300),
    "exp-a-string": lambda s: s.assertion(exp=str(int(time.time()) + 60)),
    "exp-a-boolean": lambda s: s.assertion(exp=True),
    "iat-a-year-old": lambda s: s.assertion(iat=int(time.time()) - year()),
    "no-iat-exp-far-ahead": lambda s: s.assertion(iat=None, nbf=None, exp=int(time.time()) + 2 * 86400),
    "aud-with-extra-audiences": lambda s: s.assertion(aud=["test-audience", "someone-else"]),
    "kid-null": lambda s: sign_raw(s, {"alg": "RS256", "kid": None}, json.dumps(demo_claims(s)).encode()),
    "kid-a-number": lambda s: sign_raw(s, {"alg": "RS256", "kid": 7}, json.dumps(demo_claims(s)).encode()),
    "payload-utf16": lambda s: sign_raw(
        s, {"alg": "RS256", "kid": s._signer.kid}, json.dumps(demo_claims(s)).encode("utf-16")
    ),
    "payload-latin1": lambda s: sign_raw(
        s,
        {"alg": "RS256", "kid": s._signer.kid},
        json.dumps(demo_claims(s, name="Zoë"), ensure_ascii=False).encode("latin-1"),
    ),
    "iss-our-own-issuer": lambda s: sign_raw(
        s,
        {"alg": "RS256", "kid": s._signer.kid},
        json.dumps(demo_claims(s, iss=f"{s.url}/{s.instance_arn.rsplit('/', 1)[1]}")).encode(),
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_assertions_are_refused_and_consume_nothing(server: LiveServer, oidc: Any, case: str) -> None:
    assertion = REFUSED[case](server)
    before = state(server)
    status, code, message = failure(
        lambda: oidc.create_token_with_iam(
            clientId=server.apps["main"], grantType=JWT_BEARER, assertion=assertion
        )
    )
    assert (status, code) == (400, INVALID_GRANT), message
    assert state(server) == before


def test_the_limits_leave_real_identity_provider_tokens_alone(server: LiveServer, oidc: Any) -> None:
    # a one-hour idToken (Okta, Entra ID, Google) issued 50 minutes ago, with a verified e-mail
    now = int(time.time())
    assertion = server.assertion(iat=now - 3000, nbf=now - 3000, exp=now + 600)
    assert oidc.create_token_with_iam(clientId=server.apps["main"], grantType=JWT_BEARER, assertion=assertion)


def test_a_jwt_bearer_family_records_its_issuer(server: LiveServer) -> None:
    """The family's origin lives in what every token row already stores (``act``): nothing to migrate."""
    client = make_client(server)
    out = client.create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
    )
    record = find(server, out["accessToken"])
    assert record is not None
    act = record.context.get("act")
    assert isinstance(act, dict) and ":trustedTokenIssuer/" in act["sub"]


def test_our_own_tokens_are_never_assertions(server: LiveServer, oidc: Any) -> None:
    """RFC 8725 section 3.11 (no token-type confusion): an idToken or access token ssoidc issued is refused."""
    issued = oidc.create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
    )
    for own in (issued["idToken"], issued["accessToken"]):
        before = state(server)
        status, code, _ = failure(
            lambda own=own: oidc.create_token_with_iam(
                clientId=server.apps["main"], grantType=JWT_BEARER, assertion=own
            )
        )
        assert (status, code) == (400, INVALID_GRANT)
        assert state(server) == before
    assert (
        "own idToken issuer"
        in failure(
            lambda: oidc.create_token_with_iam(
                clientId=server.apps["main"], grantType=JWT_BEARER, assertion=issued["idToken"]
            )
        )[2]
    )


def test_keys_named_in_the_header_are_never_fetched(server: LiveServer, oidc: Any, idp: LocalIssuer) -> None:
    """RFC 8725 section 3.10 / RFC 7515 4.1.2, 4.1.5: ``jku``/``x5u`` are ignored; the key comes only from the
    trusted token issuer's own JWKS."""
    import jwt

    claims = demo_claims(server)
    forged = jwt.encode(
        claims,
        idp.key,  # the attacker's key, published at the URLs the header names
        algorithm="RS256",
        headers={"kid": "k1", "jku": f"{idp.url}/jwks", "x5u": f"{idp.url}/jwks"},
    )
    before = state(server)
    status, code, _ = failure(
        lambda: oidc.create_token_with_iam(
            clientId=server.apps["main"], grantType=JWT_BEARER, assertion=forged
        )
    )
    assert (status, code) == (400, INVALID_GRANT)
    assert state(server) == before
    assert idp.fetches == 0

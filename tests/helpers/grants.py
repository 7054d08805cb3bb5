"""What the grant unit tests build on (tests/unit/oauth): a small configuration, the ``World`` a grant handler is
built from, a key source for the trusted token issuer, and the constants the tests name.

``World`` holds the pieces a grant handler is built from (``GrantDeps``), a frozen clock (seconds since the epoch)
and a snapshot of ``configuration()``: one instance, two applications (``APP`` with every grant, ``OTHER`` for
token exchange), a trusted token issuer, and two users of whom only ``ALICE`` is assigned.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import Any, TypeVar

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from ssoidc.clock import FrozenClock
from ssoidc.model import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_JWT_BEARER,
    GRANT_REFRESH_TOKEN,
    GRANT_TOKEN_EXCHANGE,
    AccessScope,
    Application,
    Assignment,
    AuthorizationCodeGrantConfig,
    AuthorizedTokenIssuer,
    ConfigSnapshot,
    Configuration,
    Email,
    GrantConfig,
    Instance,
    JwtBearerGrantConfig,
    RefreshTokenGrantConfig,
    TokenExchangeGrantConfig,
    TrustedTokenIssuer,
    User,
)
from ssoidc.oauth.grants.base import Grant, GrantContext, GrantDeps, GrantType
from ssoidc.oauth.jwks import IssuerKeyError
from ssoidc.oauth.request import Caller
from ssoidc.storage.memory import MemoryStore

C = TypeVar("C", bound=GrantConfig)

NOW = 1_700_000_000.0
MASTER_KEY = bytes(range(32))
DEFAULT_SCOPES = ("openid", "aws", "sts:identity_context")
INSTANCE_ARN = "arn:aws:sso:::instance/ssoins-1111111111111111"
APP = "arn:aws:sso::123456789012:application/ssoins-1111111111111111/apl-aaaaaaaaaaaaaaaa"
OTHER = "arn:aws:sso::123456789012:application/ssoins-1111111111111111/apl-bbbbbbbbbbbbbbbb"
TTI = "arn:aws:sso::123456789012:trustedTokenIssuer/ssoins-1111111111111111/tti-11111111-2222-3333-4444-555555555555"
ISSUER_URL = "https://idp.example.com"
AUDIENCE = "ssoidc-tests"
REDIRECT = "https://app.example.com/callback"
ALICE = "11111111-1111-1111-1111-111111111111"
BOB = "22222222-2222-2222-2222-222222222222"
CALLER = Caller("arn:aws:iam::123456789012:role/app", "AKIAEXAMPLE")
IDP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class StaticKeys:
    """A ``SigningKeySource`` holding one issuer's one key (kid ``k1``), as a JWKS would serve it."""

    def __init__(self) -> None:
        self.jwk = jwt.algorithms.RSAAlgorithm.to_jwk(IDP_KEY.public_key(), as_dict=True) | {"kid": "k1"}

    async def get_signing_key(self, issuer_url: str, kid: str | None, alg: str) -> jwt.PyJWK:
        if issuer_url != ISSUER_URL or kid not in (None, "k1"):
            raise IssuerKeyError(f"no key {kid} for {issuer_url}")
        return jwt.PyJWK(self.jwk, alg)


def configuration() -> Configuration:
    grants: dict[str, GrantConfig] = {
        GRANT_AUTHORIZATION_CODE: AuthorizationCodeGrantConfig((REDIRECT,)),
        GRANT_REFRESH_TOKEN: RefreshTokenGrantConfig(),
        GRANT_JWT_BEARER: JwtBearerGrantConfig((AuthorizedTokenIssuer(TTI, (AUDIENCE,)),)),
        GRANT_TOKEN_EXCHANGE: TokenExchangeGrantConfig(),
    }
    return Configuration(
        instance=Instance(INSTANCE_ARN, "d-1111111111", "123456789012", "tests"),
        trusted_token_issuers=(TrustedTokenIssuer(TTI, "idp", ISSUER_URL, "email", "emails.value"),),
        applications=(
            Application(
                APP,
                "app",
                INSTANCE_ARN,
                grants=grants,
                access_scopes=(AccessScope("app:read"),),
            ),
            Application(
                OTHER,
                "other",
                INSTANCE_ARN,
                grants={GRANT_JWT_BEARER: grants[GRANT_JWT_BEARER]},
                access_scopes=(AccessScope("other:read", (APP,)), AccessScope("other:private")),
                assignment_required=False,
            ),
        ),
        users=(
            User(ALICE, "alice", emails=(Email("alice@example.com"),)),
            User(BOB, "bob", emails=(Email("bob@example.com"),)),
        ),
        assignments=(Assignment(APP, "USER", ALICE), Assignment(OTHER, "USER", ALICE)),
    )


@dataclass
class World:
    store: MemoryStore
    clock: FrozenClock
    deps: GrantDeps
    directory: ConfigSnapshot

    def ctx(self, kind: GrantType[C], app: str = APP) -> GrantContext[C]:
        """The context the token service would build for ``kind`` on ``app`` now."""
        application = self.directory.applications[app]
        config = application.grants[kind.uri]
        assert isinstance(config, kind.config_type)
        return GrantContext(self.directory, application, CALLER, self.clock.now(), config)

    def handler(self, kind: GrantType[C]) -> Grant[C]:
        return kind.handler(self.deps)

    def change_app(self, app: str = APP, **changes: Any) -> None:
        """Replace the snapshot with one where ``app`` has ``changes`` (dataclasses.replace)."""
        config = self.directory.config
        apps = tuple(dataclasses.replace(a, **changes) if a.arn == app else a for a in config.applications)
        self.directory = ConfigSnapshot(
            dataclasses.replace(config, applications=apps), self.directory.version + 1
        )

    def change_issuer(self, **changes: Any) -> None:
        """Replace the snapshot with one where the trusted token issuer has ``changes`` (dataclasses.replace)."""
        config = self.directory.config
        issuers = tuple(dataclasses.replace(t, **changes) for t in config.trusted_token_issuers)
        self.directory = ConfigSnapshot(
            dataclasses.replace(config, trusted_token_issuers=issuers), self.directory.version + 1
        )

    def assertion(self, who: str = "alice@example.com", **overrides: Any) -> str:
        """An RS256 assertion of the trusted token issuer for ``who``; an override of None drops that claim."""
        t = int(self.clock.now())
        claims: dict[str, Any] = {
            "iss": ISSUER_URL,
            "sub": who,
            "aud": AUDIENCE,
            "email": who,
            "email_verified": True,
            "iat": t,
            "nbf": t,
            "exp": t + 300,
            "jti": secrets.token_urlsafe(8),
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, IDP_KEY, algorithm="RS256", headers={"kid": "k1"})

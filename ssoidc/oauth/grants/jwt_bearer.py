"""The JWT-bearer grant (RFC 7523 section 2.1 / 3) with IAM Identity Center trusted token issuers.

Order of checks (RFC 7523 section 3; the grant settings of sso-admin PutApplicationGrant): parse the assertion; find a trusted token issuer on the application's
JwtBearer grant whose IssuerUrl equals ``iss`` exactly; verify the signature with a key from the issuer's JWKS
(explicit algorithm allow-list per issuer); exp/nbf/iat with leeway; ``aud`` intersects the issuer's
AuthorizedAudiences; ``jti`` present; the ClaimAttributePath value matches exactly one user by
IdentityStoreAttributePath; the assignment gate; then the ``jti`` is consumed in the same transaction that stores
the tokens, so a failed request consumes nothing. Every failure is InvalidGrant except the assignment gate
(AccessDenied); each description names the check that failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ssoidc.errors import AccessDenied, InvalidGrant, InvalidRequest
from ssoidc.model import GRANT_JWT_BEARER, JwtBearerGrantConfig
from ssoidc.oauth.assertion import AssertionInvalid, peek_issuer, verify_assertion
from ssoidc.oauth.grants.base import GrantContext
from ssoidc.oauth.issuer import IssueSpec, TokenIssuer
from ssoidc.oauth.jwks import IssuerKeyError, JwksCache
from ssoidc.oauth.request import TokenRequest, TokenResult
from ssoidc.oauth.scopes import available_scopes, select_scopes
from ssoidc.storage.base import JtiReplay


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ClaimAttributePath (``email``, ``preferred_username``, ``a.b``)."""
    cur: Any = claims
    if path in claims:
        return claims[path]
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


class JwtBearerGrantHandler:
    grant_type: ClassVar[str] = GRANT_JWT_BEARER

    def __init__(
        self,
        *,
        issuer: TokenIssuer,
        jwks: JwksCache,
        leeway: float,
        session_ttl: int,
        default_scopes: tuple[str, ...],
    ) -> None:
        self._issuer = issuer
        self._jwks = jwks
        self._leeway = leeway
        self._session_ttl = session_ttl
        self._default_scopes = default_scopes

    async def exchange(self, req: TokenRequest, ctx: GrantContext) -> TokenResult:
        app = ctx.application
        if not req.assertion:
            raise InvalidRequest("assertion is required for the JWT bearer grant")
        config = app.grants[GRANT_JWT_BEARER]
        assert isinstance(config, JwtBearerGrantConfig)
        try:
            parsed = peek_issuer(req.assertion)
        except AssertionInvalid as exc:
            raise InvalidGrant(exc.message) from None

        match = None
        for authorized in config.authorized_token_issuers:
            tti = ctx.directory.issuers.get(authorized.trusted_token_issuer_arn)
            if tti is not None and tti.issuer_url == parsed.issuer:
                match = (tti, authorized)
                break
        if match is None:
            raise InvalidGrant(
                "The assertion's issuer (iss) is not a trusted token issuer authorized for this application's"
                " JwtBearer grant; iss must equal the trusted token issuer's IssuerUrl exactly"
            )
        tti, authorized = match

        try:
            verified = await verify_assertion(
                parsed,
                issuer_url=tti.issuer_url,
                allowed_algorithms=tti.allowed_algorithms,
                keys=self._jwks,
                now=ctx.now,
                leeway_seconds=self._leeway,
            )
        except AssertionInvalid as exc:
            raise InvalidGrant(exc.message) from None
        except IssuerKeyError as exc:
            raise InvalidGrant(exc.message) from None
        claims = verified.claims

        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else list(aud) if isinstance(aud, list) else []
        if not set(auds) & set(authorized.authorized_audiences):
            raise InvalidGrant(
                "The assertion's audience (aud) is not one of the AuthorizedAudiences configured for this trusted"
                " token issuer on the application"
            )

        value = claim_at(claims, tti.claim_attribute_path)
        if not isinstance(value, str) or not value:
            raise InvalidGrant(
                f"The assertion has no string claim at ClaimAttributePath '{tti.claim_attribute_path}'"
            )
        users = ctx.directory.users_by_attribute(tti.identity_store_attribute_path, value)
        if not users:
            raise InvalidGrant(
                f"No user in the identity store has {tti.identity_store_attribute_path} equal to the assertion's"
                f" '{tti.claim_attribute_path}' claim"
            )
        if len(users) > 1:
            raise InvalidGrant(
                f"Several users have {tti.identity_store_attribute_path} equal to the assertion's"
                f" '{tti.claim_attribute_path}' claim; it must match exactly one"
            )
        user_id = users[0]
        if app.assignment_required and not ctx.directory.is_assigned(app, user_id):
            raise AccessDenied(
                "The user is not assigned to this application, directly or through a group, and the application"
                " requires assignment (AssignmentRequired is true)"
            )

        scopes = select_scopes(
            req.scope, available_scopes(self._default_scopes, (s.scope for s in app.access_scopes))
        )
        exp = float(claims["exp"])
        iat = claims.get("iat")
        auth_time = float(iat) if isinstance(iat, int | float) and not isinstance(iat, bool) else ctx.now
        spec = IssueSpec(
            application=app,
            user_id=user_id,
            scopes=scopes,
            grant_type=GRANT_JWT_BEARER,
            now=ctx.now,
            session_expires_at=ctx.now + self._session_ttl,
            auth_time=min(auth_time, ctx.now),
            act={"sub": tti.arn},
        )
        jti = (tti.issuer_url, str(claims["jti"]), exp + self._leeway)
        try:
            return await self._issuer.issue(spec, ctx.directory, jti=jti)
        except JtiReplay:
            raise InvalidGrant(
                "The assertion has already been used (its jti was redeemed before); mint a new assertion for"
                " every request"
            ) from None

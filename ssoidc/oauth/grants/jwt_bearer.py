"""The JWT-bearer grant (RFC 7523 section 2.1 / 3) with IAM Identity Center trusted token issuers.

Order of checks (RFC 7523 section 3; the grant settings of sso-admin PutApplicationGrant): parse the assertion
(UTF-8 JSON, RFC 7519 section 7.2); refuse an ``iss`` that is one of ssoidc's own idToken issuers, in any spelling
(self-trust: our idTokens are never assertions, whatever the configuration says); find a trusted token issuer on
the application's JwtBearer grant whose IssuerUrl equals ``iss`` exactly; verify the signature with a key from the
issuer's JWKS (explicit algorithm allow-list per issuer, RFC 8725 section 3.1); exp/nbf/iat with leeway, and the
maximum lifetime and age (``SSOIDC_ASSERTION_MAX_LIFETIME``/``_MAX_AGE``); ``aud`` intersects the issuer's
AuthorizedAudiences and lists no other audience (OpenID Connect Core 1.0 section 3.1.3.7); ``jti`` present; when
the issuer maps users by e-mail, ``email_verified`` is ``true`` (unless the issuer's ``AcceptUnverifiedEmail``);
the ClaimAttributePath value matches exactly one user by IdentityStoreAttributePath; the assignment gate; then the
``jti`` is consumed in the same transaction that stores the tokens, so a failed request consumes nothing. Every
failure is InvalidGrant except the assignment gate (AccessDenied); each description names the check that failed.

The token family remembers the issuer (``act.sub`` = the trusted token issuer's ARN), so the refresh-token grant
ends the session once the issuer is deleted or no longer authorized on the application's JwtBearer grant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from ssoidc.errors import AccessDenied, InvalidGrant, InvalidRequest, ValidationFailed
from ssoidc.model import (
    GRANT_JWT_BEARER,
    AuthorizedTokenIssuer,
    Configuration,
    JwtBearerGrantConfig,
    TrustedTokenIssuer,
)
from ssoidc.oauth.assertion import AssertionInvalid, SigningKeySource, peek_issuer, verify_assertion
from ssoidc.oauth.grants.base import MEMBER_SPEC, GrantContext, GrantType, MemberReader
from ssoidc.oauth.issuer import IssueSpec, TokenIssuer
from ssoidc.oauth.jwks import IssuerKeyError
from ssoidc.oauth.request import TokenRequest, TokenResult
from ssoidc.oauth.scopes import grantable_scopes, select_scopes
from ssoidc.storage.base import JtiReplay

NOT_ASSIGNED = (
    "The user is not assigned to this application, directly or through a group, and the application requires"
    " assignment (AssignmentRequired is true)"
)


def maps_by_email(tti: TrustedTokenIssuer) -> bool:
    """Whether the issuer's claim mapping matches users by e-mail address: the identity-store attribute is
    ``emails.value``, or the claim is ``email`` (OpenID Connect Core 1.0 section 5.1: ``email`` is only as good as
    ``email_verified``; matching an unverified address is the "nOAuth" account takeover)."""
    return (
        tti.identity_store_attribute_path.lower() == "emails.value"
        or tti.claim_attribute_path.lower() == "email"
    )


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
    def __init__(
        self,
        *,
        issuer: TokenIssuer,
        keys: SigningKeySource,
        leeway: float,
        session_ttl: int,
        default_scopes: tuple[str, ...],
        max_lifetime: float = 86400.0,
        max_age: float = 86400.0,
    ) -> None:
        self._issuer = issuer
        self._keys = keys
        self._leeway = leeway
        self._max_lifetime = max_lifetime
        self._max_age = max_age
        self._session_ttl = session_ttl
        self._default_scopes = default_scopes

    async def exchange(self, req: TokenRequest, ctx: GrantContext[JwtBearerGrantConfig]) -> TokenResult:
        app = ctx.application
        if not req.assertion:
            raise InvalidRequest("assertion is required for the JWT bearer grant")
        config = ctx.config
        try:
            parsed = peek_issuer(req.assertion)
        except AssertionInvalid as exc:
            raise InvalidGrant(exc.message) from None
        if self._issuer.is_own(parsed.issuer, ctx.directory):  # self-trust, whatever the configuration says
            raise InvalidGrant(
                "The assertion's issuer (iss) is this server's own idToken issuer; ssoidc never accepts its own"
                " tokens as assertions"
            )

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
                keys=self._keys,
                now=ctx.now,
                leeway_seconds=self._leeway,
                max_lifetime_seconds=self._max_lifetime,
                max_age_seconds=self._max_age,
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
        if not set(auds) <= set(authorized.authorized_audiences):  # OpenID Connect Core 1.0 section 3.1.3.7
            raise InvalidGrant(
                "The assertion's audience (aud) lists audiences besides the AuthorizedAudiences configured for this"
                " trusted token issuer on the application; a token meant for others too is not accepted"
            )
        if (
            maps_by_email(tti)
            and not tti.accept_unverified_email
            and claims.get("email_verified") is not True
        ):
            raise InvalidGrant(
                "The assertion is mapped to a user by e-mail address but its email_verified claim is not true;"
                " an issuer that does not verify e-mail addresses cannot vouch for them (AcceptUnverifiedEmail"
                " in the configuration file turns this off for one issuer)"
            )

        value = claim_at(claims, tti.claim_attribute_path)
        if not isinstance(value, str) or not value:
            raise InvalidGrant(
                f"The assertion has no string claim at ClaimAttributePath '{tti.claim_attribute_path}'"
            )
        users = await ctx.directory.users_by_attribute(tti.identity_store_attribute_path, value)
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
        await ctx.directory.require_assigned(app, user_id, lambda: AccessDenied(NOT_ASSIGNED))

        scopes = select_scopes(req.scope, grantable_scopes(app, self._default_scopes))
        exp = verified.expires_at
        iat = verified.issued_at
        auth_time = iat if iat is not None else ctx.now
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


# -- configuration: the sso-admin ``Grant.JwtBearer`` member (PutApplicationGrant) --------------------------------


class AuthorizedTokenIssuerSpec(BaseModel):
    model_config = MEMBER_SPEC
    TrustedTokenIssuerArn: str = Field(min_length=1)
    """An ARN, or the Name of a trusted token issuer in this file."""
    AuthorizedAudiences: list[str] = Field(min_length=1, max_length=10)


class JwtBearerSpec(BaseModel):
    """The file's ``Grants.urn:ietf:params:oauth:grant-type:jwt-bearer.JwtBearer``."""

    model_config = MEMBER_SPEC
    AuthorizedTokenIssuers: list[AuthorizedTokenIssuerSpec] = Field(min_length=1, max_length=10)


def _to_wire(config: JwtBearerGrantConfig) -> dict[str, Any]:
    return {
        "AuthorizedTokenIssuers": [
            {
                "TrustedTokenIssuerArn": a.trusted_token_issuer_arn,
                "AuthorizedAudiences": list(a.authorized_audiences),
            }
            for a in config.authorized_token_issuers
        ]
    }


def _from_wire(body: Mapping[str, Any], reader: MemberReader) -> JwtBearerGrantConfig:
    items = body.get("AuthorizedTokenIssuers")
    if not items:
        reader.problem("AuthorizedTokenIssuers is required", "AuthorizedTokenIssuers")
    out = []
    for i, item in enumerate(items or ()):
        missing = False
        for name in ("TrustedTokenIssuerArn", "AuthorizedAudiences"):
            if not item.get(name):
                reader.problem(f"{name} is required", f"AuthorizedTokenIssuers[{i}].{name}")
                missing = True
        if missing:
            continue
        ref = item["TrustedTokenIssuerArn"]
        arn = reader.resolve_issuer(ref)
        if arn is None:
            reader.problem(
                f"no trusted token issuer {ref!r} in this file",
                f"AuthorizedTokenIssuers[{i}].TrustedTokenIssuerArn",
            )
            continue
        out.append(AuthorizedTokenIssuer(arn, reader.values(item["AuthorizedAudiences"])))
    return JwtBearerGrantConfig(tuple(out))


def _check(config: JwtBearerGrantConfig, configuration: Configuration) -> None:
    """Each authorized issuer exists in the instance and is listed once (PutApplicationGrant, ``ssoidc apply``)."""
    issuers = {t.arn for t in configuration.trusted_token_issuers}
    seen: set[str] = set()
    for i, ati in enumerate(config.authorized_token_issuers):
        arn = ati.trusted_token_issuer_arn
        path = f"Grant.JwtBearer.AuthorizedTokenIssuers[{i}].TrustedTokenIssuerArn"
        if arn not in issuers:
            raise ValidationFailed(f"Trusted token issuer {arn} does not exist in the instance", path)
        if arn in seen:
            raise ValidationFailed(f"Trusted token issuer {arn} is listed twice", path)
        seen.add(arn)


JWT_BEARER: GrantType[JwtBearerGrantConfig] = GrantType(
    uri=GRANT_JWT_BEARER,
    member="JwtBearer",
    config_type=JwtBearerGrantConfig,
    parameters=frozenset({"assertion", "scope"}),
    file_spec=JwtBearerSpec,
    to_wire=_to_wire,
    from_wire=_from_wire,
    store_tag="jwt_bearer",
    to_store=lambda c: {
        "issuers": [
            {"arn": i.trusted_token_issuer_arn, "audiences": list(i.authorized_audiences)}
            for i in c.authorized_token_issuers
        ]
    },
    from_store=lambda d: JwtBearerGrantConfig(
        tuple(AuthorizedTokenIssuer(i["arn"], tuple(i["audiences"])) for i in d["issuers"])
    ),
    handler=lambda deps: JwtBearerGrantHandler(
        issuer=deps.issuer,
        keys=deps.keys,
        leeway=deps.assertion_leeway,
        session_ttl=deps.session_ttl,
        default_scopes=deps.default_scopes,
        max_lifetime=deps.assertion_max_lifetime,
        max_age=deps.assertion_max_age,
    ),
    check=_check,
)

"""The authorization-code grant, redemption side (RFC 6749 section 4.1.3, PKCE RFC 7636 section 4.6).

Codes are single use and bound to the application, the user, the redirect URI and the PKCE challenge, and live
``SSOIDC_CODE_TTL`` seconds (default 300). ``redirectUri`` must equal the one used at authorization exactly;
``codeVerifier`` must match the S256 challenge (``plain`` is refused at ``/authorize``, RFC 9700 section 2.1.1).
Every binding is checked before the code is consumed, so a request that fails a check consumes nothing; the code
is then consumed in the same transaction that stores the tokens. The idToken carries the authorization request's
``nonce``, if it sent one (OIDC Core 3.1.3.6). A code redeemed twice revokes the tokens issued from it (RFC 6749
section 4.1.2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from ssoidc.errors import InvalidGrant, InvalidRequest, ValidationFailed
from ssoidc.model import GRANT_AUTHORIZATION_CODE, AuthorizationCodeGrantConfig, Configuration
from ssoidc.oauth import pkce
from ssoidc.oauth.grants.base import (
    MEMBER_SPEC,
    GrantContext,
    GrantType,
    MemberReader,
    RedemptionRefused,
    redeemed,
)
from ssoidc.oauth.issuer import IssueSpec, TokenIssuer
from ssoidc.oauth.redirect_uri import APPLICATION, RedirectUriError, validate_redirect_uri
from ssoidc.oauth.request import TokenRequest, TokenResult
from ssoidc.oauth.scopes import select_scopes
from ssoidc.storage.base import CodeStore

INVALID_CODE = "Invalid authorization code provided"
REFUSED = RedemptionRefused(
    invalid=INVALID_CODE,
    reused="Invalid authorization code provided: it was already redeemed, so the tokens issued from it have"
    " been revoked",
)


def code_hash(code: str) -> bytes:
    return hashlib.sha256(code.encode("utf-8", "replace")).digest()


class AuthorizationCodeGrantHandler:
    def __init__(self, *, issuer: TokenIssuer, store: CodeStore) -> None:
        self._issuer = issuer
        self._store = store

    async def exchange(
        self, req: TokenRequest, ctx: GrantContext[AuthorizationCodeGrantConfig]
    ) -> TokenResult:
        if not req.code:
            raise InvalidRequest("code is required for the authorization_code grant")
        if not req.redirect_uri:
            raise InvalidRequest("redirectUri is required for the authorization_code grant")
        if len(req.code) > 512:
            raise InvalidGrant(INVALID_CODE)
        h = code_hash(req.code)
        record = await self._store.find_code(h)
        app = ctx.application
        if record is None or record.application_arn != app.arn:
            raise InvalidGrant(INVALID_CODE)
        if record.consumed_at is None and record.expires_at <= ctx.now:
            raise InvalidGrant("Invalid authorization code provided: it has expired")
        if record.consumed_at is None:
            if req.redirect_uri != record.redirect_uri:
                raise InvalidGrant(
                    "redirectUri does not match the redirect URI used when the code was issued"
                )
            if record.code_challenge is not None:
                if not req.code_verifier:
                    raise InvalidGrant("codeVerifier is required: the code was issued with a PKCE challenge")
                if not pkce.verify(
                    req.code_verifier, record.code_challenge, record.code_challenge_method or ""
                ):
                    raise InvalidGrant("codeVerifier does not match the PKCE code challenge")
            elif req.code_verifier:
                raise InvalidGrant("codeVerifier was sent but the code was issued without a PKCE challenge")
        scopes = select_scopes(req.scope, record.scopes)
        await ctx.directory.require_assigned(app, record.user_id, lambda: InvalidGrant(INVALID_CODE))
        spec = IssueSpec(
            application=app,
            user_id=record.user_id,
            scopes=scopes,
            grant_type=GRANT_AUTHORIZATION_CODE,
            now=ctx.now,
            session_expires_at=record.session_expires_at,
            auth_time=record.auth_time,
            family_id=record.family_id,
            nonce=record.nonce,
        )
        pending = self._issuer.prepare(spec, ctx.directory)
        outcome = await self._store.redeem_code(
            h, app.arn, ctx.now, pending.records, family_cap=self._issuer.family_cap
        )
        return redeemed(outcome, pending, REFUSED)


# -- configuration: the sso-admin ``Grant.AuthorizationCode`` member (PutApplicationGrant) -----------------------


class AuthorizationCodeSpec(BaseModel):
    """The file's ``Grants.authorization_code.AuthorizationCode``."""

    model_config = MEMBER_SPEC
    RedirectUris: list[str] = Field(min_length=1, max_length=10)


def _to_wire(config: AuthorizationCodeGrantConfig) -> dict[str, Any]:
    return {"RedirectUris": list(config.redirect_uris)}


def _from_wire(body: Mapping[str, Any], reader: MemberReader) -> AuthorizationCodeGrantConfig:
    uris = body.get("RedirectUris")
    if not uris:
        reader.problem("RedirectUris is required", "RedirectUris")
    for i, uri in enumerate(uris or ()):
        try:
            validate_redirect_uri(uri, APPLICATION)
        except RedirectUriError as exc:
            reader.problem(str(exc), f"RedirectUris[{i}]")
    return AuthorizationCodeGrantConfig(reader.values(uris or ()))


def _check(config: AuthorizationCodeGrantConfig, configuration: Configuration) -> None:
    """Every stored configuration's redirect URIs pass ``validate_redirect_uri``. The front doors refuse a bad URI
    before this (``_from_wire``, naming the request or file member); what reaches here is one stored before the
    rules existed, on an application the change may not even touch, so the message names that application."""
    for i, uri in enumerate(config.redirect_uris):
        try:
            validate_redirect_uri(uri, APPLICATION)
        except RedirectUriError as exc:
            owner = next(
                (a.name for a in configuration.applications if any(g is config for g in a.grants.values())),
                "",
            )
            where = (
                f"The application {owner!r} has a stored redirect URI that breaks the rules; fix it first: "
                if owner
                else ""
            )
            raise ValidationFailed(where + str(exc), f"Grant.AuthorizationCode.RedirectUris[{i}]") from None


AUTHORIZATION_CODE: GrantType[AuthorizationCodeGrantConfig] = GrantType(
    uri=GRANT_AUTHORIZATION_CODE,
    member="AuthorizationCode",
    config_type=AuthorizationCodeGrantConfig,
    parameters=frozenset({"code", "redirect_uri", "code_verifier", "scope"}),
    file_spec=AuthorizationCodeSpec,
    to_wire=_to_wire,
    from_wire=_from_wire,
    store_tag="authorization_code",
    to_store=lambda c: {"redirect_uris": list(c.redirect_uris)},
    from_store=lambda d: AuthorizationCodeGrantConfig(tuple(d["redirect_uris"])),
    handler=lambda deps: AuthorizationCodeGrantHandler(issuer=deps.issuer, store=deps.store),
    check=_check,
)

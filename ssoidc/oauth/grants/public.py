"""The grants of CreateToken, the public clients' token endpoint (AWS SSO OIDC ``CreateToken``; RFC 8628 section
3.4/3.5, RFC 6749 sections 4.1.3 and 6, RFC 7636 section 4.6).

Each grant is one ``PublicGrantType`` row of ``ssoidc.oauth.grants.registry.PUBLIC_GRANTS``: its ``grantType``,
the CreateToken members it takes besides ``clientId``, ``clientSecret`` and ``grantType``, and its handler
factory. The authorization-code and refresh-token grants are the CreateTokenWithIAM handlers themselves
(``authorization_code.py``, ``refresh_token.py``: single use, PKCE, rotation, reuse detection), run for the
registration as token owner (``ssoidc.oauth.clients.client_application``); the device-code grant is
``DeviceCodeGrantHandler``:

* unknown, another client's or already redeemed device code: InvalidGrantException;
* expired: ExpiredTokenException (the AWS CLI stops polling on it);
* polled sooner than the interval: SlowDownException, and the interval grows by 5 s (RFC 8628 3.5);
* denied by the user: AccessDeniedException; not decided yet: AuthorizationPendingException;
* approved: the token set, stored in the same conditional write that consumes the device code, so however many
  polls race, one gets the tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ssoidc.errors import (
    AccessDenied,
    AuthorizationPending,
    ExpiredToken,
    InvalidGrant,
    InvalidRequest,
    SlowDown,
)
from ssoidc.model import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
    Application,
    AuthorizationCodeGrantConfig,
    ConfigSnapshot,
    RefreshTokenGrantConfig,
)
from ssoidc.oauth.clients import GRANT_DEVICE_CODE, allowed_grants
from ssoidc.oauth.device import MAX_INTERVAL, POLL_LEEWAY, device_code_hash
from ssoidc.oauth.grants.authorization_code import AuthorizationCodeGrantHandler
from ssoidc.oauth.grants.base import GrantContext, GrantDeps
from ssoidc.oauth.grants.refresh_token import RefreshTokenGrantHandler
from ssoidc.oauth.issuer import IssueSpec, TokenIssuer
from ssoidc.oauth.request import Caller, PublicTokenRequest, TokenResult
from ssoidc.storage.base import DEVICE_DENIED, DEVICE_PENDING, ClientRecord, PublicClientStore

NO_CALLER = Caller(principal_arn="", access_key_id="")
"""CreateToken is unsigned: the shared handlers see no IAM caller."""
INVALID_DEVICE_CODE = "Invalid device code provided"


@dataclass(frozen=True, slots=True)
class PublicGrantContext:
    directory: ConfigSnapshot
    client: ClientRecord
    application: Application
    """The registration as token owner (``client_application``)."""
    now: float


class PublicGrant(Protocol):
    async def exchange(self, req: PublicTokenRequest, ctx: PublicGrantContext) -> TokenResult: ...


@dataclass(frozen=True, slots=True)
class PublicGrantDeps:
    grants: GrantDeps
    store: PublicClientStore


@dataclass(frozen=True, slots=True)
class PublicGrantType:
    """One grant type of CreateToken: a row of ``PUBLIC_GRANTS``."""

    uri: str
    parameters: frozenset[str]
    """The ``PublicTokenRequest`` members it takes besides ``client_id``, ``client_secret`` and ``grant_type``."""
    handler: Callable[[PublicGrantDeps], PublicGrant]


class DeviceCodeGrantHandler:
    """RFC 8628 section 3.4 / 3.5 (see the module doc)."""

    def __init__(self, *, issuer: TokenIssuer, store: PublicClientStore, session_ttl: int) -> None:
        self._issuer = issuer
        self._store = store
        self._session_ttl = session_ttl

    async def exchange(self, req: PublicTokenRequest, ctx: PublicGrantContext) -> TokenResult:
        if not req.device_code:
            raise InvalidRequest("deviceCode is required for the device_code grant")
        if len(req.device_code) > 512:
            raise InvalidGrant(INVALID_DEVICE_CODE)
        h = device_code_hash(req.device_code)
        cid = ctx.client.client_id
        poll = await self._store.poll_device(h, cid, ctx.now, leeway=POLL_LEEWAY, max_interval=MAX_INTERVAL)
        if poll is None:
            raise InvalidGrant(INVALID_DEVICE_CODE)
        device = poll.device
        if device.expires_at <= ctx.now:
            raise ExpiredToken("The device code has expired; start a new device authorization")
        if poll.slow_down:
            raise SlowDown(
                f"Client is polling too fast; wait {int(device.interval)} seconds between requests"
            )
        if device.status == DEVICE_DENIED:
            raise AccessDenied("The user denied the authorization request")
        if device.status == DEVICE_PENDING or device.user_id is None:
            raise AuthorizationPending("Authorization is still pending")
        if not await ctx.directory.has_user(device.user_id):
            raise InvalidGrant(INVALID_DEVICE_CODE)
        spec = IssueSpec(
            application=ctx.application,
            user_id=device.user_id,
            scopes=device.scopes,
            grant_type=GRANT_DEVICE_CODE,
            now=ctx.now,
            session_expires_at=ctx.now + self._session_ttl,
            auth_time=device.auth_time if device.auth_time is not None else ctx.now,
            family_id=device.family_id,
            with_refresh=GRANT_REFRESH_TOKEN in allowed_grants(ctx.client),
        )
        pending = self._issuer.prepare(spec, ctx.directory)
        if not await self._store.redeem_device(
            h, cid, ctx.now, pending.records, family_cap=self._issuer.family_cap
        ):
            raise InvalidGrant(INVALID_DEVICE_CODE)
        return pending.finish()


class PublicAuthorizationCodeGrant:
    """The authorization-code grant for a public client: PKCE required (RFC 7636; RFC 9700 section 2.1.1), then
    the shared handler (redirect URI exact, verifier against the S256 challenge, single use)."""

    def __init__(self, inner: AuthorizationCodeGrantHandler) -> None:
        self._inner = inner

    async def exchange(self, req: PublicTokenRequest, ctx: PublicGrantContext) -> TokenResult:
        if not req.code:
            raise InvalidRequest("code is required for the authorization_code grant")
        if not req.redirect_uri:
            raise InvalidRequest("redirectUri is required for the authorization_code grant")
        if not req.code_verifier:
            raise InvalidRequest("codeVerifier is required: public clients use PKCE (RFC 7636)")
        config = ctx.application.grants[GRANT_AUTHORIZATION_CODE]
        assert isinstance(config, AuthorizationCodeGrantConfig)
        return await self._inner.exchange(
            req.as_token_request(), GrantContext(ctx.directory, ctx.application, NO_CALLER, ctx.now, config)
        )


class PublicRefreshTokenGrant:
    """The refresh-token grant for a public client: the shared handler (rotation on every use, reuse detection
    revoking the family, the session end kept)."""

    def __init__(self, inner: RefreshTokenGrantHandler) -> None:
        self._inner = inner

    async def exchange(self, req: PublicTokenRequest, ctx: PublicGrantContext) -> TokenResult:
        config = ctx.application.grants.get(GRANT_REFRESH_TOKEN)
        if not isinstance(config, RefreshTokenGrantConfig):  # allowed_grants and client_application agree
            raise InvalidGrant("Invalid refresh token provided")
        return await self._inner.exchange(
            req.as_token_request(), GrantContext(ctx.directory, ctx.application, NO_CALLER, ctx.now, config)
        )


DEVICE_CODE = PublicGrantType(
    uri=GRANT_DEVICE_CODE,
    parameters=frozenset({"device_code", "scope"}),
    handler=lambda d: DeviceCodeGrantHandler(
        issuer=d.grants.issuer, store=d.store, session_ttl=d.grants.session_ttl
    ),
)
PUBLIC_AUTHORIZATION_CODE = PublicGrantType(
    uri=GRANT_AUTHORIZATION_CODE,
    parameters=frozenset({"code", "redirect_uri", "code_verifier", "scope"}),
    handler=lambda d: PublicAuthorizationCodeGrant(
        AuthorizationCodeGrantHandler(issuer=d.grants.issuer, store=d.grants.store)
    ),
)
PUBLIC_REFRESH_TOKEN = PublicGrantType(
    uri=GRANT_REFRESH_TOKEN,
    parameters=frozenset({"refresh_token", "scope"}),
    handler=lambda d: PublicRefreshTokenGrant(
        RefreshTokenGrantHandler(
            issuer=d.grants.issuer,
            minter=d.grants.minter,
            store=d.grants.store,
            grace_seconds=d.grants.refresh_grace_seconds,
        )
    ),
)

"""The refresh-token grant (RFC 6749 section 6) with rotation and reuse detection (OAuth 2.0 Security BCP,
RFC 9700 section 4.14.2).

* Each redemption returns a new ``aor…`` refresh token and retires the presented one, in one conditional write:
  one refresh token can never be redeemed twice, however many requests race.
* A retired token presented again inside the grace window (``SSOIDC_REFRESH_GRACE_SECONDS``, default 5 s: a
  client's own network retry) is refused with InvalidGrant and nothing else happens; later, the reuse revokes the
  whole token family (every access and refresh token descended from the same original grant).
* ``scope`` may narrow the refresh token's scopes (InvalidScope if wider). The new tokens keep the family, the
  session end (refresh tokens die with the session that created them), ``auth_time`` and ``act``.
* Expired, revoked, unknown, malformed or another application's refresh token: InvalidGrant "Invalid refresh
  token provided", as AWS.
* A session does not outlive what granted it (``origin.py``): the user must still exist and be assigned, the
  trusted token issuer of a JWT-bearer family must still exist and still be authorized on the application's
  JwtBearer grant, and the application a token-exchange family came from must still exist and still authorize this
  one; otherwise InvalidGrant, and the whole family is revoked. The scopes are narrowed to those the application
  can grant now (an access scope removed with DeleteApplicationAccessScope is gone from the next token set); if
  none is left, InvalidGrant and the family is revoked. Every node checks against the snapshot its request
  refreshed, so a change made on one node ends the session on all of them.
* A sealed refresh token (``tokens.py``) carries the fields the next token set needs, so the grant does not read
  the store: the conditional rotation alone decides (one round trip). A MAC-format token, minted before sealed
  tokens existed, is first read from the store.
"""

from __future__ import annotations

from collections.abc import Mapping

from ssoidc.errors import InvalidGrant, InvalidRequest
from ssoidc.model import GRANT_REFRESH_TOKEN, RefreshTokenGrantConfig
from ssoidc.oauth.grants.base import GrantContext, GrantType, RedemptionRefused, memberless_grant, redeemed
from ssoidc.oauth.grants.origin import origin_problem
from ssoidc.oauth.issuer import IssueSpec, TokenIssuer
from ssoidc.oauth.request import TokenRequest, TokenResult
from ssoidc.oauth.scopes import grantable_scopes, select_scopes
from ssoidc.oauth.tokens import RefreshClaims, TokenMinter
from ssoidc.storage.base import TokenStore

INVALID = "Invalid refresh token provided"
REFUSED = RedemptionRefused(
    invalid=INVALID,
    reused="Invalid refresh token provided: it was already used, so every token of its session has been"
    " revoked (refresh-token reuse detection)",
    in_grace="Invalid refresh token provided: it was rotated moments ago; use the refresh token returned by"
    " that request",
)


class RefreshTokenGrantHandler:
    def __init__(
        self,
        *,
        issuer: TokenIssuer,
        minter: TokenMinter,
        store: TokenStore,
        grace_seconds: float,
        default_scopes: tuple[str, ...] = (),
    ) -> None:
        self._issuer = issuer
        self._minter = minter
        self._store = store
        self._grace = grace_seconds
        self._default_scopes = default_scopes

    async def exchange(self, req: TokenRequest, ctx: GrantContext[RefreshTokenGrantConfig]) -> TokenResult:
        if not req.refresh_token:
            raise InvalidRequest("refreshToken is required for the refresh_token grant")
        app = ctx.application
        opened = self._minter.open_refresh(req.refresh_token, app.arn)
        if opened is None:
            raise InvalidGrant(INVALID)
        token_hash, claims = opened
        if claims is None:
            claims = await self._stored_claims(token_hash, app.arn, ctx.now)
        if claims.expires_at <= ctx.now:
            raise InvalidGrant(INVALID)
        problem = origin_problem(claims.act, app, ctx.directory)
        if problem is not None:  # what granted the session is gone: the session ends, on every node
            await self._store.revoke_family(claims.family_id, ctx.now, claims.session_expires_at)
            raise InvalidGrant(f"{INVALID}: {problem}, so its session has ended")
        grantable = set(grantable_scopes(app, self._default_scopes))
        current = tuple(s for s in claims.scopes if s in grantable)  # narrowed to what the app grants today
        if not current:
            await self._store.revoke_family(claims.family_id, ctx.now, claims.session_expires_at)
            raise InvalidGrant(
                f"{INVALID}: none of its scopes is granted by the application any more, so its session has ended"
            )
        scopes = select_scopes(req.scope, current)
        if not await ctx.directory.has_user(claims.user_id):
            raise InvalidGrant(INVALID)  # the user was removed from the identity store
        # unassigned since: the session ends (AWS: the next refresh fails)
        await ctx.directory.require_assigned(app, claims.user_id, lambda: InvalidGrant(INVALID))
        spec = IssueSpec(
            application=app,
            user_id=claims.user_id,
            scopes=scopes,
            grant_type=GRANT_REFRESH_TOKEN,
            now=ctx.now,
            session_expires_at=claims.session_expires_at,
            auth_time=claims.auth_time,
            act=claims.act,
            family_id=claims.family_id,
            parent_hash=token_hash,
            with_refresh=True,
        )
        pending = self._issuer.prepare(spec, ctx.directory)
        outcome = await self._store.rotate_refresh(token_hash, app.arn, ctx.now, self._grace, pending.records)
        return redeemed(outcome, pending, REFUSED)

    async def _stored_claims(self, token_hash: bytes, application_arn: str, now: float) -> RefreshClaims:
        """The fields of a MAC-format refresh token, from its store row (InvalidGrant if it cannot be used)."""
        record = await self._store.find_token(token_hash)
        if (
            record is None
            or record.kind != "refresh"
            or record.application_arn != application_arn
            or record.revoked_at is not None
            or record.expires_at <= now
        ):
            raise InvalidGrant(INVALID)
        act = record.context.get("act")
        return RefreshClaims(
            user_id=record.user_id,
            scopes=record.scopes,
            family_id=record.family_id,
            issued_at=record.issued_at,
            expires_at=record.expires_at,
            session_expires_at=record.session_expires_at,
            auth_time=float(record.context.get("auth_time", record.issued_at)),
            act=dict(act) if isinstance(act, Mapping) else None,
        )


REFRESH_TOKEN: GrantType[RefreshTokenGrantConfig] = memberless_grant(
    uri=GRANT_REFRESH_TOKEN,
    member="RefreshToken",
    config_type=RefreshTokenGrantConfig,
    store_tag="refresh_token",
    parameters=("refresh_token", "scope"),
    handler=lambda deps: RefreshTokenGrantHandler(
        issuer=deps.issuer,
        minter=deps.minter,
        store=deps.store,
        grace_seconds=deps.refresh_grace_seconds,
        default_scopes=deps.default_scopes,
    ),
)

"""Token introspection (RFC 7662) and revocation (RFC 7009) for resource servers, the domain side (beyond AWS).

``POST /introspect`` and ``POST /revoke`` (``ssoidc.web.introspection``) take form bodies (RFC 7662 section 2.1,
RFC 7009 section 2.1): ``token``, optional ``token_type_hint``, and ``client_id`` (the application ARN, as
CreateTokenWithIAM's ``clientId``). The caller authenticates with SigV4 (service ``sso-oauth``, as
CreateTokenWithIAM) as an IAM principal that the application's ActorPolicy allows ``sso-oauth:IntrospectToken`` /
``sso-oauth:RevokeToken`` on the application (and its credential's identity policy, if it has one): the same
check as CreateTokenWithIAM (``TokenService.authorize_caller``), for another action.

* Introspection of a live access token of that application answers ``active: true`` with ``scope``,
  ``client_id``, ``sub``, ``exp``, ``iat``, ``aud``, ``iss`` and ``token_type`` (RFC 7662 section 2.2); any other
  token (expired, revoked, another application's, a refresh token, malformed, unknown) answers exactly
  ``{"active": false}`` (sections 2.2 and 4: nothing about why).
* Revocation of a refresh token of that application revokes its whole family (every access and refresh token
  issued from the same grant); of an access token, that token only (RFC 7009 section 2.1). Any other token
  (unknown, another application's, already revoked) changes nothing and is answered like a success (section 2.2:
  "invalid tokens do not cause an error"), so the answer never tells whether a token exists.

``token_type_hint`` (``access_token`` / ``refresh_token``) is accepted and not needed: the token's prefix
(``aoa``/``aor``) says what it is. The token is never logged or echoed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ssoidc.errors import InvalidClient, InvalidRequest
from ssoidc.model import Application, ConfigSnapshot
from ssoidc.oauth.request import Caller
from ssoidc.oauth.tokens import ACCESS_PREFIX, REFRESH_PREFIX, TokenMinter
from ssoidc.ratelimit import RequestLimits
from ssoidc.storage.base import TokenStore

INTROSPECT_ACTION = "sso-oauth:IntrospectToken"
REVOKE_ACTION = "sso-oauth:RevokeToken"
INACTIVE: dict[str, Any] = {"active": False}

Authorize = Callable[[ConfigSnapshot, Application, Caller, float, str], None]
"""``(snapshot, application, caller, now, action)``; raises AccessDenied (``TokenService.authorize_caller``)."""


@dataclass(frozen=True, slots=True)
class TokenQuery:
    """An introspection or revocation request (the form's members)."""

    client_id: str
    token: str
    token_type_hint: str | None = None


class TokenIntrospection:
    """RFC 7662 / RFC 7009 over the token store (see the module docstring)."""

    def __init__(
        self,
        *,
        store: TokenStore,
        minter: TokenMinter,
        authorize: Authorize,
        issuer_url: Callable[[ConfigSnapshot], str],
        limits: RequestLimits | None = None,
    ) -> None:
        self._store = store
        self._minter = minter
        self._authorize = authorize
        self._issuer_url = issuer_url
        self._limits = limits or RequestLimits()

    def _application(
        self, query: TokenQuery, caller: Caller, snapshot: ConfigSnapshot, now: float, action: str
    ) -> Application:
        """The application named by ``client_id``, once the caller is allowed ``action`` on it."""
        if not query.token:
            raise InvalidRequest("The request has no token parameter")
        app = snapshot.applications.get(query.client_id)
        if app is None or app.instance_arn != snapshot.instance.instance_arn or app.status != "ENABLED":
            raise InvalidClient(
                "client_id does not name an enabled application of this IAM Identity Center instance"
            )
        self._authorize(snapshot, app, caller, now, action)
        self._limits.admit_application(app.arn, now)
        return app

    async def introspect(
        self, query: TokenQuery, caller: Caller, snapshot: ConfigSnapshot, now: float
    ) -> dict[str, Any]:
        """RFC 7662 section 2.2: the token's metadata if it is a live access token of the application, else
        ``{"active": false}``."""
        app = self._application(query, caller, snapshot, now, INTROSPECT_ACTION)
        token_hash = self._minter.check(query.token, "access")
        if token_hash is None:
            return dict(INACTIVE)
        record = await self._store.find_token(token_hash)
        if (
            record is None
            or record.kind != "access"
            or record.application_arn != app.arn
            or record.revoked_at is not None
            or record.expires_at <= now
            or record.issued_at > now
        ):
            return dict(INACTIVE)
        return {
            "active": True,
            "scope": " ".join(record.scopes),
            "client_id": app.arn,
            "sub": record.user_id,
            "exp": int(record.expires_at),
            "iat": int(record.issued_at),
            "aud": app.arn,
            "iss": self._issuer_url(snapshot),
            "token_type": "Bearer",
        }

    async def revoke(self, query: TokenQuery, caller: Caller, snapshot: ConfigSnapshot, now: float) -> None:
        """RFC 7009 section 2.1: end the token (an access token) or its family (a refresh token); a token that
        is not a live one of the application changes nothing, and the caller is answered alike."""
        app = self._application(query, caller, snapshot, now, REVOKE_ACTION)
        token = query.token
        if token.startswith(ACCESS_PREFIX):
            token_hash = self._minter.check(token, "access")
            if token_hash is None:
                return
            record = await self._store.find_token(token_hash)
            if record is not None and record.kind == "access" and record.application_arn == app.arn:
                await self._store.revoke_token(token_hash, now)
        elif token.startswith(REFRESH_PREFIX):
            opened = self._minter.open_refresh(token, app.arn)
            if opened is None:
                return
            record = await self._store.find_token(opened[0])
            if record is not None and record.kind == "refresh" and record.application_arn == app.arn:
                await self._store.revoke_family(record.family_id, now, record.session_expires_at)

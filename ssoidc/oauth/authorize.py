"""Authorization-code issuance, the domain side of ``/authorize`` (RFC 6749 section 4.1.2, RFC 7636 section 4.3).

The sign-in flow that calls this lives elsewhere (web); until it exists, tests mint codes here. This module never
renders HTML and is not reachable over the network by itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from ssoidc.errors import InvalidRequest, InvalidScope
from ssoidc.model import GRANT_AUTHORIZATION_CODE, AuthorizationCodeGrant, Directory
from ssoidc.oauth import pkce
from ssoidc.oauth.grants.authorization_code import code_hash
from ssoidc.oauth.scopes import available_scopes, select_scopes
from ssoidc.storage.base import CodeRecord, CodeStore


class CodeIssuer:
    def __init__(
        self, *, store: CodeStore, code_ttl: int, session_ttl: int, default_scopes: tuple[str, ...]
    ) -> None:
        self._store = store
        self._ttl = code_ttl
        self._session_ttl = session_ttl
        self._defaults = default_scopes

    async def issue_code(
        self,
        directory: Directory,
        *,
        application_arn: str,
        user_id: str,
        redirect_uri: str,
        scopes: Sequence[str] | None,
        code_challenge: str | None,
        code_challenge_method: str | None,
        now: float,
        auth_time: float | None = None,
    ) -> str:
        app = directory.applications.get(application_arn)
        if app is None:
            raise InvalidRequest("unknown application")
        grant = app.grants.get(GRANT_AUTHORIZATION_CODE)
        if not isinstance(grant, AuthorizationCodeGrant):
            raise InvalidRequest("the application has no AuthorizationCode grant")
        if redirect_uri not in grant.redirect_uris:
            raise InvalidRequest("redirect_uri is not registered for this application")
        if user_id not in directory.users:
            raise InvalidRequest("unknown user")
        if code_challenge is not None:
            method = code_challenge_method or "plain"
            if method not in pkce.METHODS:
                raise InvalidRequest("code_challenge_method must be S256 or plain")
            if not pkce.verifier_is_well_formed(code_challenge) and method == "plain":
                raise InvalidRequest("code_challenge is malformed")
        else:
            method = None
        try:
            granted = select_scopes(
                scopes, available_scopes(self._defaults, (s.scope for s in app.access_scopes))
            )
        except InvalidScope:
            raise
        code = secrets.token_urlsafe(32)
        await self._store.create_code(
            CodeRecord(
                code_hash=code_hash(code),
                application_arn=app.arn,
                user_id=user_id,
                redirect_uri=redirect_uri,
                code_challenge=code_challenge,
                code_challenge_method=method,
                scopes=granted,
                family_id=secrets.token_urlsafe(16),
                issued_at=now,
                expires_at=now + self._ttl,
                session_expires_at=now + self._session_ttl,
                auth_time=auth_time if auth_time is not None else now,
            )
        )
        return code

"""The domain side of ``/authorize``: request validation (RFC 6749 section 4.1.1 and 4.1.2.1, RFC 7636 section
4.3) and authorization-code issuance (section 4.1.2). The pages live in ``ssoidc.web.signin``; this module never
renders HTML.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ssoidc.errors import InvalidRequest, InvalidScope
from ssoidc.model import GRANT_AUTHORIZATION_CODE, Application, AuthorizationCodeGrantConfig, ConfigSnapshot
from ssoidc.oauth import pkce
from ssoidc.oauth.grants.authorization_code import code_hash
from ssoidc.oauth.scopes import grantable_scopes, select_scopes
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
        directory: ConfigSnapshot,
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
        if not isinstance(grant, AuthorizationCodeGrantConfig):
            raise InvalidRequest("the application has no AuthorizationCode grant")
        if redirect_uri not in grant.redirect_uris:
            raise InvalidRequest("redirect_uri is not registered for this application")
        if not await directory.has_user(user_id):
            raise InvalidRequest("unknown user")
        if code_challenge is not None:
            method = code_challenge_method or "plain"
            if method not in pkce.METHODS:
                raise InvalidRequest("code_challenge_method must be S256 or plain")
            if not pkce.verifier_is_well_formed(code_challenge) and method == "plain":
                raise InvalidRequest("code_challenge is malformed")
        else:
            method = None
        granted = select_scopes(scopes, grantable_scopes(app, self._defaults))
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


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """A validated authorization request (RFC 6749 section 4.1.1, RFC 7636 section 4.3)."""

    application: Application
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None


class AuthorizeError(Exception):
    """An invalid authorization request. ``redirect`` is False when the client or redirect URI cannot be trusted,
    so the user sees an error page instead of being sent anywhere (RFC 6749 section 4.1.2.1)."""

    def __init__(
        self, error: str, description: str, *, redirect: bool, request: AuthorizeRequest | None = None
    ):
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirect = redirect
        self.request = request


KNOWN_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "scopes",
    "code_challenge",
    "code_challenge_method",
)


def parse_authorize_request(
    params: Mapping[str, Sequence[str]], directory: ConfigSnapshot, default_scopes: Sequence[str]
) -> AuthorizeRequest:
    """Validate ``/authorize`` parameters (each a list of the values received).

    Client and redirect URI problems raise ``AuthorizeError(redirect=False)``; everything else
    ``AuthorizeError(redirect=True)`` carrying the partially validated request so the error can be redirected.
    """

    def one(name: str) -> str | None:
        values = params.get(name) or []
        if len(values) > 1:
            raise AuthorizeError(
                "invalid_request", f"Parameter {name} was sent more than once", redirect=False
            )
        return values[0] if values else None

    client_id = one("client_id")
    if not client_id:
        raise AuthorizeError("invalid_request", "The request has no client_id.", redirect=False)
    app = directory.applications.get(client_id)
    if app is None or app.instance_arn != directory.instance.instance_arn:
        raise AuthorizeError("invalid_client", "No application with this client_id exists.", redirect=False)
    grant = app.grants.get(GRANT_AUTHORIZATION_CODE)
    if not isinstance(grant, AuthorizationCodeGrantConfig):
        raise AuthorizeError(
            "unauthorized_client",
            f"The application {app.name} is not configured for the authorization code grant.",
            redirect=False,
        )
    redirect_uri = one("redirect_uri")
    if not redirect_uri:
        raise AuthorizeError("invalid_request", "The request has no redirect_uri.", redirect=False)
    if redirect_uri not in grant.redirect_uris:
        raise AuthorizeError(
            "invalid_request",
            f"The redirect_uri is not registered for the application {app.name}, so you were not sent back to it.",
            redirect=False,
        )
    state = one("state")
    partial = AuthorizeRequest(app, redirect_uri, state, (), None, None)

    def fail(error: str, description: str) -> AuthorizeError:
        return AuthorizeError(error, description, redirect=True, request=partial)

    if state is not None and len(state) > 2048:
        raise fail("invalid_request", "state is longer than 2048 characters")
    if app.status != "ENABLED":
        raise fail("unauthorized_client", "The application is disabled")
    for name in KNOWN_PARAMS:
        try:
            one(name)
        except AuthorizeError:
            raise fail("invalid_request", f"Parameter {name} was sent more than once") from None
    response_type = one("response_type")
    if response_type is None:
        raise fail("invalid_request", "response_type is required")
    if response_type != "code":
        raise fail("unsupported_response_type", "Only response_type=code is supported")
    challenge = one("code_challenge")
    method = one("code_challenge_method")
    if challenge is None and method is not None:
        raise fail("invalid_request", "code_challenge_method was sent without code_challenge")
    if challenge is not None:
        method = method or "plain"
        if method not in pkce.METHODS:
            raise fail("invalid_request", "code_challenge_method must be S256 or plain")
        if not pkce.challenge_is_well_formed(challenge) or (method == "S256" and len(challenge) != 43):
            raise fail("invalid_request", "code_challenge is malformed (RFC 7636 section 4.2)")
    raw_scope = one("scope")
    if raw_scope is None:
        raw_scope = one("scopes")
    requested = raw_scope.split() if raw_scope else None
    try:
        scopes = select_scopes(requested, grantable_scopes(app, default_scopes))
    except InvalidScope as exc:
        raise fail("invalid_scope", exc.message) from None
    return AuthorizeRequest(app, redirect_uri, state, scopes, challenge, method)

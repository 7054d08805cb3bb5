"""The domain side of ``/authorize``: request validation (RFC 6749 section 4.1.1 and 4.1.2.1, RFC 7636 section
4.3) and authorization-code issuance (section 4.1.2). The pages live in ``ssoidc.web.signin``; this module never
renders HTML.

What is refused before anything is redirected (an error page, never a redirect: RFC 6749 section 4.1.2.1, RFC
9700 section 4.11): an unknown client, a ``redirect_uri`` that is not registered (exact string match, RFC 9700
section 2.1) or that no longer passes ``ssoidc.oauth.redirect_uri`` (a URI stored before those rules is never
redirected to), and a ``state`` that cannot be echoed safely: longer than ``MAX_STATE`` characters or with a
control character (the error redirect would have to carry it). Everything else (a bad ``nonce``, PKCE, scopes)
redirects ``invalid_request`` and friends to the validated redirect URI.

PKCE (RFC 7636, RFC 9700 section 2.1.1): optional, as before (the applications' token requests are SigV4
authenticated), but when a ``code_challenge`` is sent its ``code_challenge_method`` must be ``S256``: ``plain``
and a missing method (which means ``plain``, RFC 7636 section 4.3) are refused. ``nonce`` (OIDC Core 3.1.2.1) is
kept with the code and returned in the idToken of the authorization-code grant (OIDC Core 3.1.3.6).

Public clients (RegisterClient; what ``aws sso login`` opens since AWS CLI 2.22): ``client_id`` is the
registration's ``clientId``; the registration must allow the authorization-code grant; ``redirect_uri`` is matched
against its ``redirectUris`` with the native-client policy (a registered ``http://127.0.0.1/oauth/callback``
matches any port, RFC 8252 section 7.3); PKCE with ``S256`` is required (RFC 7636; RFC 9700 section 2.1.1);
``scopes`` (the AWS CLI's parameter) or ``scope`` may narrow the registration's scopes.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ssoidc.errors import InvalidRequest, InvalidScope
from ssoidc.model import GRANT_AUTHORIZATION_CODE, Application, AuthorizationCodeGrantConfig, ConfigSnapshot
from ssoidc.oauth import pkce
from ssoidc.oauth.clients import allowed_grants, client_application, token_scopes
from ssoidc.oauth.grants.authorization_code import code_hash
from ssoidc.oauth.redirect_uri import APPLICATION, NATIVE, RedirectPolicy, registered_match
from ssoidc.oauth.scopes import grantable_scopes, select_scopes
from ssoidc.storage.base import ClientRecord, CodeRecord, CodeStore

MAX_STATE = 2048
"""The longest ``state`` accepted (characters); longer ones get an error page, never a redirect."""
MAX_NONCE = 2048
"""The longest ``nonce`` accepted (characters); it is stored with the code and copied into the idToken."""


def has_control_character(value: str) -> bool:
    """True if ``value`` holds a C0 or C1 control character or DEL (refused in ``state`` and ``nonce``)."""
    return any(c < " " or "\x7f" <= c <= "\x9f" for c in value)


def nonce_problem(nonce: str | None) -> str | None:
    """Why ``nonce`` is refused, or None (OIDC Core 3.1.2.1: an opaque string; here at most ``MAX_NONCE``
    characters, without control characters, and not empty)."""
    if nonce is None:
        return None
    if not nonce:
        return "nonce must not be empty"
    if len(nonce) > MAX_NONCE:
        return f"nonce is longer than {MAX_NONCE} characters"
    if has_control_character(nonce):
        return "nonce must not contain control characters"
    return None


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
        nonce: str | None = None,
        public_client: ClientRecord | None = None,
    ) -> str:
        """Issue a code for a validated request (RFC 6749 section 4.1.2). The bindings are checked again here, so
        no caller can bind a code to an unregistered or unsafe redirect URI, a ``plain`` challenge or a bad
        nonce."""
        policy: RedirectPolicy = APPLICATION
        if public_client is not None:  # a RegisterClient registration: PKCE S256 required
            app: Application | None = client_application(public_client, directory)
            policy = NATIVE
            if GRANT_AUTHORIZATION_CODE not in allowed_grants(public_client):
                raise InvalidRequest("the client is not registered for the authorization_code grant")
            if code_challenge is None or code_challenge_method != "S256":
                raise InvalidRequest("a public client must use PKCE with S256")
            available = token_scopes(public_client)
        else:
            app = directory.applications.get(application_arn)
        if app is None or app.arn != application_arn:
            raise InvalidRequest("unknown application")
        grant = app.grants.get(GRANT_AUTHORIZATION_CODE)
        if not isinstance(grant, AuthorizationCodeGrantConfig):
            raise InvalidRequest("the application has no AuthorizationCode grant")
        if registered_match(redirect_uri, grant.redirect_uris, policy) != redirect_uri:
            raise InvalidRequest("redirect_uri is not a registered, valid redirect URI of this application")
        if not await directory.has_user(user_id):
            raise InvalidRequest("unknown user")
        if code_challenge is not None:
            method = code_challenge_method
            if method not in pkce.METHODS:
                raise InvalidRequest("code_challenge_method must be S256")
            if not pkce.challenge_is_well_formed(code_challenge) or len(code_challenge) != 43:
                raise InvalidRequest("code_challenge is malformed")
        elif code_challenge_method is not None:
            raise InvalidRequest("code_challenge_method was sent without code_challenge")
        else:
            method = None
        problem = nonce_problem(nonce)
        if problem is not None:
            raise InvalidRequest(problem)
        if public_client is None:
            available = grantable_scopes(app, self._defaults)
        granted = select_scopes(scopes, available)
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
                nonce=nonce,
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
    nonce: str | None = None
    public_client: ClientRecord | None = None
    """The registration, when ``client_id`` named a public client (RegisterClient); ``application`` is then its
    ``client_application``."""


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
    "nonce",
)


def parse_authorize_request(
    params: Mapping[str, Sequence[str]],
    directory: ConfigSnapshot,
    default_scopes: Sequence[str],
    public_client: ClientRecord | None = None,
) -> AuthorizeRequest:
    """Validate ``/authorize`` parameters (each a list of the values received); ``public_client``: the live
    registration ``client_id`` names, when it names no application (the caller looks it up).

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
    policy: RedirectPolicy = APPLICATION
    app: Application | None
    if public_client is not None and public_client.client_id == client_id:
        app = client_application(public_client, directory)
        policy = NATIVE
    else:
        public_client = None
        app = directory.applications.get(client_id)
    if app is None or app.instance_arn != directory.instance.instance_arn:
        raise AuthorizeError("invalid_client", "No application with this client_id exists.", redirect=False)
    grant = app.grants.get(GRANT_AUTHORIZATION_CODE)
    if public_client is not None and GRANT_AUTHORIZATION_CODE not in allowed_grants(public_client):
        grant = None
    if not isinstance(grant, AuthorizationCodeGrantConfig):
        raise AuthorizeError(
            "unauthorized_client",
            f"The application {app.name} is not configured for the authorization code grant.",
            redirect=False,
        )
    redirect_uri = one("redirect_uri")
    if not redirect_uri:
        raise AuthorizeError("invalid_request", "The request has no redirect_uri.", redirect=False)
    registered = redirect_uri in grant.redirect_uris
    if registered_match(redirect_uri, grant.redirect_uris, policy) is None:
        reason = (
            "is registered for the application {name} but is not a valid redirect URI (https, http on a loopback"
            " host, or a private-use scheme; no fragment, userinfo or wildcard), so you were not sent to it"
            if registered
            else "is not registered for the application {name}, so you were not sent back to it"
        )
        raise AuthorizeError(
            "invalid_request", "The redirect_uri " + reason.format(name=app.name) + ".", redirect=False
        )
    state = one("state")
    if state is not None and (len(state) > MAX_STATE or has_control_character(state)):
        raise AuthorizeError(
            "invalid_request",
            f"The state parameter is longer than {MAX_STATE} characters or contains control characters, so it"
            " cannot be returned to the application.",
            redirect=False,
        )
    partial = AuthorizeRequest(app, redirect_uri, state, (), None, None, public_client=public_client)

    def fail(error: str, description: str) -> AuthorizeError:
        return AuthorizeError(error, description, redirect=True, request=partial)

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
        if method is None:
            raise fail(
                "invalid_request",
                "code_challenge_method is required and must be S256 (plain PKCE is not accepted)",
            )
        if method not in pkce.METHODS:
            raise fail("invalid_request", "code_challenge_method must be S256 (plain PKCE is not accepted)")
        if not pkce.challenge_is_well_formed(challenge) or (method == "S256" and len(challenge) != 43):
            raise fail("invalid_request", "code_challenge is malformed (RFC 7636 section 4.2)")
    elif public_client is not None:
        raise fail("invalid_request", "code_challenge is required: public clients must use PKCE with S256")
    nonce = one("nonce")
    problem = nonce_problem(nonce)
    if problem is not None:
        raise fail("invalid_request", problem)
    raw_scope = one("scope")
    if raw_scope is None:
        raw_scope = one("scopes")
    requested = raw_scope.split() if raw_scope else None
    available = (
        token_scopes(public_client) if public_client is not None else grantable_scopes(app, default_scopes)
    )
    try:
        scopes = select_scopes(requested, available)
    except InvalidScope as exc:
        raise fail("invalid_scope", exc.message) from None
    return AuthorizeRequest(
        app, redirect_uri, state, scopes, challenge, method, nonce, public_client=public_client
    )

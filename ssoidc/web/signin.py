"""The browser side of the authorization-code flow: ``/authorize``, the sign-in and consent pages, sign-out, and
the demo callback; and the device flow's verification pages (RFC 8628 section 3.3): ``/device`` (enter or confirm
the user code), sign in, approve or deny on a page that names the client and shows the code, a done page. Wrong
codes are counted per browser (its CSRF cookie) and per address (``lockout_threshold`` and four times that, in
``lockout_window``; then ``lockout_seconds`` of refusal) and answered with one generic message. Server-rendered (Jinja2, autoescaped), no JavaScript, no external assets.

Security measures: a strict Content-Security-Policy on every page (``default-src 'none'``; ``form-action 'self'``,
and on the consent page also exactly the origin of the redirect URI that request was validated with, built from
its parsed scheme, host and port (``https://app.example.com``, ``http://127.0.0.1:8400``, ``com.example.app:``),
since browsers apply ``form-action`` to the redirect that follows a form post), ``frame-ancestors 'none'``,
``Referrer-Policy: no-referrer``, ``Cache-Control: no-store``; CSRF tokens on every form (an HMAC of a random
per-browser cookie, compared in constant time); the session cookie is HttpOnly, SameSite=Lax and Secure when the
public URL is https. The authorization request travels through the forms
as its original query string and is validated again on every POST, so tampering with it gains nothing. Every
redirect to the application goes through ``_to_client``, which checks the target against
``ssoidc.oauth.redirect_uri`` once more (RFC 9700 section 4.1: never an open redirector) and shows an error page
instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ssoidc.base64url import b64u
from ssoidc.compose import Services
from ssoidc.crypto import derive_key
from ssoidc.demo import demo_redirect_uri
from ssoidc.model import ConfigSnapshot
from ssoidc.oauth.authorize import AuthorizeError, AuthorizeRequest, parse_authorize_request
from ssoidc.oauth.device import format_user_code, normalize_user_code
from ssoidc.oauth.redirect_uri import APPLICATION, form_action_source, is_valid
from ssoidc.oauth.signin import SignInFailed, SignInLocked
from ssoidc.storage.base import DeviceRecord

SESSION_COOKIE = "ssoidc_session"
CSRF_COOKIE = "ssoidc_csrf"
SCOPE_TEXT = {
    "openid": "Confirm your identity (OpenID Connect)",
    "aws": "Use AWS on your behalf",
    "sts:identity_context": "Pass your identity to AWS services (trusted identity propagation)",
    "sso:account:access": "Use your AWS accounts and roles (AWS access portal)",
}
DEVICE_BAD_CODE = "That code isn't valid or has expired. Check the code your terminal shows and try again."
DEVICE_ADDRESS_FACTOR = 4
"""The per-address limit on wrong user codes is this many times the per-browser one (several browsers may share
an address)."""

_env = Environment(
    loader=PackageLoader("ssoidc.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _csp(extra_form_action: str = "") -> str:
    form_action = "'self'" + (f" {extra_form_action}" if extra_form_action else "")
    return (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none';"
        f" form-action {form_action}"
    )


def with_params(uri: str, params: dict[str, str | None]) -> str:
    clean = {k: v for k, v in params.items() if v is not None}
    return uri + ("&" if "?" in uri else "?") + urlencode(clean)


class SignInPages:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self._csrf_key = derive_key(services.master_key, "csrf")
        self._secure = self.settings.base_url.startswith("https://")

    # -- helpers ----------------------------------------------------------------------------------------------
    def _page(
        self,
        request: Request,
        template: str,
        status: int = 200,
        *,
        form_action: str = "",
        **context: Any,
    ) -> HTMLResponse:
        csrf_cookie = request.cookies.get(CSRF_COOKIE)
        new_cookie = None
        if not csrf_cookie or len(csrf_cookie) > 100:
            csrf_cookie = new_cookie = secrets.token_urlsafe(32)
        context.setdefault("product", "ssoidc")
        html = _env.get_template(template).render(csrf_token=self._csrf_token(csrf_cookie), **context)
        response = HTMLResponse(html, status)
        response.headers["content-security-policy"] = _csp(form_action)
        response.headers["x-frame-options"] = "DENY"
        response.headers["referrer-policy"] = "no-referrer"
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["cache-control"] = "no-store"
        if new_cookie:
            response.set_cookie(
                CSRF_COOKIE, new_cookie, httponly=True, samesite="lax", secure=self._secure, path="/"
            )
        return response

    def _csrf_token(self, cookie: str) -> str:
        return b64u(hmac.new(self._csrf_key, cookie.encode(), hashlib.sha256).digest())

    def _csrf_ok(self, request: Request, form: Any) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE)
        sent = form.get("csrf_token")
        if not cookie or not isinstance(sent, str) or len(cookie) > 100:
            return False
        return hmac.compare_digest(self._csrf_token(cookie).encode(), sent.encode("utf-8", "replace"))

    def _error(
        self, request: Request, status: int, title: str, detail: str, advice: str = ""
    ) -> HTMLResponse:
        return self._page(request, "error.html", status, title=title, detail=detail, advice=advice)

    async def _parse(self, query: str, directory: ConfigSnapshot) -> AuthorizeRequest:
        """Validate an authorization request; a ``client_id`` that names no application is looked up among the
        live public-client registrations (RegisterClient)."""
        params = parse_qs(query, keep_blank_values=True)
        client = None
        ids = params.get("client_id") or []
        if len(ids) == 1 and ids[0] and ids[0] not in directory.applications:
            client = await self.services.public.registry.find(ids[0], self.services.clock.now())
        return parse_authorize_request(params, directory, self.settings.default_scopes, client)

    def _to_client(
        self, request: Request, redirect_uri: str, params: dict[str, str | None], status: int
    ) -> Response:
        """The redirect back to the application (RFC 6749 section 4.1.2), only to a URI that passes
        ``validate_redirect_uri`` (checked again here, whatever validated the request before)."""
        if not is_valid(redirect_uri, APPLICATION):
            return self._error(
                request,
                400,
                "This sign-in request can't be used",
                "The application's redirect URI is not a valid redirect URI, so you were not sent to it.",
                "Tell the application's administrator.",
            )
        return RedirectResponse(with_params(redirect_uri, params), status)

    def _authorize_error(self, request: Request, exc: AuthorizeError, status: int = 302) -> Response:
        if exc.redirect and exc.request is not None:
            return self._to_client(
                request,
                exc.request.redirect_uri,
                {
                    "error": exc.error,
                    "error_description": exc.description,
                    "state": exc.request.state or None,
                },
                status,
            )
        return self._error(
            request,
            400,
            "This sign-in request can't be used",
            exc.description,
            "Go back to the application and start again. If it keeps happening, the application's configuration"
            " (client id or redirect URI) does not match what ssoidc knows; tell its administrator.",
        )

    async def _session(self, request: Request, directory: ConfigSnapshot) -> tuple[str, float] | None:
        s = await self.services.signin.session(request.cookies.get(SESSION_COOKIE), self.services.clock.now())
        if s is None or not await directory.has_user(s.user_id):
            return None
        return s.user_id, s.auth_time

    def _signin_page(
        self,
        request: Request,
        areq: AuthorizeRequest,
        query: str,
        error: str = "",
        username: str = "",
        status: int = 200,
    ) -> HTMLResponse:
        return self._page(
            request,
            "signin.html",
            status,
            app_name=areq.application.name,
            request_query=query,
            error=error,
            username=username,
        )

    async def _consent_or_gate(
        self, request: Request, directory: ConfigSnapshot, areq: AuthorizeRequest, query: str, user_id: str
    ) -> HTMLResponse:
        user = await directory.directory.get_user(user_id)
        if user is None:  # deleted since the session was checked: sign in again
            return self._signin_page(request, areq, query)
        app = areq.application
        if not await directory.may_use(app, user_id):
            return self._page(
                request,
                "error.html",
                403,
                title=f"You don't have access to {app.name}",
                detail=f"You are signed in as {user.user_name}, but {app.name} is only available to users and"
                " groups assigned to it, and you are not one of them.",
                advice="Ask the application's administrator to assign you (or a group you belong to), then try"
                " again. To use another account, sign out first.",
                show_signout=True,
                user_name=user.user_name,
            )
        scopes = [(s, SCOPE_TEXT.get(s, f"Access {s}")) for s in areq.scopes]
        return self._page(
            request,
            "consent.html",
            form_action=form_action_source(areq.redirect_uri),
            app_name=app.name,
            app_description=app.description,
            scopes=scopes,
            request_query=query,
            user_name=user.user_name,
        )

    async def _posted_form(
        self, request: Request, what: str
    ) -> Response | tuple[Any, ConfigSnapshot, str, AuthorizeRequest]:
        """Every POST of the flow: CSRF check, then the authorization request validated again from the form."""
        form = await request.form()
        if not self._csrf_ok(request, form):
            return self._error(
                request,
                400,
                f"Your {what} form expired",
                "The form was missing its security token, or it came from another page.",
                "Go back to the application and start the sign-in again.",
            )
        directory = await self.services.snapshot.refresh()
        query = str(form.get("request", ""))
        try:
            return form, directory, query, await self._parse(query, directory)
        except AuthorizeError as exc:
            return self._authorize_error(request, exc, 303)

    # -- routes -----------------------------------------------------------------------------------------------
    async def authorize(self, request: Request) -> Response:
        directory = await self.services.snapshot.refresh()
        query = request.url.query
        try:
            areq = await self._parse(query, directory)
        except AuthorizeError as exc:
            return self._authorize_error(request, exc)
        session = await self._session(request, directory)
        if session is None:
            return self._signin_page(request, areq, query)
        return await self._consent_or_gate(request, directory, areq, query, session[0])

    async def signin(self, request: Request) -> Response:
        posted = await self._posted_form(request, "sign-in")
        if isinstance(posted, Response):
            return posted
        form, directory, query, areq = posted
        username = str(form.get("username", ""))[:256]
        password = str(form.get("password", ""))[:1024]
        try:
            user_id = await self.services.signin.authenticate(
                directory, username, password, self.services.clock.now()
            )
        except SignInLocked as exc:
            minutes = max(1, round((exc.until - self.services.clock.now()) / 60))
            return self._signin_page(
                request,
                areq,
                query,
                username=username,
                status=429,
                error=f"Too many failed sign-in attempts. This account is temporarily locked; try again in"
                f" {minutes} minute{'s' if minutes != 1 else ''}.",
            )
        except SignInFailed:
            return self._signin_page(
                request, areq, query, username=username, status=401, error="Incorrect username or password."
            )
        sid = await self.services.signin.start_session(user_id, self.services.clock.now())
        response = RedirectResponse("/authorize?" + query, 303)
        response.set_cookie(
            SESSION_COOKIE,
            sid,
            max_age=self.settings.web_session_ttl,
            httponly=True,
            samesite="lax",
            secure=self._secure,
            path="/",
        )
        return response

    async def consent(self, request: Request) -> Response:
        posted = await self._posted_form(request, "consent")
        if isinstance(posted, Response):
            return posted
        form, directory, query, areq = posted
        session = await self._session(request, directory)
        if session is None:
            return self._signin_page(request, areq, query, error="Your session ended. Please sign in again.")
        user_id, auth_time = session
        gate = await self._consent_or_gate(request, directory, areq, query, user_id)
        if gate.status_code != 200:
            return gate
        if form.get("decision") != "allow":
            return self._to_client(
                request,
                areq.redirect_uri,
                {
                    "error": "access_denied",
                    "error_description": "The user declined the request",
                    "state": areq.state,
                },
                303,
            )
        code = await self.services.code_issuer.issue_code(
            directory,
            application_arn=areq.application.arn,
            user_id=user_id,
            redirect_uri=areq.redirect_uri,
            scopes=areq.scopes,
            code_challenge=areq.code_challenge,
            code_challenge_method=areq.code_challenge_method,
            now=self.services.clock.now(),
            auth_time=auth_time,
            nonce=areq.nonce,
            public_client=areq.public_client,
        )
        return self._to_client(request, areq.redirect_uri, {"code": code, "state": areq.state}, 303)

    async def signout(self, request: Request) -> Response:
        form = await request.form()
        if not self._csrf_ok(request, form):
            return self._error(
                request,
                400,
                "Your sign-out form expired",
                "The form was missing its security token, or it came from another page.",
            )
        await self.services.signin.end_session(request.cookies.get(SESSION_COOKIE))
        response = self._page(request, "signed_out.html")
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=self._secure)
        return response

    # -- the device flow (RFC 8628 section 3.3: the user side of StartDeviceAuthorization) ----------------------
    def _attempt_keys(self, request: Request) -> list[tuple[str, int]]:
        """The brute-force counters of user-code entry: this browser (its CSRF cookie) and its address."""
        cookie = request.cookies.get(CSRF_COOKIE, "")
        browser = hashlib.sha256(cookie.encode("utf-8", "replace")).hexdigest()
        addr = request.client.host if request.client is not None else "unknown"
        threshold = self.settings.lockout_threshold
        return [
            ("device-browser:" + browser, threshold),
            ("device-addr:" + hashlib.sha256(addr.encode()).hexdigest(), threshold * DEVICE_ADDRESS_FACTOR),
        ]

    async def _device_locked(self, request: Request) -> float | None:
        now = self.services.clock.now()
        ends = [await self.services.store.locked_until(k, now) for k, _ in self._attempt_keys(request)]
        return max((e for e in ends if e is not None), default=None)

    async def _device_failure(self, request: Request) -> float | None:
        now = self.services.clock.now()
        locked = None
        for key, threshold in self._attempt_keys(request):
            until = await self.services.store.record_failure(
                key,
                now,
                window=self.settings.lockout_window,
                threshold=threshold,
                lock_seconds=self.settings.lockout_seconds,
            )
            locked = until if until is not None else locked
        return locked

    def _device_page(
        self, request: Request, *, error: str = "", user_code: str = "", status: int = 200
    ) -> HTMLResponse:
        return self._page(request, "device.html", status, error=error, user_code=user_code)

    def _device_locked_page(self, request: Request, until: float) -> HTMLResponse:
        minutes = max(1, round((until - self.services.clock.now()) / 60))
        return self._device_page(
            request,
            status=429,
            error=f"Too many wrong codes. Code entry is paused; try again in {minutes}"
            f" minute{'s' if minutes != 1 else ''}.",
        )

    async def _device_code(self, request: Request, form: Any) -> Response | tuple[DeviceRecord, str, str]:
        """The pending device authorization of the posted code, under the brute-force limits: a wrong code
        answers the code page with a generic error; too many lock entry for a while (this browser and address).
        Returns the record, the code as shown (XXXX-XXXX) and the client's name."""
        locked = await self._device_locked(request)
        if locked is not None:
            return self._device_locked_page(request, locked)
        raw = str(form.get("user_code", ""))[:32]
        now = self.services.clock.now()
        device = await self.services.public.devices.pending(raw, now)
        client = None
        if device is not None:
            client = await self.services.public.registry.find(device.client_id, now)
        if device is None or client is None:
            until = await self._device_failure(request)
            if until is not None:
                return self._device_locked_page(request, until)
            return self._device_page(request, error=DEVICE_BAD_CODE, user_code=raw, status=400)
        shown = format_user_code(normalize_user_code(raw) or "")
        return device, shown, client.client_name

    async def _device_approve_page(
        self, request: Request, device: DeviceRecord, shown: str, client_name: str, user_id: str
    ) -> HTMLResponse:
        directory = await self.services.snapshot.refresh()
        user = await directory.directory.get_user(user_id)
        scopes = [(s, SCOPE_TEXT.get(s, f"Access {s}")) for s in device.scopes]
        return self._page(
            request,
            "device_approve.html",
            client_name=client_name,
            user_code=shown,
            scopes=scopes,
            user_name=user.user_name if user is not None else user_id,
        )

    async def _device_form(self, request: Request) -> Response | Any:
        form = await request.form()
        if not self._csrf_ok(request, form):
            return self._error(
                request,
                400,
                "Your form expired",
                "The form was missing its security token, or it came from another page.",
                "Open the verification page again and re-enter the code.",
            )
        return form

    async def device(self, request: Request) -> Response:
        """GET /device: enter the code, or confirm the one in ``?user_code=`` (nothing is looked up yet)."""
        return self._device_page(request, user_code=request.query_params.get("user_code", "")[:32])

    async def _device_step(
        self, request: Request
    ) -> Response | tuple[Any, DeviceRecord, str, str, tuple[str, float] | None]:
        """What both device POSTs start with: the form (CSRF), the code it names (limits apply) and the browser's
        session: ``(form, device, shown code, client name, session or None)``, or the page that refuses."""
        form = await self._device_form(request)
        if isinstance(form, Response):
            return form
        found = await self._device_code(request, form)
        if isinstance(found, Response):
            return found
        device, shown, client_name = found
        session = await self._session(request, await self.services.snapshot.refresh())
        return form, device, shown, client_name, session

    async def device_submit(self, request: Request) -> Response:
        """POST /device: check the code (limits apply), then sign in or go straight to the approval page."""
        step = await self._device_step(request)
        if isinstance(step, Response):
            return step
        _, device, shown, client_name, session = step
        if session is None:
            return self._page(request, "device_signin.html", client_name=client_name, user_code=shown)
        return await self._device_approve_page(request, device, shown, client_name, session[0])

    async def device_signin(self, request: Request) -> Response:
        form = await self._device_form(request)
        if isinstance(form, Response):
            return form
        found = await self._device_code(request, form)
        if isinstance(found, Response):
            return found
        device, shown, client_name = found
        directory = await self.services.snapshot.refresh()
        username = str(form.get("username", ""))[:256]
        password = str(form.get("password", ""))[:1024]
        now = self.services.clock.now()

        def again(error: str, status: int) -> HTMLResponse:
            return self._page(
                request,
                "device_signin.html",
                status,
                client_name=client_name,
                user_code=shown,
                username=username,
                error=error,
            )

        try:
            user_id = await self.services.signin.authenticate(directory, username, password, now)
        except SignInLocked as exc:
            minutes = max(1, round((exc.until - now) / 60))
            return again(
                f"Too many failed sign-in attempts. This account is temporarily locked; try again in"
                f" {minutes} minute{'s' if minutes != 1 else ''}.",
                429,
            )
        except SignInFailed:
            return again("Incorrect username or password.", 401)
        sid = await self.services.signin.start_session(user_id, now)
        response = await self._device_approve_page(request, device, shown, client_name, user_id)
        response.set_cookie(
            SESSION_COOKIE,
            sid,
            max_age=self.settings.web_session_ttl,
            httponly=True,
            samesite="lax",
            secure=self._secure,
            path="/",
        )
        return response

    async def device_decide(self, request: Request) -> Response:
        """POST /device/decide: the signed-in user approves or denies (always the session's user)."""
        step = await self._device_step(request)
        if isinstance(step, Response):
            return step
        form, _, shown, client_name, session = step
        if session is None:
            return self._page(
                request,
                "device_signin.html",
                client_name=client_name,
                user_code=shown,
                error="Your session ended. Please sign in again.",
            )
        user_id, auth_time = session
        approve = form.get("decision") == "allow"
        decided = await self.services.public.devices.decide(
            shown,
            approve=approve,
            user_id=user_id,
            auth_time=auth_time,
            now=self.services.clock.now(),
            via="the device page (signed-in user)",
        )
        if decided is None:
            return self._device_page(request, error=DEVICE_BAD_CODE, status=400)
        if approve:
            return self._page(
                request,
                "device_done.html",
                title="Device authorized",
                detail=f"{client_name} can now continue. Return to your terminal or application.",
            )
        return self._page(
            request,
            "device_done.html",
            title="Request denied",
            detail=f"{client_name} was not given access.",
        )

    async def demo_callback(self, request: Request) -> Response:
        if not self.settings.demo:
            return self._error(request, 404, "Not found", "This page exists only in demo mode.")
        q = request.query_params
        return self._page(
            request,
            "demo_callback.html",
            code=q.get("code", ""),
            state=q.get("state", ""),
            error=q.get("error", ""),
            error_description=q.get("error_description", ""),
            base_url=self.settings.base_url,
            redirect_uri=demo_redirect_uri(self.settings),
        )

    async def stylesheet(self, request: Request) -> Response:
        css = (_STATIC / "ssoidc.css").read_bytes()
        return Response(
            css,
            media_type="text/css",
            headers={"cache-control": "public, max-age=3600", "x-content-type-options": "nosniff"},
        )

    def routes(self) -> list[Route]:
        return [
            Route("/authorize", self.authorize, methods=["GET"]),
            Route("/authorize/signin", self.signin, methods=["POST"]),
            Route("/authorize/consent", self.consent, methods=["POST"]),
            Route("/signout", self.signout, methods=["POST"]),
            Route("/device", self.device, methods=["GET"]),
            Route("/device", self.device_submit, methods=["POST"]),
            Route("/device/signin", self.device_signin, methods=["POST"]),
            Route("/device/decide", self.device_decide, methods=["POST"]),
            Route("/demo/callback", self.demo_callback, methods=["GET"]),
            Route("/static/ssoidc.css", self.stylesheet, methods=["GET"]),
        ]


from importlib import resources as _resources  # noqa: E402

_STATIC = _resources.files("ssoidc.web").joinpath("static")

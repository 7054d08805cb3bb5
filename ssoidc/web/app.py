"""The ASGI application: the lifespan, the AWS fast path and the pages; no logic lives here.

Every AWS request goes to the skeleton (``ssoidc.aws.skeleton``), whose routes come from the botocore models:

  POST /token?aws_iam=t, /token, /client/register, /device_authorization     sso-oidc (rest-json)
  GET  /assignment/accounts, /assignment/roles, /federation/credentials; POST /logout   the access portal (sso)
  POST /  X-Amz-Target: SWBExternalService.*, AWSIdentityStore.*              sso-admin, identitystore (JSON 1.1)
  POST /  form body Action=...                                                STS (AWS Query)

It is served here directly (the hot path: no routing, no Request/Response objects). Everything else is a
Starlette route:

  GET  /healthz                                  liveness: 200 once the node serves requests (never asks the store)
  GET  /readyz                                   readiness: 200 if the store answers a one-row read, else 503
  GET  /<instance id>/.well-known/openid-configuration, /<instance id>/.well-known/jwks.json
                                                 OIDC discovery and JWKS for our idTokens
  GET  /demo-issuer/.well-known/openid-configuration, /demo-issuer/jwks.json   (demo mode only)
  GET  /authorize, POST /authorize/signin, /authorize/consent, /signout, GET /demo/callback, /static/ssoidc.css
                                                 the sign-in flow (ssoidc.web.signin)
  GET|HEAD /start                                one 302 to the instance's AWS-form start URL (ssoidc.web.start)
  POST /introspect, /revoke                      RFC 7662 introspection, RFC 7009 revocation, SigV4 (sso-oauth)
                                                 (ssoidc.web.introspection)

``create_app``'s lifespan builds the node's services (``ssoidc.compose.build_services``) and only then the routes
(``build_app``), so no route sees a half-built node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from ssoidc.aws.faults import DropConnection
from ssoidc.aws.skeleton import MAX_BODY, NO_STORE
from ssoidc.aws.wire import WireRequest, WireResponse
from ssoidc.clock import Clock
from ssoidc.compose import Services, build_services
from ssoidc.demo import demo_discovery
from ssoidc.oauth import pkce
from ssoidc.settings import Settings, settings_from_env
from ssoidc.web.http_limits import ABORT_EXTENSION
from ssoidc.web.introspection import IntrospectionEndpoints
from ssoidc.web.signin import SignInPages
from ssoidc.web.start import StartPage
from ssoidc.web.testing import TestingControls

log = logging.getLogger("ssoidc.web")

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


def _json(doc: object, status: int = 200, cache: str = "no-store") -> Response:
    headers = {"cache-control": cache}
    if cache == "no-store":
        headers["pragma"] = "no-cache"  # HTTP/1.0 caches (RFC 9111 section 5.4)
    return Response(orjson.dumps(doc), status, media_type="application/json", headers=headers)


class _Gone(Exception):
    """The client disconnected before its request body was read."""


def create_app(
    settings: Settings,
    *,
    bootstrap: bool = True,
    clock: Clock | None = None,
    on_start: Callable[[Services], None] | None = None,
) -> ASGIApp:
    """The ASGI app. ``bootstrap=False`` when a parent process already ran the first-start work; ``clock`` the
    node's clock (default: the wall clock, or an ``AdjustableClock`` in test mode); ``on_start`` is called with the
    services once they are built (``ssoidc.testing`` holds them to move the clock and queue faults in process).

    Starlette's lifespan runs the startup and shutdown: a failure is reported to the server with its traceback
    (``lifespan.startup.failed`` / ``shutdown.failed``), and the services are closed on every path. Each startup
    serves the services it built; a request outside a startup/shutdown cycle answers 503.
    """
    current: list[ASGIApp] = []

    @contextlib.asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        services = await build_services(settings, run_bootstrap=bootstrap, clock=clock)
        try:
            services.start_background()
            if on_start is not None:
                on_start(services)
            current.append(build_app(services))
            yield
        finally:
            current.clear()
            await services.close()

    lifespan_router = Router(lifespan=lifespan)
    not_serving = _json({"message": "ssoidc is not serving (starting or stopping)"}, 503)

    async def asgi(
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            await lifespan_router(scope, receive, send)
        elif current:
            await current[0](scope, receive, send)
        elif scope["type"] == "http":
            await not_serving(scope, receive, send)

    return asgi


def build_app(services: Services) -> ASGIApp:
    """The routes of a node whose services are built."""
    settings = services.settings
    aws = services.aws

    async def token_get(request: Request) -> Response:
        raise HTTPException(405)

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(request: Request) -> Response:
        kind = services.store.kind
        if await services.readiness.ready():
            return _json({"status": "ready", "store": kind})
        return _json({"status": "unavailable", "store": kind, "reason": "the store does not answer"}, 503)

    async def discovery(request: Request) -> Response:
        snapshot = await services.snapshot.refresh()
        if request.path_params["instance_id"] != snapshot.instance.instance_id:
            raise HTTPException(404)
        iss = f"{settings.base_url}/{snapshot.instance.instance_id}"
        return _json(
            {
                "issuer": iss,
                "jwks_uri": f"{iss}/.well-known/jwks.json",
                "token_endpoint": f"{settings.base_url}/token",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": list(pkce.METHODS),
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": [settings.id_token_alg],
                "grant_types_supported": list(services.token_service.grant_types),
            },
            cache="public, max-age=300",
        )

    async def jwks(request: Request) -> Response:
        snapshot = await services.snapshot.refresh()
        if request.path_params["instance_id"] != snapshot.instance.instance_id:
            raise HTTPException(404)
        return _json(services.jwks_document, cache="public, max-age=300")

    async def demo_disc(request: Request) -> Response:
        if not (settings.demo or settings.testing):
            raise HTTPException(404)
        return _json(demo_discovery(settings), cache="public, max-age=300")

    async def demo_keys(request: Request) -> Response:
        if not (settings.demo or settings.testing):
            raise HTTPException(404)
        return _json(services.demo_jwks, cache="public, max-age=300")

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = {404: "Not found", 405: "Method not allowed"}.get(status, "Error")
        return _json({"message": message}, status)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _json({"message": "Internal server error"}, 500)

    pages = SignInPages(services)
    routes = [
        *pages.routes(),
        *StartPage(services.snapshot).routes(),
        *TestingControls(settings, services.clock, services.faults, services.snapshot).routes(),
        *IntrospectionEndpoints(
            aws=aws,
            introspection=services.introspection,
            refresh=services.snapshot.refresh,
            identity_of=services.identity.of,
            now=services.clock.now,
        ).routes(),
        Route("/token", token_get, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/demo-issuer/.well-known/openid-configuration", demo_disc, methods=["GET"]),
        Route("/demo-issuer/jwks.json", demo_keys, methods=["GET"]),
        Route("/{instance_id}/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route("/{instance_id}/.well-known/jwks.json", jwks, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )

    async def read_body(receive: Callable[[], Awaitable[Any]], declared: bytes | None) -> tuple[bytes, bool]:
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            return b"", True
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Gone  # the client went away (or timed out: ssoidc.web.http_limits)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False

    async def asgi(
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        """AWS requests go to the skeleton directly; everything else to the Starlette app."""
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        method, path, qs = scope["method"], scope["path"], scope["query_string"]
        found = aws.find(method, path, qs)
        if found is None:
            await app(scope, receive, send)
            return
        try:
            declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
            try:
                body, oversized = await read_body(receive, declared)
            except _Gone:
                return  # nobody to answer
            client = scope.get("client")
            wire = WireRequest(
                method=method,
                raw_path=scope.get("raw_path") or path.encode(),
                query_string=qs,
                headers=list(scope["headers"]),
                body=body,
                client_ip=client[0] if client else None,
                oversized=oversized,
            )
            try:
                resp = await aws.dispatch(wire, found)
            except DropConnection:  # an injected fault (test mode only): no answer at all
                abort = scope.get("extensions", {}).get(ABORT_EXTENSION, {}).get("abort")
                if abort is not None:
                    abort()
                    await asyncio.sleep(0)  # the server sees the connection lost: nothing left to answer
                    return
                raise
            if oversized:  # the rest of the body is never read: end the connection after the answer
                resp.headers.append((b"connection", b"close"))
        except Exception:
            log.exception("unhandled error on %s %s", method, path)
            resp = WireResponse(
                500,
                orjson.dumps({"message": "Internal server error"}),
                [(b"content-type", b"application/json"), *NO_STORE],
            )
        resp.headers.append((b"content-length", str(len(resp.body)).encode()))
        await send({"type": "http.response.start", "status": resp.status, "headers": resp.headers})
        await send({"type": "http.response.body", "body": resp.body})

    return asgi


def app_from_env() -> ASGIApp:
    """uvicorn factory for worker processes: settings travel through ``SSOIDC_*`` variables."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(settings_from_env(), bootstrap=os.environ.get("SSOIDC_BOOTSTRAPPED") != "1")

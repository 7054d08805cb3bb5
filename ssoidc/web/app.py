"""The ASGI application: routes, lifespan, nothing else (no logic lives here).

Routes:
  POST /token?aws_iam=t                          CreateTokenWithIAM (sso-oidc, SigV4 ``sso-oauth``)
  POST /token                                    CreateToken (public clients; answered with a clear error for now)
  POST /  (X-Amz-Target: SWBExternalService.*, AWSIdentityStore.*)
                                                 sso-admin and identitystore, JSON 1.1 (ssoidc.aws.json11)
  GET  /healthz                                  liveness: 200 once the node serves requests (never asks the store)
  GET  /readyz                                   readiness: 200 if the store answers a one-row read, else 503
  GET  /<instance id>/.well-known/openid-configuration, /<instance id>/.well-known/jwks.json
                                                 OIDC discovery and JWKS for our idTokens
  GET  /demo-issuer/.well-known/openid-configuration, /demo-issuer/jwks.json   (demo mode only)
  GET  /authorize, POST /authorize/signin, /authorize/consent, /signout, GET /demo/callback, /static/ssoidc.css
                                                 the sign-in flow (ssoidc.web.signin)
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ssoidc.aws.oidc import MAX_BODY
from ssoidc.aws.wire import WireRequest, WireResponse
from ssoidc.demo import demo_discovery
from ssoidc.node import Node
from ssoidc.settings import Settings, settings_from_env
from ssoidc.web.signin import SignInPages

log = logging.getLogger("ssoidc.web")


def _json(doc: object, status: int = 200, cache: str = "no-store") -> Response:
    return Response(
        orjson.dumps(doc), status, media_type="application/json", headers={"cache-control": cache}
    )


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


def create_app(settings: Settings, node: Node | None = None, *, bootstrap: bool = True) -> ASGIApp:
    """The ASGI app. ``bootstrap=False`` when a parent process already ran the first-start work."""
    node = node or Node(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await node.start(bootstrap=bootstrap)
        node.start_background()
        try:
            yield
        finally:
            await node.stop()

    async def token_get(request: Request) -> Response:
        raise HTTPException(405)

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if await node.ready():
            return _json({"status": "ready", "store": node.store.kind})
        return _json(
            {"status": "unavailable", "store": node.store.kind, "reason": "the store does not answer"}, 503
        )

    async def discovery(request: Request) -> Response:
        directory = await node.refresh()
        if request.path_params["instance_id"] != directory.instance.instance_id:
            raise HTTPException(404)
        iss = f"{settings.base_url}/{directory.instance.instance_id}"
        return _json(
            {
                "issuer": iss,
                "jwks_uri": f"{iss}/.well-known/jwks.json",
                "token_endpoint": f"{settings.base_url}/token",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": [settings.id_token_alg],
                "grant_types_supported": list(node.token_service.grant_types if node.token_service else ()),
            },
            cache="public, max-age=300",
        )

    async def jwks(request: Request) -> Response:
        directory = await node.refresh()
        if request.path_params["instance_id"] != directory.instance.instance_id:
            raise HTTPException(404)
        return _json(node.jwks_document, cache="public, max-age=300")

    async def demo_disc(request: Request) -> Response:
        if not settings.demo:
            raise HTTPException(404)
        return _json(demo_discovery(settings), cache="public, max-age=300")

    async def demo_keys(request: Request) -> Response:
        if not settings.demo:
            raise HTTPException(404)
        return _json(node.demo_jwks, cache="public, max-age=300")

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = {404: "Not found", 405: "Method not allowed"}.get(status, "Error")
        return _json({"message": message}, status)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _json({"message": "Internal server error"}, 500)

    pages = SignInPages(node)
    routes = [
        *pages.routes(),
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
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    app.state.node = node

    async def read_body(receive: Callable[[], Awaitable[Any]], declared: bytes | None) -> tuple[bytes, bool]:
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            return b"", True
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"", True  # client went away
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
        """POST /token is served here directly (the hot path: no routing, no Request/Response objects);
        everything else goes to the Starlette app."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in ("/token", "/"):
            await app(scope, receive, send)
            return
        try:
            declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
            body, oversized = await read_body(receive, declared)
            client = scope.get("client")
            wire = WireRequest(
                method="POST",
                raw_path=scope.get("raw_path") or scope["path"].encode(),
                query_string=scope["query_string"],
                headers=list(scope["headers"]),
                body=body,
                client_ip=client[0] if client else None,
                oversized=oversized,
            )
            assert node.oidc is not None and node.admin is not None
            if scope["path"] == "/":
                resp = await node.admin.handle(wire)
            elif scope["query_string"] == b"aws_iam=t" or parse_qs(
                scope["query_string"].decode("latin-1")
            ).get("aws_iam") == ["t"]:
                resp = await node.oidc.create_token_with_iam(wire)
            else:
                resp = await node.oidc.create_token(wire)
        except Exception:
            log.exception("unhandled error on POST %s", scope["path"])
            resp = WireResponse(
                500,
                orjson.dumps({"message": "Internal server error"}),
                [(b"content-type", b"application/json")],
            )
        await send(
            {
                "type": "http.response.start",
                "status": resp.status,
                "headers": [*resp.headers, (b"content-length", str(len(resp.body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": resp.body})

    asgi.state = app.state  # type: ignore[attr-defined]
    return asgi


def app_from_env() -> ASGIApp:
    """uvicorn factory for worker processes: settings travel through ``SSOIDC_*`` variables."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(settings_from_env(), bootstrap=os.environ.get("SSOIDC_BOOTSTRAPPED") != "1")

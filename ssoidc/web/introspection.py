"""``POST /introspect`` (RFC 7662) and ``POST /revoke`` (RFC 7009): the HTTP side (the logic is
``ssoidc.oauth.introspection``; docs/sts.md "Introspection and revocation").

The request is a form (``application/x-www-form-urlencoded``: RFC 7662 section 2.1, RFC 7009 section 2.1) of
``token``, ``token_type_hint`` (optional) and ``client_id`` (the application ARN), each at most once (RFC 6749
section 3.2: parameters are not repeated); other parameters are ignored (RFC 6749 section 3.2). It is signed with
SigV4 for the service ``sso-oauth`` (the skeleton's verifier, clock-skew window, signed hosts and rate limits:
``Skeleton.authenticate``).

Answers (always ``Cache-Control: no-store``, ``Pragma: no-cache``; JSON):

* 200: introspection's document (``{"active": false}`` for any token that is not a live access token of the
  application), or revocation's empty object, whatever the token was;
* 401 ``invalid_client`` with ``WWW-Authenticate: AWS4-HMAC-SHA256 realm="ssoidc", error="invalid_client"`` (RFC
  6750 section 3 style): no or a bad SigV4 signature, an unknown credential, or a ``client_id`` that names no
  enabled application;
* 403 ``access_denied``: the application's ActorPolicy does not allow the caller the action;
* 400 ``invalid_request``: not a form, a repeated parameter, no ``token`` or no ``client_id``;
* 413 for a body over 64 KiB; 429 ``slow_down`` with ``Retry-After`` for a rate limit.

The token is never logged or echoed (error descriptions name parameters, never values).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ssoidc.aws.skeleton import MAX_BODY, Skeleton
from ssoidc.aws.wire import WireRequest
from ssoidc.errors import AccessDenied, AuthError, InvalidClient, InvalidRequest, SsoidcError, Throttled
from ssoidc.iam.authority import Authority
from ssoidc.model import ConfigSnapshot
from ssoidc.oauth.introspection import TokenIntrospection, TokenQuery
from ssoidc.oauth.request import Caller

log = logging.getLogger("ssoidc.web")

SIGNING_NAME = "sso-oauth"
FORM = "application/x-www-form-urlencoded"
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
_PARAMETERS = ("token", "token_type_hint", "client_id")


def _answer(doc: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(doc), status, media_type="application/json", headers={**NO_STORE, **(headers or {})}
    )


def _error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Response:
    return _answer({"error": error, "error_description": description}, status, headers)


def _unauthenticated(description: str) -> Response:
    challenge = 'AWS4-HMAC-SHA256 realm="ssoidc", error="invalid_client"'
    return _error(401, "invalid_client", description, {"www-authenticate": challenge})


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise InvalidRequest("The request body is not valid UTF-8") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in _PARAMETERS:
            if key in out:
                raise InvalidRequest(f"The parameter {key} is sent more than once")
            out[key] = value
    return out


class IntrospectionEndpoints:
    """The two routes of one node."""

    def __init__(
        self,
        *,
        aws: Skeleton,
        introspection: TokenIntrospection,
        refresh: Callable[[], Awaitable[ConfigSnapshot]],
        identity_of: Callable[[str], Awaitable[Authority | None]],
        now: Callable[[], float],
    ) -> None:
        self._aws = aws
        self._introspection = introspection
        self._refresh = refresh
        self._identity_of = identity_of
        self._now = now

    async def _serve(self, request: Request, revoke: bool) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(
                413, "invalid_request", f"The request body is too large (limit {MAX_BODY // 1024} KiB)"
            )
        client = request.client
        wire = WireRequest(
            method=request.method,
            raw_path=request.scope.get("raw_path") or request.url.path.encode(),
            query_string=request.scope.get("query_string", b""),
            headers=list(request.scope["headers"]),
            body=body,
            client_ip=client.host if client else None,
        )
        snapshot = await self._refresh()  # the credential table is the snapshot's
        try:
            verified = await self._aws.authenticate(SIGNING_NAME, wire)
            content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
            if content_type != FORM:
                raise InvalidRequest(f"The request body must be {FORM}")
            form = _form(body)
            if "client_id" not in form:
                raise InvalidRequest("The request has no client_id parameter (the application ARN)")
            query = TokenQuery(form["client_id"], form.get("token", ""), form.get("token_type_hint"))
            caller = Caller(
                verified.principal_arn,
                verified.access_key_id,
                wire.client_ip,
                await self._identity_of(verified.access_key_id),
            )
            now = self._now()
            if revoke:
                await self._introspection.revoke(query, caller, snapshot, now)
                return _answer({})
            return _answer(await self._introspection.introspect(query, caller, snapshot, now))
        except (AuthError, InvalidClient) as exc:
            return _unauthenticated(exc.message)
        except AccessDenied as exc:
            return _error(403, "access_denied", exc.message)
        except Throttled as exc:
            return _error(429, "slow_down", exc.message, {"retry-after": str(exc.retry_after_seconds)})
        except InvalidRequest as exc:
            return _error(400, "invalid_request", exc.message)
        except SsoidcError as exc:  # pragma: no cover - every domain error above is mapped
            log.info("%s refused: %s", request.url.path, exc.message)
            return _error(400, "invalid_request", exc.message)

    async def introspect(self, request: Request) -> Response:
        """RFC 7662 section 2.1."""
        return await self._serve(request, revoke=False)

    async def revoke(self, request: Request) -> Response:
        """RFC 7009 section 2.1."""
        return await self._serve(request, revoke=True)

    def routes(self) -> list[Route]:
        return [
            Route("/introspect", self.introspect, methods=["POST"]),
            Route("/revoke", self.revoke, methods=["POST"]),
        ]

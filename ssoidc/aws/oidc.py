"""The sso-oidc rest-json codec for CreateTokenWithIAM (``POST /token?aws_iam=t``, SigV4 service ``sso-oauth``).

Decodes the JSON body against the botocore model's ``CreateTokenWithIAMRequest`` shape (required members, types,
enums; unknown members ignored as AWS does), maps camelCase to the domain's snake_case ``TokenRequest``, calls the
token service, and encodes ``CreateTokenWithIAMResponse``. This module and ``ssoidc.aws.errors`` are the only
places that know these wire names. Plain ``POST /token`` is CreateToken (public clients), a different operation.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ssoidc.aws.errors import render_oidc_error
from ssoidc.aws.models import ShapeError, operation, validate
from ssoidc.aws.sigv4 import SignedRequest, SigV4Verifier
from ssoidc.aws.wire import WireRequest, WireResponse
from ssoidc.errors import InvalidRequest, SsoidcError
from ssoidc.oauth.request import Caller, TokenRequest, TokenResult

log = logging.getLogger("ssoidc.oidc")

SERVICE = "sso-oidc"
SIGNING_NAME = "sso-oauth"
MAX_BODY = 64 * 1024

_OP = operation(SERVICE, "CreateTokenWithIAM")
_INPUT = _OP.input_shape
_OUTPUT_MEMBERS = frozenset(_OP.output_shape.members) if _OP.output_shape is not None else frozenset()
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_FIELD = {name: _CAMEL.sub("_", name).lower() for name in _INPUT.members}  # clientId -> client_id


def decode_create_token_with_iam(body: bytes) -> TokenRequest:
    if len(body) > MAX_BODY:
        raise InvalidRequest(f"Request body is too large (limit {MAX_BODY // 1024} KiB)")
    try:
        doc = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        raise InvalidRequest("Request body is not valid JSON") from None
    try:
        clean = validate(_INPUT, doc, "")
    except ShapeError as exc:
        raise InvalidRequest(f"Invalid request: {exc.path} {exc.message}") from None
    kwargs: dict[str, Any] = {_FIELD[k]: v for k, v in clean.items()}
    if "scope" in kwargs:
        kwargs["scope"] = tuple(kwargs["scope"])
    return TokenRequest(**kwargs)


def encode_create_token_with_iam(result: TokenResult) -> bytes:
    out: dict[str, Any] = {
        "accessToken": result.access_token,
        "tokenType": result.token_type,
        "expiresIn": result.expires_in,
        "idToken": result.id_token,
        "issuedTokenType": result.issued_token_type,
        "scope": list(result.scope),
        "awsAdditionalDetails": {"identityContext": result.identity_context},
    }
    if result.refresh_token is not None:
        out["refreshToken"] = result.refresh_token
    assert _OUTPUT_MEMBERS.issuperset(out), "response member not in the model"
    return orjson.dumps(out)


TokenCall = Callable[[TokenRequest, Caller], Awaitable[TokenResult]]
CallerPolicy = Callable[[str], Any]


class SsoOidcApi:
    """Dispatches sso-oidc wire requests. ``create_token`` is the domain entry for CreateTokenWithIAM."""

    def __init__(
        self,
        *,
        verifier: SigV4Verifier,
        create_token: TokenCall,
        identity_policy_of: CallerPolicy,
        now: Callable[[], float],
        refresh: Callable[[], Awaitable[object]],
    ) -> None:
        """``refresh`` (the node's configuration refresh) runs first for every request, inside the error mapping,
        so a store that cannot be reached is answered as InternalServerException in AWS's shape."""
        self._refresh = refresh
        self._verifier = verifier
        self._create_token = create_token
        self._identity_policy_of = identity_policy_of
        self._now = now

    async def create_token_with_iam(self, req: WireRequest) -> WireResponse:
        request_id = str(uuid.uuid4())
        try:
            await self._refresh()
            if req.oversized:
                raise InvalidRequest(f"Request body is too large (limit {MAX_BODY // 1024} KiB)")
            verified = self._verifier.verify(
                SignedRequest(req.method, req.raw_path, req.query_string, req.headers, req.body), self._now()
            )
            token_request = decode_create_token_with_iam(req.body)
            caller = Caller(
                principal_arn=verified.principal_arn,
                access_key_id=verified.access_key_id,
                source_ip=req.client_ip,
                identity_policy=self._identity_policy_of(verified.access_key_id),
            )
            result = await self._create_token(token_request, caller)
        except SsoidcError as exc:
            err = render_oidc_error(exc, request_id)
            log.info("CreateTokenWithIAM %s %s: %s", request_id, err.code, exc.message)
            return WireResponse(err.status, err.body, err.headers)
        except Exception:
            log.exception("CreateTokenWithIAM %s failed", request_id)
            err = render_oidc_error(RuntimeError(), request_id)
            return WireResponse(err.status, err.body, err.headers)
        return WireResponse(
            200,
            encode_create_token_with_iam(result),
            [
                (b"content-type", b"application/json"),
                (b"x-amzn-requestid", request_id.encode()),
                (b"cache-control", b"no-store"),
            ],
        )

    async def create_token(self, req: WireRequest) -> WireResponse:
        """Plain ``POST /token`` is CreateToken (public clients), never CreateTokenWithIAM."""
        request_id = str(uuid.uuid4())
        err = render_oidc_error(
            InvalidRequest(
                "CreateToken (POST /token, public clients) is not available in this ssoidc version; IAM callers"
                " use CreateTokenWithIAM (POST /token?aws_iam=t)"
            ),
            request_id,
        )
        return WireResponse(err.status, err.body, err.headers)

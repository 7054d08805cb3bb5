"""THE table: domain exceptions -> AWS error shapes, and their renderers.

* sso-oidc (rest-json, spec section 2.5): ``x-amzn-ErrorType: <Code>:http://internal.amazon.com/coral/com.amazonaws.sso.oidc/``,
  ``x-amzn-RequestId``, ``Content-Type: application/json`` and body ``{"error", "error_description"}`` (compact
  JSON), with the HTTP status the botocore model gives the shape (InvalidClientException 401, others 400,
  InternalServerException 500).
* Request-authentication failures (SigV4) are answered the way AWS's front end answers them, before the service
  runs: ``x-amzn-ErrorType: <Code>:http://internal.amazon.com/coral/com.amazon.coral.service/`` and body
  ``{"message": ...}``, HTTP 403. These four codes are not in the sso-oidc model, so SDKs raise a generic
  ``ClientError`` carrying the code, exactly as they do against AWS.
* Anything unmapped is InternalServerException (500) with a fixed message and the request id; the detail goes to
  the log only.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from ssoidc import errors as e
from ssoidc.aws.models import error_status

OIDC_SERVICE = "sso-oidc"
OIDC_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.sso.oidc/"
FRONTEND_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.coral.service/"

#: Domain error -> sso-oidc error shape name. Statuses come from the model.
OIDC_ERRORS: dict[type[e.SsoidcError], str] = {
    e.InvalidRequest: "InvalidRequestException",
    e.InvalidClient: "InvalidClientException",
    e.InvalidGrant: "InvalidGrantException",
    e.UnauthorizedClient: "UnauthorizedClientException",
    e.UnsupportedGrantType: "UnsupportedGrantTypeException",
    e.InvalidScope: "InvalidScopeException",
    e.AccessDenied: "AccessDeniedException",
    e.ExpiredToken: "ExpiredTokenException",
}

#: Request-authentication failures, answered by the front end (not modelled for sso-oidc).
FRONTEND_ERRORS: dict[type[e.SsoidcError], tuple[str, int]] = {
    e.MissingAuthenticationToken: ("MissingAuthenticationTokenException", 403),
    e.IncompleteSignature: ("IncompleteSignatureException", 403),
    e.InvalidSignature: ("InvalidSignatureException", 403),
    e.UnrecognizedClient: ("UnrecognizedClientException", 403),
}


@dataclass(frozen=True, slots=True)
class RenderedError:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    code: str


def _headers(code: str, namespace: str, request_id: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"x-amzn-errortype", f"{code}:{namespace}".encode()),
        (b"x-amzn-requestid", request_id.encode()),
    ]


def render_oidc_error(exc: BaseException, request_id: str) -> RenderedError:
    """Render any exception as an sso-oidc wire error."""
    for cls in type(exc).__mro__:
        if cls in FRONTEND_ERRORS:
            code, status = FRONTEND_ERRORS[cls]
            assert isinstance(exc, e.SsoidcError)
            return RenderedError(
                status,
                _headers(code, FRONTEND_NAMESPACE, request_id),
                orjson.dumps({"message": exc.message}),
                code,
            )
        if cls in OIDC_ERRORS:
            code = OIDC_ERRORS[cls]
            assert isinstance(exc, e.OAuthError)
            body = orjson.dumps({"error": exc.error, "error_description": exc.message})
            return RenderedError(
                error_status(OIDC_SERVICE, code), _headers(code, OIDC_NAMESPACE, request_id), body, code
            )
    code = "InternalServerException"
    body = orjson.dumps(
        {
            "error": "server_error",
            "error_description": f"An internal error occurred (request id {request_id})",
        }
    )
    return RenderedError(
        error_status(OIDC_SERVICE, code), _headers(code, OIDC_NAMESPACE, request_id), body, code
    )

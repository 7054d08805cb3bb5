"""THE table: domain exceptions -> AWS error shapes, and their renderers.

* sso-oidc (rest-json, ``botocore/data/sso-oidc/2019-06-10/service-2.json``): ``x-amzn-ErrorType: <Code>:http://internal.amazon.com/coral/com.amazonaws.sso.oidc/``,
  ``x-amzn-RequestId``, ``Content-Type: application/json`` and body ``{"error", "error_description"}`` (compact
  JSON), with the HTTP status the botocore model gives the shape (InvalidClientException 401, others 400,
  InternalServerException 500).
* Request-authentication failures (SigV4) are answered the way AWS's front end answers them, before the service
  runs: ``x-amzn-ErrorType: <Code>:http://internal.amazon.com/coral/com.amazon.coral.service/`` and body
  ``{"message": ...}``, HTTP 403. These four codes are not in the sso-oidc model, so SDKs raise a generic
  ``ClientError`` carrying the code, exactly as they do against AWS.
* sso-admin and identitystore (JSON 1.1): ``x-amzn-ErrorType: <Code>`` and body ``{"__type": <Code>, "Message":
  ...}`` plus the members the service's error shape models (``Reason``, ``ResourceType``, ``ResourceId``,
  ``RequestId``), with the modelled status (``ADMIN_ERRORS``).
* Anything unmapped is InternalServerException (500) with a fixed message and the request id; the detail goes to
  the log only.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from ssoidc import errors as e
from ssoidc.aws.models import error_status, service_model

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


#: Configuration-plane errors -> JSON 1.1 error shape (both admin services model the same names).
ADMIN_ERRORS: dict[type[e.SsoidcError], str] = {
    e.ValidationFailed: "ValidationException",
    e.ResourceNotFound: "ResourceNotFoundException",
    e.Conflict: "ConflictException",
    e.AdminAccessDenied: "AccessDeniedException",
    e.ServiceQuotaExceeded: "ServiceQuotaExceededException",
    e.NotImplementedOperation: "NotImplementedException",
    e.UnknownOperation: "UnknownOperationException",
}
#: The member that names a resource of each type, for a not-found reported as a ValidationException.
RESOURCE_MEMBERS = {
    "INSTANCE": "InstanceArn",
    "APPLICATION": "ApplicationArn",
    "TRUSTED_TOKEN_ISSUER": "TrustedTokenIssuerArn",
    "APPLICATION_PROVIDER": "ApplicationProviderArn",
}
#: Not modelled by either service: SDKs raise a generic ClientError with this code. HTTP 400, never retried.
ADMIN_UNMODELLED = {
    "NotImplementedException": 400,
    "UnknownOperationException": 400,
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


def render_admin_error(
    exc: BaseException, service: str, request_id: str, operation: str | None = None
) -> RenderedError:
    """Render any exception as a JSON 1.1 error of ``service`` (``sso-admin`` or ``identitystore``).

    Where ``operation``'s model lists no ResourceNotFoundException (sso-admin's ListApplications,
    DescribeInstance...), a missing resource is reported as the ValidationException it does model.
    """
    code = "InternalServerException"
    message = f"An internal error occurred (request id {request_id})"
    extra: dict[str, str] = {}
    for cls in type(exc).__mro__:
        if cls in FRONTEND_ERRORS:
            code, status = FRONTEND_ERRORS[cls]
            assert isinstance(exc, e.SsoidcError)
            front = orjson.dumps({"__type": code, "message": exc.message})
            return RenderedError(status, _json11_headers(code, request_id), front, code)
        if cls in ADMIN_ERRORS:
            assert isinstance(exc, e.SsoidcError)
            code, message = ADMIN_ERRORS[cls], exc.message
            if isinstance(exc, e.ValidationFailed) and exc.field and exc.field not in message:
                message = f"{message} (at '{exc.field}')"  # every validation error names its member
            if isinstance(exc, e.Conflict) and exc.reason:
                extra["Reason"] = exc.reason
            if isinstance(exc, e.ResourceNotFound) and operation and not _models(service, operation, code):
                code = "ValidationException"
                member = RESOURCE_MEMBERS.get(exc.resource_type)
                if member and member not in message:
                    message = f"{message} (at '{member}')"
            elif isinstance(exc, e.ResourceNotFound):
                if exc.resource_type:
                    extra["ResourceType"] = exc.resource_type
                if exc.resource_id:
                    extra["ResourceId"] = exc.resource_id
            break
    if code in ADMIN_UNMODELLED:
        status = ADMIN_UNMODELLED[code]
        body: dict[str, str] = {"__type": code, "Message": message}
    else:
        shape = service_model(service).shape_for(code)
        status = shape.metadata.get("error", {}).get(
            "httpStatusCode", 500 if code == "InternalServerException" else 400
        )
        members = shape.members
        body = {"__type": code, "Message": message}
        body.update({k: v for k, v in extra.items() if k in members})
        if "RequestId" in members:
            body["RequestId"] = request_id
    return RenderedError(status, _json11_headers(code, request_id), orjson.dumps(body), code)


def _models(service: str, operation: str, code: str) -> bool:
    return any(s.name == code for s in service_model(service).operation_model(operation).error_shapes)


def _json11_headers(code: str, request_id: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/x-amz-json-1.1"),
        (b"x-amzn-errortype", code.encode()),
        (b"x-amzn-requestid", request_id.encode()),
    ]

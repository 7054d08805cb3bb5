"""THE table: domain exceptions -> AWS error shapes, and their renderers.

* rest-json services. sso-oidc (``botocore/data/sso-oidc/2019-06-10/service-2.json``): ``x-amzn-ErrorType: <Code>:http://internal.amazon.com/coral/com.amazonaws.sso.oidc/``,
  ``x-amzn-RequestId``, ``Content-Type: application/json`` and body ``{"error", "error_description"}`` (compact
  JSON), with the HTTP status the botocore model gives the shape (InvalidClientException 401, others 400,
  InternalServerException 500).
* Request-authentication failures (SigV4) are answered the way AWS's front end answers them, before the service
  runs: ``x-amzn-ErrorType: <Code>:http://internal.amazon.com/coral/com.amazon.coral.service/`` and body
  ``{"message": ...}``, HTTP 403 (expired session credentials: ``ExpiredTokenException``, 403, the generic code
  AWS's JSON front ends answer; STS: ``ExpiredToken``, 403). These codes are not in the sso-oidc model, so SDKs raise a generic
  ``ClientError`` carrying the code, exactly as they do against AWS.
* sso-admin and identitystore (JSON 1.1): ``x-amzn-ErrorType: <Code>`` and body ``{"__type": <Code>, "Message":
  ...}`` plus the members the service's error shape models (``Reason``, ``ResourceType``, ``ResourceId``,
  ``RequestId``), with the modelled status (``ADMIN_ERRORS``).
* The access portal ``sso`` (rest-json): the same headers (its own namespace) and body ``{"message": ...}``;
  also the unmodelled ``ForbiddenException`` (HTTP 403, "No access") AWS answers for a role not assigned.
* STS (AWS Query): ``text/xml`` ``<ErrorResponse><Error><Type>Sender|Receiver</Type><Code/><Message/></Error>
  <RequestId/></ErrorResponse>``.
* ``UNMODELLED``: a modelled operation ssoidc does not serve (``NotImplementedException``) or a request naming no
  operation of the service (``UnknownOperationException``): HTTP 400 in every protocol's shape, never retried.
* ``Throttled`` (a rate limit, ``ssoidc.ratelimit``): sso-oidc ``SlowDownException`` (HTTP 400 as modelled,
  ``error: slow_down``), the portal ``TooManyRequestsException`` (429), sso-admin and identitystore
  ``ThrottlingException`` (400; identitystore's models ``RetryAfterSeconds``), STS ``Throttling`` (400, AWS's
  code); every one with a ``Retry-After`` header (whole seconds, RFC 9110 section 10.2.3). botocore retries
  ThrottlingException and Throttling (legacy and standard modes) and not SlowDownException.
* Anything unmapped is InternalServerException (500) with a fixed message and the request id; the detail goes to
  the log only.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

import orjson

from ssoidc import errors as e
from ssoidc.aws.faults import InjectedFault
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
    e.AuthorizationPending: "AuthorizationPendingException",
    e.SlowDown: "SlowDownException",
    e.InvalidClientMetadata: "InvalidClientMetadataException",
    e.InvalidRedirectUri: "InvalidRedirectUriException",
}

#: Request-authentication failures, answered by the front end (not modelled for sso-oidc).
FRONTEND_ERRORS: dict[type[e.SsoidcError], tuple[str, int]] = {
    e.MissingAuthenticationToken: ("MissingAuthenticationTokenException", 403),
    e.IncompleteSignature: ("IncompleteSignatureException", 403),
    e.InvalidSignature: ("InvalidSignatureException", 403),
    e.UnrecognizedClient: ("UnrecognizedClientException", 403),
    e.ExpiredCredentials: ("ExpiredTokenException", 403),
}


#: Configuration-plane errors -> JSON 1.1 error shape (both admin services model the same names).
ADMIN_ERRORS: dict[type[e.SsoidcError], str] = {
    e.ValidationFailed: "ValidationException",
    e.InvalidInput: "ValidationException",
    e.ResourceNotFound: "ResourceNotFoundException",
    e.Conflict: "ConflictException",
    e.AdminAccessDenied: "AccessDeniedException",
    e.ServiceQuotaExceeded: "ServiceQuotaExceededException",
    e.Throttled: "ThrottlingException",
}
#: The member that names a resource of each type, for a not-found reported as a ValidationException.
RESOURCE_MEMBERS = {
    "INSTANCE": "InstanceArn",
    "APPLICATION": "ApplicationArn",
    "TRUSTED_TOKEN_ISSUER": "TrustedTokenIssuerArn",
    "APPLICATION_PROVIDER": "ApplicationProviderArn",
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


#: Not modelled by any service: SDKs raise a generic ClientError with this code. HTTP 400, never retried.
UNMODELLED: dict[type[e.SsoidcError], tuple[str, int]] = {
    e.NotImplementedOperation: ("NotImplementedException", 400),
    e.UnknownOperation: ("UnknownOperationException", 400),
}

#: rest-json services: the domain table and the error namespace of each.
REST_JSON_ERRORS: dict[str, dict[type[e.SsoidcError], str]] = {
    OIDC_SERVICE: {
        **OIDC_ERRORS,
        e.InvalidInput: "InvalidRequestException",
        e.Throttled: "SlowDownException",
    },
    "sso": {
        e.InvalidInput: "InvalidRequestException",
        e.ValidationFailed: "InvalidRequestException",
        e.Throttled: "TooManyRequestsException",
        e.PortalUnauthorized: "UnauthorizedException",
    },
}
#: rest-json errors a service answers but its model does not list: (code, status), body ``{"message"}``.
REST_JSON_UNMODELLED: dict[str, dict[type[e.SsoidcError], tuple[str, int]]] = {
    OIDC_SERVICE: {},
    "sso": {e.PortalForbidden: ("ForbiddenException", 403)},  # GetRoleCredentials on a role not assigned
}
#: AWS Query services (STS): domain error -> (code, status), as the STS model names them.
QUERY_ERRORS: dict[type[e.SsoidcError], tuple[str, int]] = {
    e.InvalidInput: ("ValidationError", 400),
    # AssumeRole (docs/sts.md): AccessDenied and InvalidParameterValue are AWS's common codes, the others modelled
    e.RoleAccessDenied: ("AccessDenied", 403),
    e.MalformedPolicy: ("MalformedPolicyDocument", 400),
    e.PolicyTooLarge: ("PackedPolicyTooLarge", 400),
    e.InvalidParameterValue: ("InvalidParameterValue", 400),
    e.ContextExpired: ("ExpiredTokenException", 400),
    e.Throttled: ("Throttling", 400),
    # request authentication, with the codes STS's front end answers (not the JSON services' names)
    e.MissingAuthenticationToken: ("MissingAuthenticationToken", 403),
    e.IncompleteSignature: ("IncompleteSignature", 403),
    e.InvalidSignature: ("SignatureDoesNotMatch", 403),
    e.UnrecognizedClient: ("InvalidClientTokenId", 403),
    e.ExpiredCredentials: ("ExpiredToken", 403),
}
REST_JSON_NAMESPACES = {
    OIDC_SERVICE: OIDC_NAMESPACE,
    "sso": "http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/",
}


def _retry_after(exc: BaseException, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` plus ``Retry-After`` when ``exc`` is a rate-limit refusal."""
    if isinstance(exc, e.Throttled):
        headers.append((b"retry-after", str(exc.retry_after_seconds).encode()))
    return headers


def input_message(exc: e.InvalidInput, wording: str) -> str:
    """The text of an input error: rest-json ``Invalid request: <path> <message>``; JSON 1.1 and Query as AWS's
    validators word it, ``1 validation error detected: Value at '<path>' <message>``."""
    if not exc.path:
        return exc.message
    if wording == "rest-json":
        return f"Invalid request: {exc.path} {exc.message}"
    return e.ValidationFailed.at(exc.path, exc.message).message


def render_rest_json_error(exc: BaseException, service: str, request_id: str) -> RenderedError:
    """Render any exception as a rest-json error of ``service``. The body holds the members the service's error
    shape models: sso-oidc's ``error``/``error_description`` (RFC 6749 section 5.2), the portal's ``message``."""
    namespace = REST_JSON_NAMESPACES[service]
    table = REST_JSON_ERRORS[service]
    if isinstance(exc, InjectedFault):
        domain = next((cls for cls, name in table.items() if name == exc.code), None)
        error = domain.error if domain is not None and issubclass(domain, e.OAuthError) else "server_error"
        body = _rest_json_body(service, exc.code, error, exc.message)
        return RenderedError(exc.status, _headers(exc.code, namespace, request_id), body, exc.code)
    unmodelled = REST_JSON_UNMODELLED[service]
    for cls in type(exc).__mro__:
        if cls in unmodelled:
            code, status = unmodelled[cls]
            assert isinstance(exc, e.SsoidcError)
            body = orjson.dumps({"message": exc.message})
            return RenderedError(status, _headers(code, namespace, request_id), body, code)
        if cls in FRONTEND_ERRORS or cls in UNMODELLED:
            code, status = FRONTEND_ERRORS.get(cls) or UNMODELLED[cls]
            assert isinstance(exc, e.SsoidcError)
            ns = FRONTEND_NAMESPACE if cls in FRONTEND_ERRORS else namespace
            return RenderedError(
                status, _headers(code, ns, request_id), orjson.dumps({"message": exc.message}), code
            )
        if cls in table:
            code = table[cls]
            assert isinstance(exc, e.SsoidcError)
            message = input_message(exc, "rest-json") if isinstance(exc, e.InvalidInput) else exc.message
            error = exc.error if isinstance(exc, e.OAuthError | e.Throttled) else "invalid_request"
            body = _rest_json_body(service, code, error, message)
            headers = _retry_after(exc, _headers(code, namespace, request_id))
            return RenderedError(error_status(service, code), headers, body, code)
    code = "InternalServerException"
    body = _rest_json_body(
        service, code, "server_error", f"An internal error occurred (request id {request_id})"
    )
    return RenderedError(500, _headers(code, namespace, request_id), body, code)


def _rest_json_body(service: str, code: str, error: str, message: str) -> bytes:
    """``{"error", "error_description"}`` where the service's shape for ``code`` models them, else
    ``{"message"}`` (the portal's shapes, and codes the service does not model)."""
    model = service_model(service)
    modelled = any(s.name == code for s in model.error_shapes)
    if modelled and "error_description" in model.shape_for(code).members:
        return orjson.dumps({"error": error, "error_description": message})
    return orjson.dumps({"message": message})


def render_query_error(exc: BaseException, service: str, request_id: str) -> RenderedError:
    """Render any exception as an AWS Query error (STS): ``<ErrorResponse><Error><Type><Code><Message>``."""
    code, status, message, fault = (
        "InternalFailure",
        500,
        f"An internal error occurred (request id {request_id})",
        "Receiver",
    )
    if isinstance(exc, InjectedFault):
        code, status, message = exc.code, exc.status, exc.message
        fault = "Receiver" if status >= 500 else "Sender"
    for cls in type(exc).__mro__:
        if cls in UNMODELLED or cls in QUERY_ERRORS:
            assert isinstance(exc, e.SsoidcError)
            code, status = UNMODELLED.get(cls) or QUERY_ERRORS[cls]
            message = input_message(exc, "query") if isinstance(exc, e.InvalidInput) else exc.message
            fault = "Sender"
            break
    body = (
        f'<ErrorResponse xmlns="{service_model(service).metadata.get("xmlNamespace", "")}">'
        f"<Error><Type>{fault}</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    headers = [(b"content-type", b"text/xml"), (b"x-amzn-requestid", request_id.encode())]
    return RenderedError(status, _retry_after(exc, headers), body.encode(), code)


def render_json11_error(
    exc: BaseException, service: str, request_id: str, operation: str | None = None
) -> RenderedError:
    """Render any exception as a JSON 1.1 error of ``service`` (``sso-admin`` or ``identitystore``).

    Where ``operation``'s model lists no ResourceNotFoundException (sso-admin's ListApplications,
    DescribeInstance...), a missing resource is reported as the ValidationException it does model.
    """
    code = "InternalServerException"
    message = f"An internal error occurred (request id {request_id})"
    extra: dict[str, str | int] = {}
    if isinstance(exc, InjectedFault):
        code, message = exc.code, exc.message
    for cls in type(exc).__mro__:
        if cls in FRONTEND_ERRORS:
            code, status = FRONTEND_ERRORS[cls]
            assert isinstance(exc, e.SsoidcError)
            front = orjson.dumps({"__type": code, "message": exc.message})
            return RenderedError(status, _json11_headers(code, request_id), front, code)
        if cls in UNMODELLED:
            assert isinstance(exc, e.SsoidcError)
            code, status = UNMODELLED[cls]
            unmodelled = orjson.dumps({"__type": code, "Message": exc.message})
            return RenderedError(status, _json11_headers(code, request_id), unmodelled, code)
        if cls in ADMIN_ERRORS:
            assert isinstance(exc, e.SsoidcError)
            code = ADMIN_ERRORS[cls]
            message = input_message(exc, "json") if isinstance(exc, e.InvalidInput) else exc.message
            if isinstance(exc, e.ValidationFailed) and exc.field and exc.field not in message:
                message = f"{message} (at '{exc.field}')"  # every validation error names its member
            if isinstance(exc, e.Conflict) and exc.reason:
                extra["Reason"] = exc.reason
            if isinstance(exc, e.ResourceNotFound) and operation and not _models(service, operation, code):
                code = "ValidationException"
                member = RESOURCE_MEMBERS.get(exc.resource_type)
                if member and member not in message:
                    message = f"{message} (at '{member}')"
            elif isinstance(exc, e.Throttled):
                extra["RetryAfterSeconds"] = exc.retry_after_seconds
            elif isinstance(exc, e.ResourceNotFound):
                if exc.resource_type:
                    extra["ResourceType"] = exc.resource_type
                if exc.resource_id:
                    extra["ResourceId"] = exc.resource_id
            break
    shape = service_model(service).shape_for(code)
    status = shape.metadata.get("error", {}).get(
        "httpStatusCode", 500 if code == "InternalServerException" else 400
    )
    members = shape.members
    body: dict[str, str | int] = {"__type": code, "Message": message}
    body.update({k: v for k, v in extra.items() if k in members})
    if "RequestId" in members:
        body["RequestId"] = request_id
    return RenderedError(
        status, _retry_after(exc, _json11_headers(code, request_id)), orjson.dumps(body), code
    )


def _models(service: str, operation: str, code: str) -> bool:
    return any(s.name == code for s in service_model(service).operation_model(operation).error_shapes)


def _json11_headers(code: str, request_id: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/x-amz-json-1.1"),
        (b"x-amzn-errortype", code.encode()),
        (b"x-amzn-requestid", request_id.encode()),
    ]

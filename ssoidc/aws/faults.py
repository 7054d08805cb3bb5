"""Fault injection for servers started for testing (``ssoidc.testing``, ``ssoidc serve --testing``). Test mode only.

A ``FaultPlan`` holds, per AWS operation, faults that the next calls of that operation meet instead of (or before)
being served: a modelled error of the operation (``SlowDownException``, ``InvalidGrantException``,
``InternalServerException``, ``ThrottlingException``...), added latency, or a dropped connection (the TCP
connection closed without an answer). Each fault applies to the next ``count`` calls. The skeleton consults the plan
after it has named the operation and before it authenticates the request, so a client's retry and error handling
meet the fault exactly where AWS's front end or service would answer it. A node built without a plan (every node
not started for testing) has no fault path at all.

The error is rendered in the service's protocol as the botocore model describes the shape (HTTP status from the
shape's ``error.httpStatusCode``): sso-oidc's ``{"error", "error_description"}``, the JSON 1.1 ``{"__type",
"Message"}``, STS's ``<ErrorResponse>``. Only codes the operation models are accepted, plus the generic ones every
service answers (``InternalServerException``, and the service's throttling code), so a test cannot ask for an
answer AWS never gives.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ssoidc.aws.models import service_model
from ssoidc.errors import SsoidcError

#: Codes every operation of a service may answer although its model does not list them for that operation.
GENERIC_CODES: dict[str, tuple[str, ...]] = {
    "sso-oidc": ("InternalServerException", "SlowDownException"),
    "sso": ("TooManyRequestsException",),
    "sso-admin": ("InternalServerException", "ThrottlingException"),
    "identitystore": ("InternalServerException", "ThrottlingException"),
    "sts": ("InternalFailure", "Throttling"),
}
#: Status of a code the service's model does not hold as a shape (STS's generic codes).
UNMODELLED_STATUS = {"InternalFailure": 500, "Throttling": 400}
MAX_LATENCY_SECONDS = 60.0
MAX_COUNT = 10_000


class InjectedFault(SsoidcError):
    """An injected error answer: rendered as ``code`` of the service, with ``status``."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class DropConnection(Exception):
    """Raised out of ``Skeleton.dispatch``: the web layer closes the connection without answering."""


@dataclass(frozen=True, slots=True)
class Fault:
    """What the next ``count`` calls of ``operation`` (of ``service``, or any service naming it) meet."""

    operation: str
    service: str = ""
    error: str = ""
    message: str = ""
    latency_seconds: float = 0.0
    drop: bool = False
    count: int = 1


@dataclass(slots=True)
class _Pending:
    fault: Fault
    left: int


class FaultPlan:
    """The pending faults of one node (thread-safe: an in-process test server changes it from the test's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []  # in the order they were added

    def add(self, fault: Fault) -> Fault:
        """Validate and queue ``fault``; raises ValueError naming what is wrong."""
        op, service = fault.operation, fault.service
        candidates = [s for s in GENERIC_CODES if (not service or s == service) and _has(s, op)]
        if not candidates:
            where = f"service {service!r}" if service else "any service ssoidc serves"
            raise ValueError(f"{op!r} is not an operation of {where}")
        if len(candidates) > 1:
            raise ValueError(f"{op!r} is an operation of {', '.join(candidates)}: name the service")
        svc = candidates[0]
        if not 1 <= fault.count <= MAX_COUNT:
            raise ValueError(f"count must be between 1 and {MAX_COUNT}")
        if not 0 <= fault.latency_seconds <= MAX_LATENCY_SECONDS:
            raise ValueError(f"latency must be between 0 and {MAX_LATENCY_SECONDS:g} seconds")
        if fault.error and fault.drop:
            raise ValueError("a fault either answers an error or drops the connection, not both")
        if not (fault.error or fault.drop or fault.latency_seconds):
            raise ValueError("a fault needs an error, a latency or drop")
        if fault.error and fault.error not in allowed_errors(svc, op):
            raise ValueError(
                f"{op} of {svc} never answers {fault.error!r}; it may answer: {', '.join(allowed_errors(svc, op))}"
            )
        queued = Fault(op, svc, fault.error, fault.message, fault.latency_seconds, fault.drop, fault.count)
        with self._lock:
            self._pending.append(_Pending(queued, queued.count))
        return queued

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def pending(self) -> list[tuple[Fault, int]]:
        """The queued faults and how many calls each still applies to."""
        with self._lock:
            return [(p.fault, p.left) for p in self._pending]

    def take(self, service: str, operation: str) -> Fault | None:
        """The fault this call meets (the oldest one queued for the operation), counting it down; or None."""
        if not self._pending:  # the common case, without the lock
            return None
        with self._lock:
            for entry in self._pending:
                if entry.fault.operation == operation and entry.fault.service == service:
                    entry.left -= 1
                    if entry.left <= 0:
                        self._pending.remove(entry)
                    return entry.fault
        return None


def _has(service: str, operation: str) -> bool:
    return operation in service_model(service).operation_names


def _wire_codes(service: str, operation: str) -> dict[str, tuple[str, int]]:
    """The operation's modelled errors by the names a test may use (the shape's name, and the code the shape
    declares on the wire, e.g. STS's ``MalformedPolicyDocumentException`` is sent as ``MalformedPolicyDocument``)
    -> (wire code, HTTP status)."""
    model = service_model(service)
    out: dict[str, tuple[str, int]] = {}
    for shape in model.operation_model(operation).error_shapes:
        meta = shape.metadata.get("error", {})
        default = 500 if shape.name.startswith("InternalServer") else 400
        entry = (str(meta.get("code", shape.name)), int(meta.get("httpStatusCode", default)))
        out[shape.name] = out[entry[0]] = entry
    for code in GENERIC_CODES[service]:
        if code in UNMODELLED_STATUS and code not in model.shape_names:
            out.setdefault(code, (code, UNMODELLED_STATUS[code]))
        else:
            meta = model.shape_for(code).metadata.get("error", {})
            default = 500 if code.startswith("InternalServer") else 400
            out.setdefault(code, (str(meta.get("code", code)), int(meta.get("httpStatusCode", default))))
    return out


def allowed_errors(service: str, operation: str) -> list[str]:
    """The error codes a fault of ``operation`` may answer: the operation's modelled errors (by shape name or wire
    code) and the generic ones."""
    return sorted(_wire_codes(service, operation))


def error_of(fault: Fault) -> InjectedFault:
    """The error answer of ``fault``: the code the model puts on the wire, with the status it gives it."""
    code, status = _wire_codes(fault.service, fault.operation)[fault.error]
    return InjectedFault(code, status, fault.message or f"{code} (injected by ssoidc test mode)")

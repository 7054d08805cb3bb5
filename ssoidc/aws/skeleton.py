"""One AWS skeleton for every service ssoidc speaks: routing, authentication, codecs and the error boundary.

Each service is an ``AwsService``: its botocore model (the source of truth: operation names, HTTP bindings,
``auth``/``authtype``, protocol, signing name, shapes, error names) and a handler object whose methods are named ``botocore.xform_name(<Operation>)``
(``CreateTokenWithIAM`` -> ``create_token_with_iam``). The dispatch table is derived from the model: a modelled
operation with a method of that name is served; every other modelled operation answers the unmodelled
``NotImplementedException`` in the service's own error shape (HTTP 400, never retried), so an SDK reports it by
name instead of a bare 404. The protocol codec (``ssoidc.aws.protocols``: rest-json, AWS JSON 1.1, AWS Query) is
the one the model's ``metadata.protocol`` names.

``Skeleton.dispatch`` runs, for every request and in this order, inside one error boundary:

1. a request id (``x-amzn-RequestId``) and the configuration refresh (a store that cannot be reached is answered
   as the service's InternalServerException);
2. the body size limit;
3. the rate limit of the client address (``ssoidc.ratelimit``; before the signature, so failed authentication
   counts), then SigV4 (AWS Signature Version 4, with the service's ``signingName``), unless the model marks the
   operation unsigned (``authtype: none`` / ``auth: [smithy.api#noAuth]``); the signed ``Host`` must be one this
   deployment answers for (``allowed_hosts``) and a ``Content-Type`` must be signed (``ssoidc.aws.sigv4``); then
   the rate limit of the verified principal;
4. the service's authorization hook (the configuration plane: the account root or an identity policy allowing
   ``<signingName>:<Operation>``);
5. decode: the protocol reads the members from the body, query string and headers as the model binds them, and
   ``ssoidc.aws.models.validate`` checks them against the input shape (a failure is ``InvalidInput``, which each
   protocol words and shapes as its service does);
6. the handler: ``await handler(input, call) -> output``;
7. encode, by the protocol.

A domain error (``ssoidc.errors``) is rendered through the one table in ``ssoidc.aws.errors`` by the protocol's
renderer; anything else is logged with the request id and answered as the modelled internal error, with no detail.
Every error answer carries ``Cache-Control: no-store`` and ``Pragma: no-cache`` (``NO_STORE``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

from botocore import xform_name
from botocore.model import OperationModel, ServiceModel, Shape

from ssoidc.aws.errors import RenderedError
from ssoidc.aws.faults import DropConnection, Fault, FaultPlan, error_of
from ssoidc.aws.models import ShapeError, service_model, validate
from ssoidc.aws.protocols import PROTOCOLS
from ssoidc.aws.sigv4 import Credential, SignedRequest, SigV4Verifier, VerifiedCaller
from ssoidc.aws.wire import WireRequest, WireResponse
from ssoidc.errors import InvalidInput, NotImplementedOperation, SsoidcError, UnknownOperation
from ssoidc.ratelimit import RequestLimits

log = logging.getLogger("ssoidc.aws")

MAX_BODY = 64 * 1024
"""The largest request body any AWS operation accepts (the web layer stops reading past it)."""
TOO_LARGE = f"Request body is too large (limit {MAX_BODY // 1024} KiB)"
NO_STORE = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"))
"""On every error answer, of every service (RFC 6749 section 5.2 asks it of token errors; RFC 9111 section 5.2.2.5:
no cache keeps an answer that may name a client, a user or a grant)."""


@dataclass(slots=True)
class Call:
    """One authenticated (or modelled-unsigned), validated call, as handlers see it."""

    service: str
    operation: str
    request_id: str
    now: float
    principal_arn: str = ""
    """The SigV4 caller; empty for an unsigned operation."""
    access_key_id: str = ""
    source_ip: str | None = None


Handler = Callable[[Any, Call], Awaitable[Mapping[str, Any]]]
Authorizer = Callable[[str, str, str, float], Awaitable[None]]
"""``(principal_arn, access_key_id, "<signingName>:<Operation>", now)``; raises a domain error to refuse."""


class WireProtocol(Protocol):
    """A protocol codec (``ssoidc.aws.protocols``): reads inputs, writes outputs and renders errors."""

    def operation_name(self, model: ServiceModel, req: WireRequest) -> str | None:
        """``POST /`` protocols: the operation a request names for ``model``'s service (``""`` if it names none),
        or None if the request is not for that service. rest-json routes by path instead."""
        ...

    def decode(self, op: OperationModel, req: WireRequest) -> dict[str, Any]:
        """The input members, by the model's bindings, before validation. Raises ``ShapeError``."""
        ...

    def encode(self, op: OperationModel, output: Mapping[str, Any], request_id: str) -> WireResponse: ...

    def render_error(
        self, exc: BaseException, service: str, operation: str | None, request_id: str
    ) -> RenderedError: ...


@dataclass(frozen=True, slots=True)
class AwsService:
    """One AWS service served by ssoidc."""

    name: str
    """The botocore service name (``sso-oidc``, ``sso``, ``sso-admin``, ``identitystore``, ``sts``)."""
    handlers: object
    """An object whose methods named ``xform_name(<Operation>)`` serve those operations."""
    authorize: Authorizer | None = None
    constraints: bool = True
    """Validate the modelled lengths, ranges and patterns too (sso-oidc checks types and required members only)."""
    response_headers: tuple[tuple[bytes, bytes], ...] = ()
    """Added to every successful answer (sso-oidc: ``Cache-Control: no-store`` and ``Pragma: no-cache``, RFC 6749
    section 5.1). Every error answer carries both (``NO_STORE``)."""

    @property
    def model(self) -> ServiceModel:
        return service_model(self.name)


def handler_table(model: ServiceModel, handlers: object) -> dict[str, Handler]:
    """Modelled operation name -> bound handler, for every operation ``handlers`` has a method for."""
    table: dict[str, Handler] = {}
    for op in model.operation_names:
        method = getattr(handlers, xform_name(op), None)
        if method is not None:
            table[op] = method
    return table


def is_unsigned(op: OperationModel) -> bool:
    """The model marks the operation as taking no SigV4 signature (``authtype: none`` or smithy ``noAuth``)."""
    return op.auth_type == "none" or list(op.auth or ()) == ["smithy.api#noAuth"]


@dataclass(frozen=True, slots=True)
class _Service:
    service: AwsService
    protocol: WireProtocol


@dataclass(frozen=True, slots=True)
class _Op:
    service: _Service
    model: OperationModel
    handler: Handler | None
    verifier: SigV4Verifier | None
    """None for an operation the model marks unsigned."""
    name: str
    input_shape: Shape | None
    action: str
    """``<signingName>:<Operation>``, what the service's authorizer checks."""


@dataclass(frozen=True, slots=True)
class Found:
    """What ``Skeleton.find`` matched: a rest-json operation, or ``op=None`` for ``POST /`` (JSON 1.1 or Query:
    a header or the body names the operation)."""

    op: _Op | None


@dataclass(frozen=True, slots=True)
class _Route:
    """A rest-json binding: the literal query parameters its ``requestUri`` requires (``?aws_iam=t``)."""

    query: tuple[tuple[str, str], ...]
    literal: bytes
    """The model's query string as written (``aws_iam=t``): matched without parsing, the common case."""
    found: Found

    def matches(self, query_string: bytes) -> bool:
        """Each literal parameter present exactly once with its value (``aws_iam=t``; not ``aws_iam=T``, not
        ``aws_iam=t&aws_iam=t``, not a ``%26``-escaped look-alike)."""
        if not self.query or query_string == self.literal:
            return True
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
        return all([v for k2, v in pairs if k2 == k] == [want] for k, want in self.query)


class Skeleton:
    """The AWS dispatcher for every service (see the module docstring)."""

    def __init__(
        self,
        services: list[AwsService],
        *,
        lookup_credential: Callable[[str], Credential | None],
        region: str,
        max_skew_seconds: int,
        now: Callable[[], float],
        refresh: Callable[[], Awaitable[object]],
        allowed_hosts: Sequence[str] | None = None,
        limits: RequestLimits | None = None,
        faults: FaultPlan | None = None,
        signing_now: Callable[[], float] | None = None,
        lookup_session: Callable[[str], Awaitable[Credential | None]] | None = None,
    ) -> None:
        """``refresh`` (the configuration snapshot's) runs first for every request, inside the error mapping.
        ``allowed_hosts``: the signed ``Host`` values this deployment answers for (``Settings.signed_hosts``;
        None: any); ``limits``: the node's request rate limits (none if omitted); ``faults``: the fault plan of a
        node started for testing (``ssoidc.aws.faults``; None everywhere else); ``signing_now``: the time SigV4's
        signing-time window is checked against (default ``now``; the wall clock when a test moves ``now``);
        ``lookup_session``: where an access key id ``lookup_credential`` does not know is looked up next (session
        credentials, read from the store by key: ``ssoidc.credentials.session``)."""
        self._now = now
        self._signing_now = signing_now or now
        self._faults = faults
        self._lookup = lookup_credential
        self._lookup_session = lookup_session
        self._limits = limits or RequestLimits()
        self._refresh = refresh
        self._routes: dict[tuple[str, str], list[_Route]] = {}
        self._root: list[tuple[_Service, dict[str, _Op]]] = []
        """The ``POST /`` services (JSON 1.1 first, then Query), with their operations."""
        self._verifiers: dict[str, SigV4Verifier] = {}
        """Each signing name's verifier (``authenticate``)."""
        for service in services:
            model = service.model
            svc = _Service(service, PROTOCOLS[model.protocol])
            verifier = SigV4Verifier(
                lookup_credential,
                region=region,
                service=model.signing_name,
                max_skew_seconds=max_skew_seconds,
                allowed_hosts=allowed_hosts,
            )
            self._verifiers.setdefault(model.signing_name, verifier)
            table = handler_table(model, service.handlers)
            ops: dict[str, _Op] = {}
            for name in model.operation_names:
                opm = model.operation_model(name)
                ops[name] = _Op(
                    svc,
                    opm,
                    table.get(name),
                    None if is_unsigned(opm) else verifier,
                    name,
                    opm.input_shape,
                    f"{model.signing_name}:{name}",
                )
            if model.protocol == "rest-json":
                for op in ops.values():
                    path, _, qs = op.model.http["requestUri"].partition("?")
                    query = tuple((k, v) for k, _, v in (p.partition("=") for p in qs.split("&") if p))
                    if "{" in path:  # pragma: no cover - no served rest-json operation binds a path member
                        raise ValueError(f"{service.name} {name}: path members are not supported")
                    route = _Route(query, qs.encode(), Found(op))
                    self._routes.setdefault((op.model.http["method"], path), []).append(route)
            elif model.protocol in ("json", "query"):
                self._root.append((svc, ops))
            else:  # pragma: no cover - a model ssoidc was not written for
                raise ValueError(f"{service.name}: protocol {model.protocol} is not supported")
        for routes in self._routes.values():  # literal query parameters first: /token?aws_iam=t before /token
            routes.sort(key=lambda r: -len(r.query))
        self._root.sort(key=lambda entry: entry[0].service.model.protocol != "json")
        self._found_root = Found(None) if self._root else None

    async def _verify(self, verifier: SigV4Verifier, req: WireRequest, now: float) -> VerifiedCaller:
        """SigV4: the long-term credential table first, then the session credentials (read from the store)."""
        parsed = verifier.parse(  # the signing-time window: the wall clock even when a test moves ``now``
            SignedRequest(req.method, req.raw_path, req.query_string, req.headers, req.body),
            self._signing_now(),
        )
        credential = self._lookup(parsed.access_key_id)
        if credential is None and self._lookup_session is not None:
            credential = await self._lookup_session(parsed.access_key_id)
        return verifier.check(parsed, credential, now)

    async def authenticate(self, signing_name: str, req: WireRequest) -> VerifiedCaller:
        """SigV4 for a request the web layer serves beyond the AWS operations (``POST /introspect``, ``/revoke``):
        the verifier of ``signing_name`` (its credentials, session credentials, clock skew and signed hosts) and
        the rate limits of the client address (first) and of the verified principal, exactly as ``dispatch`` runs
        them. Raises the domain's ``AuthError`` or ``Throttled``."""
        now = self._now()
        self._limits.admit_address(req.client_ip, now)
        verified = await self._verify(self._verifiers[signing_name], req, now)
        self._limits.admit_principal(verified.principal_arn, now)
        return verified

    def find(self, method: str, path: str, query_string: bytes) -> Found | None:
        """The AWS operation a request names, or None (the web layer serves it then: pages, discovery)."""
        if method == "POST" and path == "/":
            return self._found_root
        for route in self._routes.get((method, path), ()):
            if route.matches(query_string):
                return route.found
        return None

    async def dispatch(self, req: WireRequest, found: Found) -> WireResponse:
        """Serve one AWS request that ``find`` matched; never raises, except ``DropConnection`` (an injected fault:
        the web layer closes the connection unanswered)."""
        request_id = str(uuid.uuid4())
        op = found.op
        svc = op.service if op is not None else self._root[0][0]
        op_name = op.name if op is not None else None
        try:
            if op is None:
                svc, op, named = self._resolve_root(req)
                op_name = op.name if op is not None else None
                if op is None:
                    await self._refresh()
                    if req.oversized:  # the body that would name the operation was not read
                        raise InvalidInput(TOO_LARGE)
                    raise UnknownOperation(
                        f"Unknown operation {named}"
                        if named
                        else "The request names no operation of this service"
                    )
            if self._faults is not None:
                fault = self._faults.take(svc.service.name, op.name)
                if fault is not None:
                    await _meet(fault)
            await self._refresh()
            return await self._invoke(op, req, request_id)
        except DropConnection:
            raise
        except SsoidcError as exc:
            err = svc.protocol.render_error(exc, svc.service.name, op_name, request_id)
            log.info("%s %s %s %s: %s", svc.service.name, op_name, err.code, request_id, exc.message)
        except Exception:
            log.exception("%s %s %s failed", svc.service.name, op_name, request_id)
            err = svc.protocol.render_error(RuntimeError(), svc.service.name, op_name, request_id)
        return WireResponse(err.status, err.body, [*err.headers, *NO_STORE])

    async def _invoke(self, op: _Op, req: WireRequest, request_id: str) -> WireResponse:
        svc = op.service
        service = svc.service
        name = op.name
        if req.oversized:
            raise InvalidInput(TOO_LARGE)
        now = self._now()
        principal = akid = ""
        self._limits.admit_address(req.client_ip, now)
        if op.verifier is not None:
            verified = await self._verify(op.verifier, req, now)
            principal, akid = verified.principal_arn, verified.access_key_id
            self._limits.admit_principal(principal, now)
            if service.authorize is not None:
                await service.authorize(principal, akid, op.action, now)
        if op.handler is None:
            raise NotImplementedOperation(
                f"{name} is not implemented by this ssoidc version (docs/behaviour.md lists what each service serves)"
            )
        try:
            raw = svc.protocol.decode(op.model, req)
            shape = op.input_shape
            clean = validate(shape, raw, "", constraints=service.constraints) if shape is not None else {}
        except ShapeError as exc:
            raise InvalidInput(exc.message, exc.path) from None
        output = await op.handler(
            clean, Call(service.name, name, request_id, now, principal, akid, req.client_ip)
        )
        resp = svc.protocol.encode(op.model, output, request_id)
        if service.response_headers:
            resp.headers.extend(service.response_headers)
        return resp

    def _resolve_root(self, req: WireRequest) -> tuple[_Service, _Op | None, str]:
        """``POST /``: the first service whose protocol finds an operation name for it (the ``X-Amz-Target`` prefix,
        a form body's ``Action``); else the first ``POST /`` service, which answers UnknownOperation."""
        for svc, ops in self._root:
            named = svc.protocol.operation_name(svc.service.model, req)
            if named is not None:
                return svc, ops.get(named), named
        target = req.header(b"x-amz-target")
        return self._root[0][0], None, target.decode("latin-1") if target is not None else ""


async def _meet(fault: Fault) -> None:
    """What an injected fault does to the call: wait, then drop the connection or answer the error (or go on)."""
    if fault.latency_seconds:
        await asyncio.sleep(fault.latency_seconds)
    if fault.drop:
        raise DropConnection
    if fault.error:
        raise error_of(fault)

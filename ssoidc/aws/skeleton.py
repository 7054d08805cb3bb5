"""One AWS skeleton for every service ssoidc speaks: routing, authentication, codecs and the error boundary.

Each service is an ``AwsService``: its botocore model (the source of truth: operation names, HTTP bindings,
``auth``/``authtype``, shapes, error names), a wire protocol (``ssoidc.aws.protocols``: rest-json, AWS JSON 1.1,
AWS Query) and a handler object whose methods are named ``botocore.xform_name(<Operation>)``
(``CreateTokenWithIAM`` -> ``create_token_with_iam``). The dispatch table is derived from the model: a modelled
operation with a method of that name is served; every other modelled operation answers the unmodelled
``NotImplementedException`` in the service's own error shape (HTTP 400, never retried), so an SDK reports it by
name instead of a bare 404.

``Skeleton.dispatch`` runs, for every request and in this order, inside one error boundary:

1. a request id (``x-amzn-RequestId``) and the configuration refresh (a store that cannot be reached is answered
   as the service's InternalServerException);
2. the body size limit;
3. SigV4 (AWS Signature Version 4, with the service's ``signingName``), unless the model marks the operation
   unsigned (``authtype: none`` / ``auth: [smithy.api#noAuth]``);
4. the service's authorization hook (the configuration plane: the account root or an identity policy allowing
   ``<prefix>:<Operation>``);
5. decode: the protocol reads the members from the body, query string, headers and path as the model binds them,
   and ``ssoidc.aws.models.validate`` checks them against the input shape;
6. the handler: ``await handler(input, call) -> output``;
7. encode, by the protocol.

A domain error (``ssoidc.errors``) is rendered through the one table in ``ssoidc.aws.errors`` by the protocol's
renderer; anything else is logged with the request id and answered as the modelled internal error, with no detail.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote_plus

from botocore import xform_name
from botocore.model import OperationModel, ServiceModel, Shape

from ssoidc.aws.errors import RenderedError
from ssoidc.aws.models import ShapeError, service_model, validate
from ssoidc.aws.sigv4 import Credential, SignedRequest, SigV4Verifier
from ssoidc.aws.wire import WireRequest, WireResponse
from ssoidc.errors import NotImplementedOperation, SsoidcError, UnknownOperation

log = logging.getLogger("ssoidc.aws")

MAX_BODY = 64 * 1024
"""The largest request body any AWS operation accepts (the web layer stops reading past it)."""


@dataclass(frozen=True, slots=True)
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
Authorizer = Callable[[str, str, str, float], None]
"""``(principal_arn, access_key_id, "<prefix>:<Operation>", now)``; raises a domain error to refuse."""


class WireProtocol(Protocol):
    """A protocol codec (``ssoidc.aws.protocols``): reads inputs, writes outputs and renders errors."""

    name: str

    def operation_name(self, model: ServiceModel, req: WireRequest) -> str | None:
        """The operation a request names inside the protocol (JSON 1.1 target, Query ``Action``); rest-json: None."""
        ...

    def decode(self, op: OperationModel, req: WireRequest, path_params: Mapping[str, str]) -> dict[str, Any]:
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
    protocol: WireProtocol
    handlers: object
    """An object whose methods named ``xform_name(<Operation>)`` serve those operations."""
    bad_input: Callable[[str, str], SsoidcError]
    """``(message, member path)`` -> the service's error for input that fails the model (or the size limit)."""
    authorize: Authorizer | None = None
    action_prefix: str = ""
    """The IAM action prefix the authorizer checks (``sso``, ``identitystore``)."""
    constraints: bool = True
    """Validate the modelled lengths, ranges and patterns too (sso-oidc checks types and required members only)."""
    response_headers: tuple[tuple[bytes, bytes], ...] = ()
    """Added to every successful answer (sso-oidc: ``Cache-Control: no-store``, RFC 6749 section 5.1)."""

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
    auth = op.auth
    return op.auth_type == "none" or (bool(auth) and list(auth) == ["smithy.api#noAuth"])


@dataclass(frozen=True, slots=True)
class _Op:
    service: AwsService
    model: OperationModel
    handler: Handler | None
    verifier: SigV4Verifier | None
    """None for an operation the model marks unsigned."""
    name: str
    input_shape: Shape | None
    action: str
    """``<action prefix>:<Operation>``, what the service's authorizer checks."""


@dataclass(frozen=True, slots=True)
class _Route:
    """A rest-json binding: method, a path template and the literal query parameters it requires."""

    method: str
    segments: tuple[str, ...]
    """Path segments; ``{Name}`` / ``{Name+}`` are path members."""
    query: tuple[tuple[str, str], ...]
    op: _Op
    literal: bytes
    """The model's literal query string (``aws_iam=t``)."""

    @property
    def templated(self) -> bool:
        return any(seg.startswith("{") for seg in self.segments)

    def query_matches(self, query_string: bytes) -> bool:
        """The literal parameters, each present exactly once with its value (``aws_iam=t``, not ``aws_iam=T``)."""
        if not self.query or query_string == self.literal:
            return True  # the common case (the query string is exactly the model's), without parsing
        pairs = [p.partition("=") for p in _query_text(query_string).split("&") if p]
        return all([v for name, _, v in pairs if name == k] == [want] for k, want in self.query)

    def path_params(self, path: str) -> dict[str, str] | None:
        """The path members of ``path`` if it fits the template (``{Name}`` one segment, ``{Name+}`` the rest)."""
        parts = [p for p in path.split("/") if p]
        params: dict[str, str] = {}
        for i, seg in enumerate(self.segments):
            if seg.startswith("{") and seg.endswith("+}"):
                params[seg[1:-2]] = "/".join(parts[i:])
                return params if i < len(parts) else None
            if i >= len(parts):
                return None
            if seg.startswith("{"):
                params[seg[1:-1]] = parts[i]
            elif seg != parts[i]:
                return None
        return params if len(parts) == len(self.segments) else None


def _query_text(query_string: bytes) -> str:
    text = query_string.decode("latin-1")
    return unquote_plus(text) if "%" in text or "+" in text else text


@dataclass(frozen=True, slots=True)
class Found:
    """What ``Skeleton.find`` matched: a rest-json route and its path members, or ``route=None`` for ``POST /``
    (JSON 1.1 or Query: the header or the body names the operation)."""

    route: _Route | None
    params: Mapping[str, str]


def _route_of(op: _Op) -> _Route:
    uri = op.model.http["requestUri"]
    path, _, qs = uri.partition("?")
    query = tuple(
        (k, v) for k, _, v in (p.partition("=") for p in qs.split("&") if p)
    )  # literal parameters, e.g. CreateTokenWithIAM's ?aws_iam=t
    segments = tuple(s for s in path.strip("/").split("/") if s)
    return _Route(op.model.http["method"], segments, query, op, qs.encode())


@dataclass
class _Entry:
    service: AwsService
    ops: dict[str, _Op] = field(default_factory=dict)


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
    ) -> None:
        """``refresh`` (the configuration snapshot's) runs first for every request, inside the error mapping."""
        self._now = now
        self._refresh = refresh
        self._entries: dict[str, _Entry] = {}
        self._routes: list[_Route] = []
        self._by_target: dict[str, _Entry] = {}
        self._query: list[_Entry] = []
        for service in services:
            model = service.model
            verifier = SigV4Verifier(
                lookup_credential,
                region=region,
                service=model.signing_name,
                max_skew_seconds=max_skew_seconds,
            )
            table = handler_table(model, service.handlers)
            entry = _Entry(service)
            for name in model.operation_names:
                opm = model.operation_model(name)
                entry.ops[name] = _Op(
                    service,
                    opm,
                    table.get(name),
                    None if is_unsigned(opm) else verifier,
                    name,
                    opm.input_shape,
                    f"{service.action_prefix}:{name}",
                )
            self._entries[service.name] = entry
            if model.protocol == "rest-json":
                self._routes.extend(_route_of(op) for op in entry.ops.values())
            elif model.protocol == "json":
                self._by_target[model.metadata["targetPrefix"]] = entry
            elif model.protocol == "query":
                self._query.append(entry)
            else:  # pragma: no cover - a model ssoidc was not written for
                raise ValueError(f"{service.name}: protocol {model.protocol} is not supported")
        # literal query parameters make a binding more specific: POST /token?aws_iam=t before POST /token
        self._routes.sort(key=lambda r: (-len(r.query), -len(r.segments)))
        self._exact: dict[tuple[str, str], list[_Route]] = {}
        for r in self._routes:
            if not r.templated:
                self._exact.setdefault((r.method, "/" + "/".join(r.segments)), []).append(r)
        self._templated = [r for r in self._routes if r.templated]
        self._root = Found(None, {}) if (self._by_target or self._query) else None
        self._default = next(iter(self._by_target.values()), None)

    @property
    def services(self) -> list[AwsService]:
        return [e.service for e in self._entries.values()]

    def handled(self, service: str) -> dict[str, bool]:
        """Every modelled operation of ``service`` -> whether ssoidc serves it."""
        return {name: op.handler is not None for name, op in self._entries[service].ops.items()}

    def find(self, method: str, path: str, query_string: bytes) -> Found | None:
        """The AWS operation a request names, or None (the web layer serves it then: pages, discovery)."""
        if method == "POST" and path == "/":
            return self._root
        for route in self._exact.get((method, path), ()):
            if route.query_matches(query_string):
                return Found(route, {})
        for route in self._templated:
            if route.method == method and route.query_matches(query_string):
                params = route.path_params(path)
                if params is not None:
                    return Found(route, params)
        return None

    async def dispatch(self, req: WireRequest, found: Found) -> WireResponse:
        """Serve one AWS request that ``find`` matched; never raises."""
        request_id = str(uuid.uuid4())
        if found.route is not None:
            op: _Op | None = found.route.op
            assert op is not None
            entry = self._entries[op.service.name]
        else:
            entry, op = self._resolve_root(req)
        service = entry.service
        op_name = op.model.name if op is not None else None
        try:
            await self._refresh()
            if op is None:
                named = service.protocol.operation_name(service.model, req)
                raise UnknownOperation(f"Unknown operation {named or '(the request names no operation)'}")
            return await self._invoke(op, req, found.params, request_id)
        except SsoidcError as exc:
            err = service.protocol.render_error(exc, service.name, op_name, request_id)
            log.info("%s %s %s %s: %s", service.name, op_name, err.code, request_id, exc.message)
        except Exception:
            log.exception("%s %s %s failed", service.name, op_name, request_id)
            err = service.protocol.render_error(RuntimeError(), service.name, op_name, request_id)
        return WireResponse(err.status, err.body, list(err.headers))

    async def _invoke(
        self, op: _Op, req: WireRequest, params: Mapping[str, str], request_id: str
    ) -> WireResponse:
        service = op.service
        name = op.name
        if req.oversized:
            raise service.bad_input(f"Request body is too large (limit {MAX_BODY // 1024} KiB)", "")
        now = self._now()
        principal = akid = ""
        if op.verifier is not None:
            verified = op.verifier.verify(
                SignedRequest(req.method, req.raw_path, req.query_string, req.headers, req.body), now
            )
            principal, akid = verified.principal_arn, verified.access_key_id
            if service.authorize is not None:
                service.authorize(principal, akid, op.action, now)
        if op.handler is None:
            raise NotImplementedOperation(
                f"{name} is not implemented by this ssoidc version (docs/behaviour.md lists what each service serves)"
            )
        try:
            raw = service.protocol.decode(op.model, req, params)
            shape = op.input_shape
            clean = validate(shape, raw, "", constraints=service.constraints) if shape is not None else {}
        except ShapeError as exc:
            raise service.bad_input(exc.message, exc.path) from None
        call = Call(service.name, name, request_id, now, principal, akid, req.client_ip)
        output = await op.handler(clean, call)
        resp = service.protocol.encode(op.model, output, request_id)
        resp.headers.extend(service.response_headers)
        return resp

    def _resolve_root(self, req: WireRequest) -> tuple[_Entry, _Op | None]:
        """``POST /``: the JSON 1.1 service of the ``X-Amz-Target`` prefix, else a Query service's ``Action``."""
        target = req.header(b"x-amz-target")
        if target is not None:
            prefix, _, op_name = target.decode("latin-1").partition(".")
            entry = self._by_target.get(prefix)
            if entry is not None:
                return entry, entry.ops.get(op_name)
        elif self._query and (req.header(b"content-type") or b"").startswith(
            b"application/x-www-form-urlencoded"
        ):
            for entry in self._query:
                named = entry.service.protocol.operation_name(entry.service.model, req)
                if named in entry.ops:
                    return entry, entry.ops[named]
            return self._query[0], None
        assert self._default is not None
        return self._default, None

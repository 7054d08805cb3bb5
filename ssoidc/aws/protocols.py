"""The AWS wire protocols ssoidc serves, each a codec for ``ssoidc.aws.skeleton``.

* ``RestJson`` (sso-oidc, the access portal ``sso``): the operation is chosen by the model's
  ``http.method``/``http.requestUri``; members are read from the JSON body, the query string
  (``location: querystring``) and headers (``location: header``) as the model binds them. Errors: ``x-amzn-ErrorType`` plus the error shape's members.
* ``Json11`` (sso-admin, identitystore): ``POST /`` with ``X-Amz-Target: <targetPrefix>.<Operation>`` and a JSON
  body; answers ``application/x-amz-json-1.1``. Errors: ``{"__type", "Message", ...}``.
* ``Query`` (STS): ``POST /`` with a form body (``Action=<Operation>&Version=...&Member.member.1=...``); answers
  ``text/xml`` ``<OperationResponse><OperationResult>...`` with ``ResponseMetadata/RequestId``. Errors:
  ``<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>``.

References: the AWS SDKs' protocol definitions (Smithy ``aws.protocols#restJson1``, ``awsJson1_1``,
``awsQuery``) and the botocore models' ``metadata.protocol``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import orjson
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

from ssoidc import strict_json
from ssoidc.aws.errors import RenderedError, render_json11_error, render_query_error, render_rest_json_error
from ssoidc.aws.models import ShapeError
from ssoidc.aws.wire import WireRequest, WireResponse

NOT_JSON = "Request body is not valid JSON"
FORM = b"application/x-www-form-urlencoded"


def _json_object(body: bytes) -> dict[str, Any]:
    """A JSON object body (an empty body is ``{}``). A member name repeated in any object, at any depth, is
    refused (``ssoidc.strict_json``: a proxy or log reading the first value must not see another request)."""
    if not body.strip():
        return {}
    try:
        doc = strict_json.loads(body)
    except orjson.JSONDecodeError:
        raise ShapeError("", NOT_JSON) from None
    except ValueError as exc:  # DuplicateMember, NestedTooDeeply
        raise ShapeError("", f"{NOT_JSON}: {exc}") from None
    if not isinstance(doc, dict):
        raise ShapeError("", "expected a JSON object")
    return doc


def _form(text: bytes, what: str) -> list[tuple[str, str]]:
    """``application/x-www-form-urlencoded`` pairs (a query string, a Query body), strictly UTF-8 after
    percent-decoding."""
    try:
        return parse_qsl(text.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise ShapeError("", f"{what} is not valid UTF-8") from None


def _query(text: bytes, names: frozenset[str]) -> dict[str, str]:
    """A rest-json query string: only the parameters the operation binds (its ``requestUri`` literals and
    querystring members), each at most once; anything else is refused rather than ignored (a parameter a proxy
    or log reads and ssoidc does not, or reads twice, would make the two disagree on what was asked)."""
    out: dict[str, str] = {}
    for key, value in _form(text, "The query string"):
        if key not in names:
            shown = f" '{key}'" if key.isascii() and key.isidentifier() and len(key) <= 32 else ""
            raise ShapeError("", f"The query string has a parameter{shown} this operation does not take")
        if key in out:
            raise ShapeError("", f"The query string has the parameter '{key}' more than once")
        out[key] = value
    return out


def _scalar(shape: Shape, raw: str, path: str) -> Any:
    """A string from a query string, header, path or form field, as the shape's type."""
    t = shape.type_name
    if t in ("integer", "long"):
        digits = raw[1:] if raw.startswith("-") else raw
        if not (digits.isascii() and digits.isdigit()):  # int() would take "1_000", " 12 " and other digits
            raise ShapeError(path, "expected an integer")
        return int(raw)
    if t == "boolean":
        if raw not in ("true", "false"):
            raise ShapeError(path, "expected true or false")
        return raw == "true"
    if t in ("float", "double"):
        try:
            return float(raw)
        except ValueError:
            raise ShapeError(path, "expected a number") from None
    return raw


@dataclass(frozen=True, slots=True)
class _Bindings:
    """Where each member of an operation's input and output travels, worked out once per operation."""

    bound_in: Mapping[str, Shape]
    """Input members bound to the query string, a header or the path."""
    body_in: bool
    """Some input members travel in the JSON body."""
    headers_out: Mapping[str, bytes]
    """Output members sent as headers -> the header name."""
    query_literal: bytes
    """The query string the model's ``requestUri`` writes (``aws_iam=t``), the common case: nothing to check."""
    query_names: frozenset[str]
    """Every query parameter the operation takes: the ``requestUri`` literals and the querystring members."""


def _bindings_of(op: OperationModel) -> _Bindings:
    shape, out = op.input_shape, op.output_shape
    bound: dict[str, Shape] = {}
    members: Mapping[str, Shape] = {}
    if isinstance(shape, StructureShape):
        members = shape.members
        bound = {n: m for n, m in members.items() if m.serialization.get("location")}
    headers: dict[str, bytes] = {}
    if isinstance(out, StructureShape):
        headers = {
            n: m.serialization["name"].lower().encode()
            for n, m in out.members.items()
            if m.serialization.get("location") == "header"
        }
    literal = op.http.get("requestUri", "").partition("?")[2]
    names = {p.partition("=")[0] for p in literal.split("&") if p}
    names.update(
        m.serialization.get("name", n)
        for n, m in bound.items()
        if m.serialization["location"] == "querystring"
    )
    return _Bindings(bound, len(bound) < len(members), headers, literal.encode(), frozenset(names))


class RestJson:
    """AWS rest-json (``aws.protocols#restJson1``)."""

    def __init__(self) -> None:
        self._bindings: dict[OperationModel, _Bindings] = {}  # models are cached: one object per operation

    def _of(self, op: OperationModel) -> _Bindings:
        found = self._bindings.get(op)
        if found is None:
            found = self._bindings[op] = _bindings_of(op)
        return found

    def operation_name(self, model: ServiceModel, req: WireRequest) -> str | None:
        """Never: a rest-json request names its operation by its path (``Skeleton.find``)."""
        return None

    def decode(self, op: OperationModel, req: WireRequest) -> dict[str, Any]:
        plan = self._of(op)
        out: dict[str, Any] = {}
        query: dict[str, str] = {}
        if req.query_string and req.query_string != plan.query_literal:
            query = _query(req.query_string, plan.query_names)
        if plan.body_in:
            body = _json_object(req.body)
            out = {k: v for k, v in body.items() if k not in plan.bound_in} if plan.bound_in else body
        if not plan.bound_in:
            return out
        for name, member in plan.bound_in.items():
            where = member.serialization["location"]
            wire_name = member.serialization.get("name", name)
            raw: str | None
            if where == "querystring":
                raw = query.get(wire_name)
            elif where == "header":
                wanted = wire_name.lower().encode("latin-1")
                values = [v for k, v in req.headers if k == wanted]
                if len(values) > 1:
                    raise ShapeError(name, f"the header {wire_name} is sent more than once")
                raw = values[0].decode("latin-1") if values else None
            else:  # no operation ssoidc routes binds a path member (every served requestUri is literal)
                raw = None
            if raw is not None:
                out[name] = _scalar(member, raw, name)
        return out

    def encode(self, op: OperationModel, output: Mapping[str, Any], request_id: str) -> WireResponse:
        headers = [(b"content-type", b"application/json"), (b"x-amzn-requestid", request_id.encode())]
        in_headers = self._of(op).headers_out
        body: Mapping[str, Any] = output
        if in_headers:
            body = {k: v for k, v in output.items() if k not in in_headers}
            headers.extend((in_headers[k], str(v).encode()) for k, v in output.items() if k in in_headers)
        return WireResponse(200, orjson.dumps(body), headers)

    def render_error(
        self, exc: BaseException, service: str, operation: str | None, request_id: str
    ) -> RenderedError:
        return render_rest_json_error(exc, service, request_id)


class Json11:
    """AWS JSON 1.1 (``aws.protocols#awsJson1_1``)."""

    def operation_name(self, model: ServiceModel, req: WireRequest) -> str | None:
        """The operation of ``X-Amz-Target: <targetPrefix>.<Operation>`` if the prefix is this service's."""
        target = req.header(b"x-amz-target")
        if target is None:
            return None
        prefix, _, op = target.decode("latin-1").partition(".")
        return op if prefix == model.metadata["targetPrefix"] else None

    def decode(self, op: OperationModel, req: WireRequest) -> dict[str, Any]:
        return _json_object(req.body)

    def encode(self, op: OperationModel, output: Mapping[str, Any], request_id: str) -> WireResponse:
        return WireResponse(
            200,
            orjson.dumps(output),
            [(b"content-type", b"application/x-amz-json-1.1"), (b"x-amzn-requestid", request_id.encode())],
        )

    def render_error(
        self, exc: BaseException, service: str, operation: str | None, request_id: str
    ) -> RenderedError:
        return render_json11_error(exc, service, request_id, operation)


class Query:
    """AWS Query (``aws.protocols#awsQuery``), as STS speaks it."""

    def operation_name(self, model: ServiceModel, req: WireRequest) -> str | None:
        """The ``Action`` of a form body (``""`` if it names none); None if the body is not a form."""
        content_type = (req.header(b"content-type") or b"").lower()
        if req.header(b"x-amz-target") is not None or not content_type.startswith(FORM):
            return None
        for k, v in parse_qsl(req.body.decode("latin-1"), keep_blank_values=True):
            if k == "Action":
                return v
        return ""

    def decode(self, op: OperationModel, req: WireRequest) -> dict[str, Any]:
        pairs = _form(req.body, "Request body")
        fields = dict(pairs)
        if len(fields) != len(pairs):  # the form twin of a repeated JSON member name
            raise ShapeError("", "Request body names a parameter more than once")
        shape = op.input_shape
        if shape is None:
            return {}
        value = _form_value(shape, fields, "")
        return value if isinstance(value, dict) else {}

    def encode(self, op: OperationModel, output: Mapping[str, Any], request_id: str) -> WireResponse:
        name = op.name
        shape = op.output_shape
        ns = op.service_model.metadata.get("xmlNamespace", "")
        inner = _xml_members(shape, output) if isinstance(shape, StructureShape) else ""
        wrapper = shape.serialization.get("resultWrapper", f"{name}Result") if shape is not None else ""
        result = f"<{wrapper}>{inner}</{wrapper}>" if wrapper else ""
        body = (
            f'<{name}Response xmlns="{ns}">{result}'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{name}Response>"
        )
        return WireResponse(
            200,
            body.encode(),
            [(b"content-type", b"text/xml"), (b"x-amzn-requestid", request_id.encode())],
        )

    def render_error(
        self, exc: BaseException, service: str, operation: str | None, request_id: str
    ) -> RenderedError:
        return render_query_error(exc, service, request_id)


def _form_value(shape: Shape, fields: Mapping[str, str], prefix: str) -> Any:
    """The value of ``shape`` at ``prefix`` in a Query form (``A.B``, ``L.member.N``)."""
    t = shape.type_name
    if t == "structure":
        assert isinstance(shape, StructureShape)
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            value = _form_value(member, fields, f"{prefix}.{key}" if prefix else key)
            if value is not None:
                out[name] = value
        return out if out or not prefix else None
    if t == "list":  # STS lists are ``L.member.N`` (no flattened lists, no maps in its model)
        items: list[Any] = []
        while (v := _form_value(shape.member, fields, f"{prefix}.member.{len(items) + 1}")) is not None:
            items.append(v)
        if not items and fields.get(prefix) == "":
            return []  # an empty list is sent as ``L=``
        return items or None
    raw = fields.get(prefix)
    return None if raw is None else _scalar(shape, raw, prefix)


def _xml_value(shape: Shape, value: Any) -> str:
    t = shape.type_name
    if t == "structure":
        assert isinstance(shape, StructureShape)
        return _xml_members(shape, value)
    if t == "list":
        member = shape.member
        return "".join(f"<member>{_xml_value(member, v)}</member>" for v in value)
    if t == "boolean":
        return "true" if value else "false"
    if t == "timestamp" and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return escape(str(value))


def _xml_members(shape: StructureShape, value: Mapping[str, Any]) -> str:
    parts = []
    for name, member in shape.members.items():
        if name in value and value[name] is not None:
            tag = member.serialization.get("name", name)
            parts.append(f"<{tag}>{_xml_value(member, value[name])}</{tag}>")
    return "".join(parts)


PROTOCOLS: dict[str, RestJson | Json11 | Query] = {
    "rest-json": RestJson(),
    "json": Json11(),
    "query": Query(),
}
"""The codec of each botocore ``metadata.protocol``."""

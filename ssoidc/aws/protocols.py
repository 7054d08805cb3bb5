"""The AWS wire protocols ssoidc serves, each a codec for ``ssoidc.aws.skeleton``.

* ``RestJson`` (sso-oidc, the access portal ``sso``): the operation is chosen by the model's
  ``http.method``/``http.requestUri``; members are read from the JSON body, the query string
  (``location: querystring``), headers (``location: header``) and the path (``location: uri``) as the model binds
  them. Errors: ``x-amzn-ErrorType`` plus the error shape's members.
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
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import orjson
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

from ssoidc.aws.errors import RenderedError, render_json11_error, render_query_error, render_rest_json_error
from ssoidc.aws.models import ShapeError
from ssoidc.aws.wire import WireRequest, WireResponse

NOT_JSON = "Request body is not valid JSON"


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ShapeError("", NOT_JSON) from None


def _scalar(shape: Shape, raw: str, path: str) -> Any:
    """A string from a query string, header, path or form field, as the shape's type."""
    t = shape.type_name
    if t in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise ShapeError(path, "expected an integer") from None
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
    return _Bindings(bound, len(bound) < len(members), headers)


class RestJson:
    """AWS rest-json (``aws.protocols#restJson1``)."""

    name = "rest-json"

    def __init__(self) -> None:
        self._bindings: dict[OperationModel, _Bindings] = {}  # models are cached: one object per operation

    def _of(self, op: OperationModel) -> _Bindings:
        found = self._bindings.get(op)
        if found is None:
            found = self._bindings[op] = _bindings_of(op)
        return found

    def operation_name(self, model: ServiceModel, req: WireRequest) -> str | None:
        return None  # the route names the operation

    def decode(self, op: OperationModel, req: WireRequest, path_params: Mapping[str, str]) -> dict[str, Any]:
        plan = self._of(op)
        out: dict[str, Any] = {}
        if plan.body_in:
            body = _json_body(req.body)
            if not isinstance(body, dict):
                raise ShapeError("", "expected a JSON object")
            out = {k: v for k, v in body.items() if k not in plan.bound_in} if plan.bound_in else body
        if not plan.bound_in:
            return out
        query = dict(parse_qsl(req.query_string.decode("latin-1"), keep_blank_values=True))
        for name, member in plan.bound_in.items():
            where = member.serialization["location"]
            wire_name = member.serialization.get("name", name)
            raw: str | None
            if where == "querystring":
                raw = query.get(wire_name)
            elif where == "header":
                value = req.header(wire_name.lower().encode("latin-1"))
                raw = None if value is None else value.decode("latin-1")
            elif where == "uri":
                raw = path_params.get(wire_name)
            else:
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

    name = "json"

    def operation_name(self, model: ServiceModel, req: WireRequest) -> str | None:
        target = req.header(b"x-amz-target")
        return None if target is None else target.decode("latin-1")

    def decode(self, op: OperationModel, req: WireRequest, path_params: Mapping[str, str]) -> dict[str, Any]:
        doc = _json_body(req.body)
        if not isinstance(doc, dict):
            raise ShapeError("", "expected a JSON object")
        return doc

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

    name = "query"

    def operation_name(self, model: ServiceModel, req: WireRequest) -> str | None:
        for k, v in parse_qsl(req.body.decode("latin-1"), keep_blank_values=True):
            if k == "Action":
                return v
        return None

    def decode(self, op: OperationModel, req: WireRequest, path_params: Mapping[str, str]) -> dict[str, Any]:
        try:
            fields = dict(parse_qsl(req.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError:
            raise ShapeError("", "Request body is not valid UTF-8") from None
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
    """The value of ``shape`` at ``prefix`` in a flattened Query form (``A.B``, ``L.member.N``, ``M.entry.N.key``)."""
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
    if t == "list":
        flat = shape.serialization.get("flattened", False)
        base = prefix if flat else f"{prefix}.member"
        items: list[Any] = []
        while (v := _form_value(shape.member, fields, f"{base}.{len(items) + 1}")) is not None:
            items.append(v)
        if not items and fields.get(prefix) == "":
            return []  # an empty list is sent as ``L=``
        return items or None
    if t == "map":
        entries: dict[str, Any] = {}
        i = 1
        while (k := fields.get(f"{prefix}.entry.{i}.key")) is not None:
            entries[k] = _form_value(shape.value, fields, f"{prefix}.entry.{i}.value")
            i += 1
        return entries or None
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
        from datetime import UTC, datetime

        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return escape(str(value))


def _xml_members(shape: StructureShape, value: Mapping[str, Any]) -> str:
    parts = []
    for name, member in shape.members.items():
        if name in value and value[name] is not None:
            tag = member.serialization.get("name", name)
            parts.append(f"<{tag}>{_xml_value(member, value[name])}</{tag}>")
    return "".join(parts)

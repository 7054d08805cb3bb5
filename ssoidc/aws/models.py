"""Access to the pinned botocore service models, the source of truth for shapes, bindings and error names."""

from __future__ import annotations

from functools import cache
from typing import Any

import regex
from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape


@cache
def service_model(name: str) -> ServiceModel:
    return ServiceModel(Loader().load_service_model(name, "service-2"), service_name=name)


def operation(service: str, op: str) -> OperationModel:
    return service_model(service).operation_model(op)


def error_status(service: str, code: str) -> int:
    """The modelled HTTP status of error shape ``code`` in ``service``."""
    shape = service_model(service).shape_for(code)
    status: int = shape.metadata.get("error", {}).get("httpStatusCode", 400)
    return status


class ShapeError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@cache
def _pattern(p: str) -> Any:
    return regex.compile(p, regex.V0)


def _check_constraints(shape: Shape, value: Any, path: str) -> None:
    """The modelled ``min``/``max`` (length, item count or value) and ``pattern`` (matched whole) of a shape."""
    meta = shape.metadata
    lo, hi = meta.get("min"), meta.get("max")
    t = shape.type_name
    if t in ("integer", "long", "float", "double"):
        if lo is not None and value < lo:
            raise ShapeError(path, f"must be at least {lo}")
        if hi is not None and value > hi:
            raise ShapeError(path, f"must be at most {hi}")
        return
    if t in ("string", "list", "map", "blob"):
        size = len(value)
        unit = {"string": "characters", "blob": "bytes", "list": "items", "map": "entries"}[t]
        if lo is not None and size < lo:
            raise ShapeError(path, f"must have length at least {lo} ({unit})")
        if hi is not None and size > hi:
            raise ShapeError(path, f"must have length at most {hi} ({unit})")
    pattern = meta.get("pattern")
    if t == "string" and pattern and _pattern(pattern).fullmatch(value) is None:
        raise ShapeError(path, f"must satisfy the regular expression pattern {pattern}")


def validate(shape: Shape, value: Any, path: str, *, constraints: bool = False) -> Any:
    """Check ``value`` against a botocore shape: required members, types, enums, list/map members.

    With ``constraints`` also the modelled lengths, counts, ranges and patterns (patterns must match the whole
    value, as AWS's validators do). Unknown structure members are dropped, as AWS services ignore them. Returns
    the cleaned value. Raises ``ShapeError`` naming the member path.
    """
    return _validate(shape, value, path, constraints)


NUL_MESSAGE = "must not contain the character U+0000"
"""No string of any request may hold NUL: PostgreSQL's text cannot store it (SQLite can), so it is refused at the
wire, the same on both stores, instead of failing in the store."""


def _no_nul(value: Any, path: str) -> None:
    """Refuse NUL in any string, key or value, of a free-form JSON document."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ShapeError(path, NUL_MESSAGE)
    elif isinstance(value, dict):
        for k, v in value.items():
            _no_nul(k, path)
            _no_nul(v, path)
    elif isinstance(value, list):
        for v in value:
            _no_nul(v, path)


def _validate(shape: Shape, value: Any, path: str, constraints: bool) -> Any:
    t = shape.type_name
    if t == "structure" and shape.metadata.get("document"):
        _no_nul(value, path)
        return value  # a free-form JSON document (an IAM policy); the domain parses it
    if t == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            raise ShapeError(path, "expected a JSON object")
        if shape.metadata.get("union"):
            present = [k for k in shape.members if value.get(k) is not None]
            if len(present) != 1:
                raise ShapeError(path, f"must set exactly one of {', '.join(shape.members)}")
        out: dict[str, Any] = {}
        for name in shape.required_members:
            if value.get(name) is None:
                raise ShapeError(f"{path}.{name}" if path else name, "is required")
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                out[name] = _validate(member, value[name], f"{path}.{name}" if path else name, constraints)
        return out
    if t == "list":
        if not isinstance(value, list):
            raise ShapeError(path, "expected a list")
        member = shape.member
        items = [_validate(member, v, f"{path}[{i}]", constraints) for i, v in enumerate(value)]
        if constraints:
            _check_constraints(shape, items, path)
        return items
    if t == "map":
        if not isinstance(value, dict):
            raise ShapeError(path, "expected a map")
        out_map = {
            _validate(shape.key, k, path, constraints): _validate(shape.value, v, f"{path}.{k}", constraints)
            for k, v in value.items()
        }
        if constraints:
            _check_constraints(shape, out_map, path)
        return out_map
    if t == "string":
        if not isinstance(value, str):
            raise ShapeError(path, "expected a string")
        if "\x00" in value:
            raise ShapeError(path, NUL_MESSAGE)
        enum = shape.enum
        if enum and value not in enum:
            raise ShapeError(path, f"must be one of {', '.join(enum)}")
        if constraints:
            _check_constraints(shape, value, path)
        return value
    if t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ShapeError(path, "expected an integer")
        if constraints:
            _check_constraints(shape, value, path)
        return value
    if t == "boolean":
        if not isinstance(value, bool):
            raise ShapeError(path, "expected a boolean")
        return value
    if t in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ShapeError(path, "expected a number")
        if constraints:
            _check_constraints(shape, value, path)
        return value
    if t == "timestamp":
        if not isinstance(value, int | float | str) or isinstance(value, bool):
            raise ShapeError(path, "expected a timestamp")
        return value
    # blobs and documents: accept as given (no such members on the operations served)
    return value

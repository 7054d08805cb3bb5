"""Access to the pinned botocore service models, the source of truth for shapes, bindings and error names."""

from __future__ import annotations

from functools import cache
from typing import Any

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


def validate(shape: Shape, value: Any, path: str) -> Any:
    """Check ``value`` against a botocore shape: required members, types, enums, list/map members.

    Unknown structure members are dropped, as AWS services ignore them. Returns the cleaned value.
    Raises ``ShapeError`` naming the member path.
    """
    t = shape.type_name
    if t == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            raise ShapeError(path, "expected a JSON object")
        out: dict[str, Any] = {}
        for name in shape.required_members:
            if value.get(name) is None:
                raise ShapeError(f"{path}.{name}" if path else name, "is required")
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                out[name] = validate(member, value[name], f"{path}.{name}" if path else name)
        return out
    if t == "list":
        if not isinstance(value, list):
            raise ShapeError(path, "expected a list")
        member = shape.member
        return [validate(member, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if t == "map":
        if not isinstance(value, dict):
            raise ShapeError(path, "expected a map")
        return {
            validate(shape.key, k, path): validate(shape.value, v, f"{path}.{k}") for k, v in value.items()
        }
    if t == "string":
        if not isinstance(value, str):
            raise ShapeError(path, "expected a string")
        enum = shape.enum
        if enum and value not in enum:
            raise ShapeError(path, f"must be one of {', '.join(enum)}")
        return value
    if t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ShapeError(path, "expected an integer")
        return value
    if t == "boolean":
        if not isinstance(value, bool):
            raise ShapeError(path, "expected a boolean")
        return value
    if t in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ShapeError(path, "expected a number")
        return value
    # timestamps, blobs, documents: accept as given (no such members on the operations served so far)
    return value

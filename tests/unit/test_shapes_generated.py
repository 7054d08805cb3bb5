"""The checked-in ``ssoidc/aws/shapes`` modules are what tools/gen_shapes.py writes for the pinned botocore."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import typing
from pathlib import Path

import botocore
import pytest
from botocore.loaders import Loader

ROOT = Path(__file__).resolve().parents[2]
SHAPES = ROOT / "ssoidc" / "aws" / "shapes"


def _generator() -> typing.Any:
    spec = importlib.util.spec_from_file_location("gen_shapes", ROOT / "tools" / "gen_shapes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_shapes"] = module
    spec.loader.exec_module(module)
    return module


def test_checked_in_shapes_are_current(tmp_path: Path) -> None:
    gen = _generator()
    written = gen.generate(tmp_path)
    assert {p.name for p in written} == {p.name for p in SHAPES.glob("*.py")}
    for fresh in written:
        checked_in = SHAPES / fresh.name
        assert checked_in.read_text() == fresh.read_text(), (
            f"{checked_in.relative_to(ROOT)} is stale for botocore {botocore.__version__}: run `make shapes`"
        )


@pytest.mark.parametrize("service", ["sso-oidc", "sso-admin", "identitystore", "sso", "sts"])
def test_every_structure_is_a_typed_dict_with_the_modelled_members(service: str) -> None:
    module = importlib.import_module(f"ssoidc.aws.shapes.{service.replace('-', '_')}")
    assert f"botocore {botocore.__version__}" in (module.__doc__ or "")
    model = Loader().load_service_model(service, "service-2")
    for name, shape in model["shapes"].items():
        if shape["type"] == "structure" and not shape.get("document"):
            td = getattr(module, name)
            assert typing.is_typeddict(td), name
            members = set(shape.get("members", {}))
            assert set(td.__annotations__) == members, name
            required = set() if shape.get("union") else set(shape.get("required", ()))
            assert td.__required_keys__ == frozenset(required), name
        elif shape["type"] == "string" and shape.get("enum"):
            assert typing.get_args(getattr(module, name)) == tuple(shape["enum"]), name


def test_typed_shapes_resolve() -> None:
    """Every annotation names something the module defines (no dangling forward reference)."""
    from ssoidc.aws.shapes import sso_admin

    hints = typing.get_type_hints(sso_admin.PutApplicationGrantRequest)
    assert hints["Grant"] is sso_admin.Grant
    assert typing.get_type_hints(sso_admin.InstanceMetadata)["CreatedDate"] is float

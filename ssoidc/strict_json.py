"""Strict JSON object parsing: one value per member name, at every depth.

RFC 8259 section 4 says member names within an object SHOULD be unique and that implementations differ on
what a repeated name means (the first value, the last, an error). A body read one way by ssoidc and another by
a proxy or an audit log (``clientId`` twice: the log sees one client, ssoidc serves the other) is refused
instead (I-JSON, RFC 7493 section 2.3: objects MUST NOT have duplicate names).

The hot path stays orjson: ``loads`` parses with orjson, then compares the number of members it kept with an
upper bound on the number of members the text holds (the ``"`` + optional whitespace + ``:`` sequences: every
member name ends with one, and a string can only add more). Equal counts prove no name repeats; only a body
with more (a repeated name, or a string value such as ``"\\":"``) is parsed again, with the standard library's
``object_pairs_hook``, to find the repeated name.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["DuplicateMember", "NestedTooDeeply", "loads", "reject_duplicates"]

_NAME_END = re.compile(rb'"[ \t\r\n]*:')
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class DuplicateMember(ValueError):
    """An object repeats a member name. ``name`` is the name when it is safe to show (else empty)."""

    def __init__(self, name: str) -> None:
        self.name = name if _SAFE_NAME.fullmatch(name) else ""
        shown = f" '{self.name}'" if self.name else ""
        super().__init__(f"duplicate member name{shown}")


class NestedTooDeeply(ValueError):
    """The document nests deeper than the duplicate check can follow (orjson takes 1024 levels)."""


def reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads(..., object_pairs_hook=reject_duplicates)``: the object, or ``DuplicateMember``."""
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise DuplicateMember(name)
        result[name] = value
    return result


def _members(value: object) -> int:
    """The number of members of every object in a parsed document."""
    n = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            n += len(item)
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return n


def loads(text: bytes) -> Any:
    """orjson's parse of ``text``; raises ``orjson.JSONDecodeError`` for invalid JSON and ``DuplicateMember``
    if any object, at any depth, repeats a member name."""
    doc = orjson.loads(text)
    if type(doc) in (dict, list) and len(_NAME_END.findall(text)) != _members(doc):
        try:
            json.loads(text, object_pairs_hook=reject_duplicates)
        except (
            RecursionError
        ):  # orjson takes 1024 levels, the standard parser fewer: refuse what it cannot check
            raise NestedTooDeeply("nested too deeply to check for duplicate member names") from None
        except DuplicateMember:
            raise
        except ValueError:  # pragma: no cover - the standard parser takes everything orjson takes
            pass
    return doc

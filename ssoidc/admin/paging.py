"""Keyset pagination for List* operations (``NextToken`` / ``MaxResults``).

Items are ordered by a stable key (an ARN or id); ``NextToken`` carries the last key returned. A page therefore
never repeats or skips an item that existed when the listing started, whatever is inserted or deleted meanwhile
(new items appear if their key sorts after the cursor). ``next_page`` is the token member of a List* answer.

Tokens are sealed (``PageTokens``): base64url of the payload followed by its MAC (the models' token patterns allow
no separator), HMAC-SHA256 truncated to 128 bits under
a key derived from the master key, over the operation's name, the request's other members (everything but
``NextToken`` and ``MaxResults``, canonical JSON) and the payload. So a token cannot be edited to start elsewhere,
and is valid only for the operation and the arguments that issued it (as AWS's opaque tokens: a token given to
another operation, another group's listing or another filter is refused); ``MaxResults`` may change between pages.
A token that does not verify is a ``ValidationFailed`` naming ``NextToken``, before anything is read.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, TypeVar

import orjson

from ssoidc.base64url import b64u, b64u_decode
from ssoidc.crypto import derive_key
from ssoidc.errors import ValidationFailed

T = TypeVar("T")
DEFAULT_PAGE = 100
_UNBOUND = frozenset({"NextToken", "MaxResults"})
_MAC_BYTES = 16


def _invalid() -> ValidationFailed:
    return ValidationFailed("The NextToken is not valid for this operation", "NextToken")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where one listing request starts (``after``, ``""`` for the first page), and how its next token is sealed."""

    after: str
    _key: bytes
    _scope: bytes

    def next_token(self, last: str) -> str:
        """The sealed token of a next page that starts after ``last``."""
        payload = orjson.dumps({"v": 2, "after": last})
        return b64u(payload + _mac(self._key, self._scope, payload))


def _mac(key: bytes, scope: bytes, payload: bytes) -> bytes:
    return hmac.new(key, scope + b"\x00" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


class PageTokens:
    """Issues and checks the ``NextToken`` of every List* operation of one deployment (nodes sharing the master
    key accept each other's tokens)."""

    def __init__(self, master_key: bytes) -> None:
        self._key = derive_key(master_key, "pagination-token")

    def cursor(self, operation: str, inp: Mapping[str, Any]) -> Cursor:
        """The cursor of a List* request: its ``NextToken`` verified against ``operation`` and ``inp``."""
        bound = {k: v for k, v in inp.items() if k not in _UNBOUND}
        scope = operation.encode() + b"\x00" + orjson.dumps(bound, option=orjson.OPT_SORT_KEYS, default=str)
        token = inp.get("NextToken")
        if not token:
            return Cursor("", self._key, scope)
        try:
            raw = b64u_decode(str(token))
            payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
            if len(raw) <= _MAC_BYTES or not hmac.compare_digest(mac, _mac(self._key, scope, payload)):
                raise ValueError
            doc = orjson.loads(payload)
            after = doc["after"]
            if doc.get("v") != 2 or not isinstance(after, str):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise _invalid() from None
        return Cursor(after, self._key, scope)


def page(
    items: Iterable[T],
    key: Callable[[T], str],
    cursor: Cursor,
    max_results: int | None,
    default: int = DEFAULT_PAGE,
) -> tuple[list[T], str | None]:
    """One page of ``items`` ordered by ``key``, and the token for the next page (None on the last page)."""
    limit = max_results or default
    ordered = sorted(items, key=key)
    if cursor.after:
        ordered = [i for i in ordered if key(i) > cursor.after]
    chunk = ordered[:limit]
    more = len(ordered) > limit
    return chunk, (cursor.next_token(key(chunk[-1])) if more and chunk else None)


async def fetch_page(
    fetch: Callable[[str, int], Awaitable[list[T]]],
    key: Callable[[T], str],
    cursor: Cursor,
    max_results: int | None,
    default: int = DEFAULT_PAGE,
) -> tuple[list[T], str | None]:
    """``page`` for items the store orders and pages itself: ``fetch(after, limit)`` returns at most ``limit``
    items whose ``key`` sorts after ``after``, in ``key`` order; one more than the page is read to know if
    another page follows."""
    limit = max_results or default
    items = await fetch(cursor.after, limit + 1)
    chunk = items[:limit]
    return chunk, (cursor.next_token(key(chunk[-1])) if len(items) > limit and chunk else None)


class NextPage(TypedDict):
    """The ``NextToken`` member every List* output shape has."""

    NextToken: NotRequired[str]


def next_page(next_token: str | None) -> NextPage:
    """``NextToken`` for a List* answer, unless this is the last page: ``{"Items": chunk, **next_page(nxt)}``."""
    return {"NextToken": next_token} if next_token else {}

"""Keyset pagination for List* operations (``NextToken`` / ``MaxResults``).

Items are ordered by a stable key (an ARN or id); ``NextToken`` is an opaque, URL-safe encoding of the last key
returned. A page therefore never repeats or skips an item that existed when the listing started, whatever is
inserted or deleted meanwhile (new items appear if their key sorts after the cursor). A token that does not
decode is a ``ValidationFailed`` naming ``NextToken``. ``next_page`` is the token member of a List* answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import NotRequired, TypedDict, TypeVar

import orjson

from ssoidc.base64url import b64u, b64u_decode
from ssoidc.errors import ValidationFailed

T = TypeVar("T")
DEFAULT_PAGE = 100


def _encode(key: str) -> str:
    return b64u(orjson.dumps({"v": 1, "after": key}))


def _decode(token: str) -> str:
    try:
        doc = orjson.loads(b64u_decode(token))
        after = doc["after"]
        if doc.get("v") != 1 or not isinstance(after, str):
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError):
        raise ValidationFailed("The NextToken is not valid for this operation", "NextToken") from None


def page(
    items: Iterable[T],
    key: Callable[[T], str],
    next_token: str | None,
    max_results: int | None,
    default: int = DEFAULT_PAGE,
) -> tuple[list[T], str | None]:
    """One page of ``items`` ordered by ``key``, and the token for the next page (None on the last page)."""
    limit = max_results or default
    ordered = sorted(items, key=key)
    if next_token:
        after = _decode(next_token)
        ordered = [i for i in ordered if key(i) > after]
    chunk = ordered[:limit]
    more = len(ordered) > limit
    return chunk, (_encode(key(chunk[-1])) if more and chunk else None)


async def fetch_page(
    fetch: Callable[[str, int], Awaitable[list[T]]],
    key: Callable[[T], str],
    next_token: str | None,
    max_results: int | None,
    default: int = DEFAULT_PAGE,
) -> tuple[list[T], str | None]:
    """``page`` for items the store orders and pages itself: ``fetch(after, limit)`` returns at most ``limit``
    items whose ``key`` sorts after ``after``, in ``key`` order; one more than the page is read to know if
    another page follows."""
    limit = max_results or default
    after = _decode(next_token) if next_token else ""
    items = await fetch(after, limit + 1)
    chunk = items[:limit]
    return chunk, (_encode(key(chunk[-1])) if len(items) > limit and chunk else None)


class NextPage(TypedDict):
    """The ``NextToken`` member every List* output shape has."""

    NextToken: NotRequired[str]


def next_page(next_token: str | None) -> NextPage:
    """``NextToken`` for a List* answer, unless this is the last page: ``{"Items": chunk, **next_page(nxt)}``."""
    return {"NextToken": next_token} if next_token else {}

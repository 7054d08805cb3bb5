"""``ssoidc.admin.paging``: sealed, bound ``NextToken`` cursors (without a server)."""

from __future__ import annotations

import asyncio

import pytest

from ssoidc.admin.paging import PageTokens, fetch_page, page
from ssoidc.errors import ValidationFailed

KEY = bytes(range(32))
ITEMS = [f"item-{i:02d}" for i in range(7)]


def all_pages(tokens: PageTokens, operation: str, inp: dict[str, object], size: int) -> list[list[str]]:
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        chunk, token = page(ITEMS, str, tokens.cursor(operation, {**inp, "NextToken": token}), size)
        pages.append(chunk)
        if token is None:
            return pages


def test_pages_cover_every_item_once() -> None:
    pages = all_pages(PageTokens(KEY), "ListUsers", {"IdentityStoreId": "d-1"}, 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == ITEMS


def test_fetch_page_reads_after_the_cursor() -> None:
    tokens = PageTokens(KEY)
    seen: list[str] = []

    async def fetch(after: str, limit: int) -> list[str]:
        seen.append(after)
        return [i for i in ITEMS if i > after][:limit]

    first, token = asyncio.run(fetch_page(fetch, str, tokens.cursor("ListGroups", {}), 2))
    second, _ = asyncio.run(fetch_page(fetch, str, tokens.cursor("ListGroups", {"NextToken": token}), 2))
    assert (first, second, seen) == (ITEMS[:2], ITEMS[2:4], ["", "item-01"])


@pytest.mark.parametrize(
    ("operation", "inp", "key"),
    [
        ("ListGroups", {"IdentityStoreId": "d-1"}, KEY),  # another operation
        ("ListUsers", {"IdentityStoreId": "d-2"}, KEY),  # other arguments
        ("ListUsers", {"IdentityStoreId": "d-1", "Filters": []}, KEY),  # an added member
        ("ListUsers", {"IdentityStoreId": "d-1"}, bytes(32)),  # another deployment's key
    ],
)
def test_a_token_is_bound_to_what_issued_it(operation: str, inp: dict[str, object], key: bytes) -> None:
    _, token = page(ITEMS, str, PageTokens(KEY).cursor("ListUsers", {"IdentityStoreId": "d-1"}), 2)
    assert token is not None
    with pytest.raises(ValidationFailed):
        PageTokens(key).cursor(operation, {**inp, "NextToken": token})
    # MaxResults is not bound: the same listing with another page size accepts it
    assert PageTokens(KEY).cursor(
        "ListUsers", {"IdentityStoreId": "d-1", "MaxResults": 5, "NextToken": token}
    )


@pytest.mark.parametrize(
    "token", ["%%%", "a", "é", "e30", "e30AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAA"]
)
def test_malformed_tokens_are_validation_errors(token: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        PageTokens(KEY).cursor("ListUsers", {"NextToken": token})
    assert info.value.args[0] == "The NextToken is not valid for this operation"

"""``ssoidc.directory_cache.CachedDirectory``: bounded, and every change-feed entry drops what it may have staled."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from ssoidc.directory_cache import CachedDirectory
from ssoidc.ids import membership_id
from ssoidc.model import Assignment, Email, Group, Membership, User
from ssoidc.storage.base import Change
from ssoidc.storage.memory import MemoryStore
from tests.helpers.storage import put_catalogue
from tests.storage.test_contract import APP, configuration

KEY = bytes(32)
T = TypeVar("T")


@pytest.fixture()
def store() -> MemoryStore:
    s = MemoryStore(master_key=KEY)
    c = configuration()
    asyncio.run(s.replace_configuration(replace(c, users=(), groups=(), assignments=())))
    return s


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def changes_after(store: MemoryStore, version: int) -> list[Change]:
    found = asyncio.run(store.changes_since(version))
    assert found is not None
    return found


def test_a_cached_answer_is_served_until_its_entity_changes(store: MemoryStore) -> None:
    cache = CachedDirectory(store, 100)
    alice = User("u1", "alice", emails=(Email("a@example.com"),))
    run(store.create_user(alice))
    assert run(cache.find_users("emails.value", "a@example.com")) == [alice]
    assert run(cache.find_users("emails.value", "a@example.com")) == [alice]
    assert (cache.hits, cache.misses) == (1, 1)
    v = run(store.config_version())
    renamed = replace(alice, emails=(Email("b@example.com"),))
    run(store.update_user(renamed))
    assert run(cache.find_users("emails.value", "a@example.com")) == [alice]  # stale until the feed is read
    cache.invalidate(changes_after(store, v))
    assert run(cache.find_users("emails.value", "a@example.com")) == []
    assert run(cache.find_users("emails.value", "b@example.com")) == [renamed]


def test_a_new_user_is_found_by_a_lookup_that_missed_before(store: MemoryStore) -> None:
    cache = CachedDirectory(store, 100)
    assert run(cache.find_users("username", "bob")) == []
    v = run(store.config_version())
    run(store.create_user(User("u2", "bob")))
    cache.invalidate(changes_after(store, v))
    assert run(cache.find_users("username", "bob")) == [User("u2", "bob")]


@pytest.mark.parametrize("change", ["membership", "group", "assignment", "user-delete", "catalogue"])
def test_the_assignment_gate_follows_every_change_that_moves_it(store: MemoryStore, change: str) -> None:
    cache = CachedDirectory(store, 100)
    run(store.create_user(User("u1", "alice")))
    run(store.create_group(Group("g1", "group")))
    run(store.create_membership(Membership(membership_id("g1", "u1"), "g1", "u1")))
    run(store.create_assignment(Assignment(APP, "GROUP", "g1")))
    run(store.create_assignment(Assignment(APP, "USER", "u1")))
    if change != "assignment":
        run(store.delete_assignment(Assignment(APP, "USER", "u1")))  # only the group grants access
    assert run(cache.is_assigned(APP, "u1")) is True
    v = run(store.config_version())
    if change == "membership":
        run(store.delete_membership(membership_id("g1", "u1")))
    elif change == "group":
        run(store.delete_group("g1"))
    elif change == "assignment":
        run(store.delete_assignment(Assignment(APP, "USER", "u1")))
        run(store.delete_assignment(Assignment(APP, "GROUP", "g1")))
    elif change == "user-delete":
        run(store.delete_user("u1", now=1.0))
    else:
        catalogue, _ = asyncio.run(store.load_catalogue())
        assert catalogue is not None
        run(put_catalogue(store, replace(catalogue, applications=())))
    assert run(cache.is_assigned(APP, "u1")) is True  # cached
    cache.invalidate(changes_after(store, v))
    assert run(cache.is_assigned(APP, "u1")) is False


def test_a_gap_in_the_feed_drops_everything(store: MemoryStore) -> None:
    cache = CachedDirectory(store, 100)
    run(store.create_user(User("u1", "alice")))
    run(cache.get_user("u1"))
    run(cache.is_assigned(APP, "u1"))
    assert cache.entries == 2
    cache.invalidate(None)
    assert cache.entries == 0


def test_each_map_holds_at_most_its_size(store: MemoryStore) -> None:
    cache = CachedDirectory(store, 3)
    for i in range(10):
        run(store.create_user(User(f"u{i}", f"n{i}")))
        run(cache.get_user(f"u{i}"))
        run(cache.find_users("username", f"n{i}"))
    assert cache.entries == 6
    cache.misses = 0
    run(cache.get_user("u9"))  # the most recent stay
    run(cache.get_user("u0"))  # the oldest went
    assert cache.misses == 1


def test_a_read_that_straddles_an_invalidation_does_not_fill_the_cache(store: MemoryStore) -> None:
    """The store answers from before a change; the change's invalidation lands while the read is in flight."""
    run(store.create_user(User("u1", "old")))
    cache: CachedDirectory

    class Slow:
        async def get_user(self, user_id: str) -> User | None:
            user = await store.get_user(user_id)
            cache.invalidate([Change(99, "user", user_id)])  # the change arrives meanwhile
            return user

        async def find_users(self, attribute: str, value: str, *, limit: int = 2) -> list[User]:
            return []

        async def is_assigned(self, application_arn: str, user_id: str) -> bool:
            return False

    cache = CachedDirectory(Slow(), 100)
    assert run(cache.get_user("u1")) == User("u1", "old")
    assert cache.entries == 0

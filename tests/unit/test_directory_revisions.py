"""``ssoidc.admin.directory`` revisions on the memory store: UpdateUser/UpdateGroup write back only at the
revision they read, so a write landing in between is never overwritten (CONCURRENT_MODIFICATION, nothing
changed), with or without a client-given ``Revision``; a given one is compared as the string the store gave."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from ssoidc.admin import directory as d
from ssoidc.errors import Conflict
from ssoidc.model import Group, User
from ssoidc.storage.memory import MemoryStore

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_a_write_in_between_read_and_write_back_is_never_overwritten() -> None:
    store = MemoryStore(master_key=bytes(32))
    created = run(d.create_user(store, User("", "ada", "Ada", "Ada", "Lovelace")))
    read = run(d.get_user(store, created.user_id))
    assert read.revision == created.revision
    # another request changes the user after this one read it
    other = run(d.replace_user(store, dataclasses.replace(read, display_name="Other"), read=read))
    version = run(store.config_version())
    with pytest.raises(Conflict) as exc:
        run(d.replace_user(store, dataclasses.replace(read, family_name="Lost"), read=read))
    assert exc.value.reason == "CONCURRENT_MODIFICATION"
    now = run(d.get_user(store, created.user_id))
    assert (now.display_name, now.family_name, now.revision) == ("Other", "Lovelace", other.revision)
    assert run(store.config_version()) == version


def test_a_given_revision_is_compared_as_the_store_gave_it() -> None:
    store = MemoryStore(master_key=bytes(32))
    group = run(d.create_group(store, display_name="team", description=""))
    current = run(d.get_group(store, group.group_id))
    d.check_revision(current, None)
    d.check_revision(current, str(current.revision))
    for stale in (f"0{current.revision}", str(current.revision + 1)):
        with pytest.raises(Conflict) as exc:
            d.check_revision(current, stale)
        assert exc.value.reason == "CONCURRENT_MODIFICATION"
    with pytest.raises(Conflict):
        run(d.delete_group(store, group.group_id, revision=f"0{current.revision}"))
    assert run(store.get_group(group.group_id)) == Group(group.group_id, "team")
    run(d.delete_group(store, group.group_id, revision=str(current.revision)))
    assert run(store.get_group(group.group_id)) is None

"""A bounded per-worker cache of the directory reads requests make, invalidated per entity by the change feed.

What a token request reads of the directory (``ssoidc.model.DirectoryReader``): a user by id, the users whose
lookup attribute equals a value (the JWT-bearer mapping), and the assignment gate. ``CachedDirectory`` answers
them from three bounded LRU maps (``SSOIDC_DIRECTORY_CACHE_SIZE`` entries each, so a worker's memory does not grow
with the directory) and reads the store on a miss.

Coherence: ``SnapshotCache.refresh`` runs at the start of every request, reads the change feed since the version
the worker saw, and calls ``invalidate`` with what changed *before* the request reads anything, so a request never
sees a directory state older than the configuration version it started at: the same bound as the catalogue
(deployment.md). What a change drops:

* a user (created, updated, deleted): that user, every attribute lookup (a new or renamed user may now match a
  cached lookup: the lookup map is emptied), and that user's assignment answers;
* a membership ``<group>|<user>``: that user's assignment answers;
* an assignment ``<app>|USER|<user>``: that answer; ``<app>|GROUP|<group>``, a group, the catalogue (an application
  deleted takes its assignments) or the whole directory: every assignment answer;
* a gap in the feed (``None``): everything.

A store read that started before an invalidation never fills the cache after it (a generation counter), so a
value read from the store just before a change cannot outlive the change. Revocations are not cached here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Generic, TypeVar

from ssoidc.model import DirectoryReader, User
from ssoidc.storage.base import Change

K = TypeVar("K")
V = TypeVar("V")


class _Lru(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> tuple[bool, V | None]:
        if key not in self.items:
            return False, None
        self.items.move_to_end(key)
        return True, self.items[key]

    def put(self, key: K, value: V) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


class CachedDirectory:
    """A ``DirectoryReader`` in front of the store's: bounded, and invalidated by ``invalidate``."""

    def __init__(self, store: DirectoryReader, size: int) -> None:
        self._store = store
        self._users: _Lru[str, User | None] = _Lru(size)
        self._found: _Lru[tuple[str, str, int], list[User]] = _Lru(size)
        self._assigned: _Lru[tuple[str, str], bool] = _Lru(size)
        self._generation = 0
        self.hits = 0
        self.misses = 0

    @property
    def entries(self) -> int:
        return len(self._users.items) + len(self._found.items) + len(self._assigned.items)

    def invalidate(self, changes: Iterable[Change] | None) -> None:
        """Drop what ``changes`` may have made stale (everything for ``None``: the feed did not reach back)."""
        if changes is None:
            self.clear()
            return
        for c in changes:
            if c.kind == "user":
                self._bump()
                self._users.items.pop(c.key, None)
                self._found.items.clear()
                self._drop_assigned_of(c.key)
            elif c.kind == "membership":
                self._bump()
                self._drop_assigned_of(c.key.partition("|")[2])
            elif c.kind == "assignment":
                self._bump()
                app, principal_type, principal_id = c.key.split("|", 2)
                if principal_type == "USER":
                    self._assigned.items.pop((app, principal_id), None)
                else:
                    self._assigned.items.clear()
            elif c.kind in ("group", "catalogue"):
                self._bump()
                self._assigned.items.clear()
            elif c.kind == "directory":
                self.clear()

    def clear(self) -> None:
        self._bump()
        self._users.items.clear()
        self._found.items.clear()
        self._assigned.items.clear()

    def _bump(self) -> None:
        self._generation += 1

    def _drop_assigned_of(self, user_id: str) -> None:
        for key in [k for k in self._assigned.items if k[1] == user_id]:
            del self._assigned.items[key]

    async def get_user(self, user_id: str) -> User | None:
        hit, user = self._users.get(user_id)
        if hit:
            self.hits += 1
            return user
        self.misses += 1
        generation = self._generation
        user = await self._store.get_user(user_id)
        if generation == self._generation:
            self._users.put(user_id, user)
        return user

    async def find_users(self, attribute: str, value: str, *, limit: int = 2) -> list[User]:
        key = (attribute, value, limit)
        hit, found = self._found.get(key)
        if hit and found is not None:
            self.hits += 1
            return list(found)
        self.misses += 1
        generation = self._generation
        found = await self._store.find_users(attribute, value, limit=limit)
        if generation == self._generation:
            self._found.put(key, list(found))
        return found

    async def is_assigned(self, application_arn: str, user_id: str) -> bool:
        key = (application_arn, user_id)
        hit, assigned = self._assigned.get(key)
        if hit and assigned is not None:
            self.hits += 1
            return assigned
        self.misses += 1
        generation = self._generation
        assigned = await self._store.is_assigned(application_arn, user_id)
        if generation == self._generation:
            self._assigned.put(key, assigned)
        return assigned

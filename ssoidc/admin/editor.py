"""Every catalogue change as one serialized, idempotent transaction.

The catalogue is the instance, its trusted token issuers and its applications (grants, scopes, authentication
methods): a few dozen entities. ``ConfigEditor.run(change)`` hands the pure function ``change`` to
``ConfigStore.edit_catalogue``, which runs it on the stored catalogue inside the write transaction (under the lock
every configuration writer takes), checks the invariants (``ssoidc.admin.rules``) and writes the rows that
changed: concurrent admin calls across workers and nodes queue, never lose each other's changes, and never retry.
Directory writes (users, groups, memberships, assignments) do not come here: they are one store write per
entity (``ssoidc.admin.directory``), and never make a catalogue write retry.

Idempotency (sso-admin ``ClientToken``): the first call's answer is stored in the same transaction as its change,
keyed by operation, caller and token, with a fingerprint of the request. A retry with the same token and the
same request returns the stored answer and changes nothing; the same token with a different request is a
``Conflict``. Tokens are remembered for ``IDEMPOTENCY_TTL_SECONDS``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from ssoidc.admin.rules import check
from ssoidc.errors import Conflict
from ssoidc.model import ConfigSnapshot, Configuration, unconfigured
from ssoidc.storage.base import CatalogueWrite, ConfigStore, IdempotencyRecord, StorageError, VersionConflict

log = logging.getLogger("ssoidc.admin")

T = TypeVar("T")
R = TypeVar("R", bound=Mapping[str, Any])
"""An answer: an operation's output shape (a TypedDict of ``ssoidc.aws.shapes``), stored as JSON for replays."""
MAX_ATTEMPTS = 25


@dataclass(frozen=True, slots=True)
class Edit(Generic[T]):
    """What a change produces: the new configuration, the caller's answer, and subjects whose tokens die."""

    config: Configuration
    result: T
    revoke: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ClientToken:
    """An idempotency key: ``scope`` names the operation and caller, ``request`` is the request minus the token."""

    scope: str
    token: str
    request: Any

    @property
    def key(self) -> str:
        return f"{self.scope}:{self.token}"

    @property
    def fingerprint(self) -> bytes:
        return hashlib.sha256(orjson.dumps(self.request, option=orjson.OPT_SORT_KEYS)).digest()


def empty_answer(
    change: Callable[[Configuration], Edit[Any]],
) -> Callable[[Configuration], Edit[dict[str, Any]]]:
    """``change`` answering ``{}`` (an operation whose output has no members) instead of its own result."""

    def run(config: Configuration) -> Edit[dict[str, Any]]:
        edit = change(config)
        return Edit(edit.config, {}, edit.revoke)

    return run


class ConfigEditor:
    def __init__(
        self, store: ConfigStore, read: Callable[[], Awaitable[ConfigSnapshot]], *, account_id: str
    ) -> None:
        self._store = store
        self._read = read
        self._account_id = account_id

    async def current(self) -> ConfigSnapshot:
        return await self._read()

    async def _replay(self, client_token: ClientToken | None) -> Any:
        if client_token is None:
            return None
        rec = await self._store.get_idempotency(client_token.key)
        if rec is None:
            return None
        if rec.request_sha256 != client_token.fingerprint:
            raise Conflict(
                "The ClientToken was already used with a different request; use a new ClientToken",
                "CONCURRENT_MODIFICATION",
            )
        return orjson.loads(rec.response)  # the answer of the same operation, as it was stored

    async def run(
        self,
        change: Callable[[Configuration], Edit[R]],
        *,
        now: float,
        client_token: ClientToken | None = None,
    ) -> R:
        """Apply ``change`` to the stored catalogue atomically and return its result (or the remembered result of
        the same call)."""
        results: list[R] = []  # what the last run of ``change`` answered
        for _ in range(MAX_ATTEMPTS):
            replayed = await self._replay(client_token)
            if replayed is not None:
                answer: R = replayed
                return answer

            def write(stored: Configuration | None) -> CatalogueWrite:
                edit = change(stored if stored is not None else unconfigured(self._account_id))
                check(edit.config)
                record = None
                if client_token is not None:
                    record = IdempotencyRecord(
                        client_token.key, client_token.fingerprint, orjson.dumps(edit.result).decode(), now
                    )
                results.append(edit.result)
                return CatalogueWrite(edit.config, record, tuple(edit.revoke))

            try:
                await self._store.edit_catalogue(write, now=now)
            except VersionConflict:
                continue  # the same ClientToken was used concurrently and won: replay its answer
            try:
                await (
                    self._read()
                )  # serve the change at once on this node; other requests would read it anyway
            except StorageError:
                log.warning(
                    "the configuration change was stored; reloading it on this node failed (retried later)"
                )
            return results[-1]
        raise Conflict(
            "The configuration is being changed concurrently; retry the request", "CONCURRENT_MODIFICATION"
        )

"""Background maintenance of one node: readiness probes and the purge of expired rows.

* ``Readiness.ready`` (``GET /readyz``): can this node reach its store right now? One one-row read
  (``Store.ping``) bounded by ``READY_TIMEOUT_SECONDS``; the answer is reused for ``READY_CACHE_SECONDS`` and
  concurrent callers share one probe, so a flood of health checks costs the database at most one query per second
  per worker. A change of answer is logged once (without the store's address or credentials).
* ``Purger``: every minute, expired tokens, codes and sessions are deleted in small batches, yielding between
  batches so requests are never held up. The store's own background work (the SQLite checkpointer) is started by
  ``Store.start_background``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ssoidc.clock import Clock
from ssoidc.storage.base import StorageError, Store

log = logging.getLogger("ssoidc")

READY_TIMEOUT_SECONDS = 2.0
"""``/readyz``: a store that does not answer a one-row read within this long is not ready."""
READY_CACHE_SECONDS = 1.0
"""``/readyz``: an answer is reused this long (per worker process)."""
PURGE_INTERVAL_SECONDS = 60.0


class Readiness:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._ready = True
        self._until = 0.0
        self._lock = asyncio.Lock()

    async def ready(self) -> bool:
        now = time.monotonic()
        if now < self._until:
            return self._ready
        async with self._lock:
            now = time.monotonic()
            if now < self._until:
                return self._ready
            try:
                await asyncio.wait_for(self._store.ping(), READY_TIMEOUT_SECONDS)
                ready = True
            except (StorageError, TimeoutError):
                ready = False
            if ready != self._ready:
                if ready:
                    log.warning("readiness: the %s store answers again", self._store.kind)
                else:
                    log.warning(
                        "readiness: the %s store does not answer; /readyz reports 503", self._store.kind
                    )
            self._ready = ready
            self._until = time.monotonic() + READY_CACHE_SECONDS
            return ready


class Purger:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def purge_once(self, batch: int = 500) -> int:
        """Delete expired rows in small batches, yielding between them so requests are never held up."""
        total = 0
        for _ in range(1000):
            n = await self._store.purge_expired(self._clock.now(), batch)
            total += n
            if n < batch:
                break
            await asyncio.sleep(0.05)
        return total

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(PURGE_INTERVAL_SECONDS)
            try:
                await self.purge_once()
            except Exception:  # pragma: no cover - logged and retried next round
                log.exception("purging expired tokens failed")

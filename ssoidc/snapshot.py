"""The per-worker configuration snapshot and credential table, kept coherent with the store.

At request time the skeleton calls ``SnapshotCache.refresh`` once per request: one indexed read of the stored
configuration version; when it moved, one read of the change feed since the version this worker saw, and a
reload of the catalogue (instance, issuers, applications, as an immutable ``ConfigSnapshot``) or of the
credential table only if that is what changed, so every worker serves a committed change on its next request.
The directory (users, groups, memberships, assignments) is not held here: requests read it from the store by
index through a bounded cache (``ssoidc.directory_cache``) that the same feed read invalidates per entity, so a
worker's memory does not grow with the directory and a directory write costs the other workers one feed read.
Concurrent requests that find a new version share one catch-up. Tokens and revocations are never cached here.

``on_catalogue(old, new)`` is called (synchronously, under the catch-up lock) each time the catalogue is
reloaded: the node drops what it derived from the old one, such as the JWKS cache entry
of a trusted token issuer that was updated or deleted (``issuer_changes``), on every node that catches up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from ssoidc.aws.sigv4 import Credential
from ssoidc.directory_cache import CachedDirectory
from ssoidc.model import ConfigSnapshot, Configuration, unconfigured
from ssoidc.storage.base import Store, StoredCredential


def issuer_changes(old: Configuration, new: Configuration) -> set[str]:
    """Issuer URLs of the trusted token issuers that ``new`` changed or removed (their keys must be fetched anew)."""
    after = {t.arn: t for t in new.trusted_token_issuers}
    changed: set[str] = set()
    for t in old.trusted_token_issuers:
        now = after.get(t.arn)
        if now is None or now != t or now.revision != t.revision:
            changed.add(t.issuer_url)
    return changed


class SnapshotCache:
    def __init__(
        self,
        store: Store,
        *,
        account_id: str,
        directory_cache_size: int = 10_000,
        on_catalogue: Callable[[Configuration, Configuration], None] | None = None,
    ) -> None:
        self._on_catalogue = on_catalogue
        self._store = store
        self.directory = CachedDirectory(store, directory_cache_size)
        """The directory reads of this worker's requests, cached (bounded) and invalidated through the feed."""
        self._account_id = account_id
        self._snapshot: ConfigSnapshot | None = None
        self._seen = -1
        """The store's configuration version this worker has caught up with (the change feed read up to it)."""
        self._credentials: dict[str, StoredCredential] = {}
        self._verifier_creds: dict[str, Credential] = {}
        self._lock = asyncio.Lock()

    async def refresh(self) -> ConfigSnapshot:
        """The snapshot as of the stored configuration's current version.

        When the version moved, the change feed says what changed: the catalogue and the credential table are
        reloaded only if they did (or if the feed no longer reaches back to what this worker saw); directory
        changes need nothing here, since the directory is read from the store per request.
        """
        version = await self._store.config_version()
        snap = self._snapshot
        if snap is not None and self._seen == version:
            return snap
        async with self._lock:
            snap = self._snapshot
            if snap is not None and self._seen >= version:
                return snap  # another request caught up while this one waited for the lock
            catalogue = credentials = True
            if snap is not None:
                changes = await self._store.changes_since(self._seen)
                self.directory.invalidate(changes)
                if changes is not None:
                    kinds = {c.kind for c in changes}
                    catalogue = "catalogue" in kinds
                    credentials = "credential" in kinds
                    version = max([version, *(c.version for c in changes)])
            if catalogue or snap is None:
                config, catalogue_version = await self._store.load_catalogue()
            else:
                config, catalogue_version = snap.config, snap.catalogue_version
            if config is None:
                config = unconfigured(self._account_id)
            if credentials:
                creds = await self._store.load_credentials()
                self._credentials = {c.access_key_id: c for c in creds}
                self._verifier_creds = {
                    c.access_key_id: Credential(
                        c.access_key_id, c.secret_access_key, c.principal_arn, c.session_token_sha256
                    )
                    for c in creds
                }
            if snap is not None and self._on_catalogue is not None and config is not snap.config:
                self._on_catalogue(snap.config, config)
            if catalogue or credentials or snap is None:
                snap = ConfigSnapshot(config, version, self.directory, catalogue_version=catalogue_version)
                self._snapshot = snap
            self._seen = version
            return snap

    @property
    def current(self) -> ConfigSnapshot:
        """The snapshot the last ``refresh`` returned (``build_services`` refreshes once before serving)."""
        if self._snapshot is None:
            raise RuntimeError("SnapshotCache.current before the first refresh")
        return self._snapshot

    @property
    def version(self) -> int:
        """The version of the snapshot this worker serves (-1 before the first refresh): it moves when the
        catalogue or the credentials change (what policy caches key on)."""
        return self._snapshot.version if self._snapshot is not None else -1

    def credential(self, access_key_id: str) -> Credential | None:
        """The SigV4 credential with this access key id, as of the last refresh."""
        return self._verifier_creds.get(access_key_id)

    def identity_policy_of(self, access_key_id: str) -> Mapping[str, Any] | None:
        """The identity policy attached to a credential (None: unrestricted, or no such credential)."""
        c = self._credentials.get(access_key_id)
        return None if c is None else c.policy

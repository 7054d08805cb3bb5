"""The per-worker configuration snapshot and credential table, kept coherent with the store.

At request time the skeleton calls ``SnapshotCache.refresh`` once per request: one indexed read of the stored
configuration version, and a reload of the configuration (as an immutable ``ConfigSnapshot``) and of the
credential table only when the version changed, so every worker serves a committed change on its next request.
Concurrent requests that find a new version share one reload. Tokens and revocations are never cached here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from ssoidc.aws.sigv4 import Credential
from ssoidc.model import ConfigSnapshot, Configuration, Instance
from ssoidc.storage.base import Store, StoredCredential

UNCONFIGURED_INSTANCE_ARN = "arn:aws:sso:::instance/ssoins-0000000000000000"


class SnapshotCache:
    def __init__(self, store: Store, *, account_id: str) -> None:
        self._store = store
        self._account_id = account_id
        self._snapshot: ConfigSnapshot | None = None
        self._credentials: dict[str, StoredCredential] = {}
        self._verifier_creds: dict[str, Credential] = {}
        self._lock = asyncio.Lock()

    async def refresh(self) -> ConfigSnapshot:
        """The snapshot of the stored configuration's current version (reloaded only when it changed)."""
        version = await self._store.config_version()
        snap = self._snapshot
        if snap is not None and snap.version == version:
            return snap
        async with self._lock:
            snap = self._snapshot
            if snap is not None and snap.version >= version:
                return snap  # another request reloaded it while this one waited for the lock
            config, version = await self._store.load_configuration()
            if config is None:
                config = Configuration(
                    instance=Instance(
                        UNCONFIGURED_INSTANCE_ARN,
                        "d-0000000000",
                        self._account_id,
                        "unconfigured",
                        status="DELETED",  # no instance yet: sso-admin CreateInstance makes one
                    )
                )
            creds = await self._store.load_credentials()
            self._credentials = {c.access_key_id: c for c in creds}
            self._verifier_creds = {
                c.access_key_id: Credential(
                    c.access_key_id, c.secret_access_key, c.principal_arn, c.session_token_sha256
                )
                for c in creds
            }
            self._snapshot = ConfigSnapshot(config, version)
            return self._snapshot

    @property
    def current(self) -> ConfigSnapshot:
        """The snapshot the last ``refresh`` returned (``build_services`` refreshes once before serving)."""
        if self._snapshot is None:
            raise RuntimeError("SnapshotCache.current before the first refresh")
        return self._snapshot

    @property
    def version(self) -> int:
        """The version of the snapshot this worker serves (-1 before the first refresh)."""
        return self._snapshot.version if self._snapshot is not None else -1

    def credential(self, access_key_id: str) -> Credential | None:
        """The SigV4 credential with this access key id, as of the last refresh."""
        return self._verifier_creds.get(access_key_id)

    def identity_policy_of(self, access_key_id: str) -> Mapping[str, Any] | None:
        """The identity policy attached to a credential (None: unrestricted, or no such credential)."""
        c = self._credentials.get(access_key_id)
        return None if c is None else c.policy

"""Session (temporary) credentials: what the portal's GetRoleCredentials and STS's AssumeRole give.

``SessionCredentials.mint`` draws an ``ASIA…`` access key id, a secret access key and an opaque session token
and stores them (``SessionCredentialStore``: the secret sealed under the master key, the session token only as
its SHA-256) for a principal ARN, with the ARN its authority comes from (``source``: a permission set ARN for a
portal role, an IAM role ARN for AssumeRole), optionally the user it acts for (``OnBehalfOf``, identity-enhanced
sessions) and a session policy. ``find`` reads one back by access key id (one indexed read) through a bounded
per-worker LRU cache: session credentials are never all loaded into memory, and a miss is never cached (a
credential minted by another worker is found on its first use here). A cached entry needs no invalidation: a
session credential never changes; it only expires (checked at every use by the SigV4 verifier) and is purged
(``Purger``) an hour after that.

No AWS names here: ``ssoidc.aws`` maps ``MintedCredentials`` to the wire.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ssoidc.ids import (
    is_session_access_key_id,
    new_secret_access_key,
    new_session_access_key_id,
    new_session_token,
)
from ssoidc.storage.base import AlreadyExists, SessionCredentialRecord, SessionCredentialStore

MIN_DURATION_SECONDS = 900
"""The shortest session STS and the portal give (15 minutes)."""
MAX_DURATION_SECONDS = 12 * 3600
"""The longest (12 hours: a permission set's SessionDuration and a role's MaxSessionDuration cap there)."""


@dataclass(frozen=True, slots=True)
class OnBehalfOf:
    """The Identity Center user an identity-enhanced session acts for (CloudTrail's ``onBehalfOf``)."""

    user_id: str
    identity_store_arn: str


@dataclass(frozen=True, slots=True)
class MintedCredentials:
    """New session credentials, as their holder receives them (the only time the secret and the token exist in
    clear outside the request that uses them)."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: float
    """Epoch seconds."""
    principal_arn: str
    source: str

    def __repr__(self) -> str:  # never the secret or the token in a log line or a traceback
        return f"MintedCredentials({self.access_key_id}, {self.principal_arn}, expires {self.expiration:.0f})"


class SessionCredentials:
    """Mints and finds session credentials (see the module docstring)."""

    def __init__(
        self,
        store: SessionCredentialStore,
        *,
        now: Callable[[], float],
        cache_size: int = 10_000,
    ) -> None:
        self._store = store
        self._now = now
        self._cache_size = max(0, cache_size)
        self._cache: OrderedDict[str, SessionCredentialRecord] = OrderedDict()

    async def mint(
        self,
        *,
        principal_arn: str,
        source: str,
        duration_seconds: int,
        role_arn: str | None = None,
        on_behalf_of: OnBehalfOf | None = None,
        session_policy: Mapping[str, Any] | None = None,
    ) -> MintedCredentials:
        """Store and return new session credentials for ``principal_arn`` valid ``duration_seconds`` from now.

        ``duration_seconds`` must lie in [``MIN_DURATION_SECONDS``, ``MAX_DURATION_SECONDS``]: the caller (the
        portal, AssumeRole) validates what its request asked for and reports its own error; a value outside is a
        programming error (``ValueError``). ``session_policy`` must already be validated (``Policy.parse``).
        """
        if not MIN_DURATION_SECONDS <= duration_seconds <= MAX_DURATION_SECONDS:
            raise ValueError(f"session duration {duration_seconds} s is outside 900..43200")
        now = self._now()
        for _ in range(5):  # 80 random bits: a clash is next to impossible, but never overwrite
            akid = new_session_access_key_id()
            secret = new_secret_access_key()
            token = new_session_token()
            record = SessionCredentialRecord(
                access_key_id=akid,
                secret_access_key=secret,
                session_token_sha256=hashlib.sha256(token.encode()).digest(),
                principal_arn=principal_arn,
                source=source,
                issued_at=now,
                expires_at=now + duration_seconds,
                role_arn=role_arn,
                on_behalf_of_user_id=None if on_behalf_of is None else on_behalf_of.user_id,
                on_behalf_of_identity_store_arn=None
                if on_behalf_of is None
                else on_behalf_of.identity_store_arn,
                session_policy=session_policy,
            )
            try:
                await self._store.create_session_credential(record)
            except AlreadyExists:
                continue
            return MintedCredentials(akid, secret, token, record.expires_at, principal_arn, source)
        raise RuntimeError("could not draw an unused session access key id")  # pragma: no cover

    async def find(self, access_key_id: str) -> SessionCredentialRecord | None:
        """The session credential of ``access_key_id`` (expired or not; the verifier checks), or None."""
        hit = self._cache.get(access_key_id)
        if hit is not None:
            self._cache.move_to_end(access_key_id)
            return hit
        if not is_session_access_key_id(access_key_id):
            return None
        record = await self._store.get_session_credential(access_key_id)
        if record is not None and self._cache_size:
            self._cache[access_key_id] = record
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return record

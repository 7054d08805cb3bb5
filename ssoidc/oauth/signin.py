"""Password sign-in and browser sessions for the authorize endpoint (the user-facing half of RFC 6749 4.1.1).

* Passwords are hashed with argon2id (argon2-cffi; OWASP's minimum profile: m=19 MiB, t=2, p=1) and stored apart
  from the declarative configuration, so ``ssoidc apply`` never touches them. ``ssoidc users set-password`` sets them.
* Unknown users and wrong passwords fail identically, including the time taken (a dummy hash is verified).
* Throttling: ``lockout_threshold`` failures for one user name within ``lockout_window`` seconds lock that name for
  ``lockout_seconds``, during which even the right password is refused. Unknown names are counted too, so the
  lockout does not reveal which names exist.
* Sessions are random 256-bit ids in an HttpOnly cookie; the store keeps only their SHA-256 and the signed-in user,
  ``auth_time`` and expiry. Signing out deletes the row, so a copied cookie stops working.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ssoidc.model import ConfigSnapshot
from ssoidc.storage.base import SignInStore, WebSession

_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class SignInFailed(Exception):
    """Wrong user name or password (deliberately not saying which)."""


class NoSuchUser(Exception):
    """No user, or more than one, has this ``UserName`` (``set_password``); not a ``KeyError``, so a real
    ``KeyError`` bug is never reported as an unknown user."""


class SignInLocked(Exception):
    """Too many failures for this user name; ``until`` is when the lock ends."""

    def __init__(self, until: float) -> None:
        super().__init__("locked")
        self.until = until


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def sid_hash(sid: str) -> bytes:
    return hashlib.sha256(sid.encode("utf-8", "replace")).digest()


@dataclass(frozen=True, slots=True)
class SignInSettings:
    session_ttl: int = 8 * 3600
    lockout_threshold: int = 5
    lockout_window: int = 900
    lockout_seconds: int = 300


class SignInService:
    def __init__(self, store: SignInStore, settings: SignInSettings) -> None:
        self._store = store
        self._s = settings

    async def set_password(self, directory: ConfigSnapshot, user_name: str, password: str, now: float) -> str:
        users = await directory.users_by_attribute("userName", user_name)
        if len(users) != 1:
            raise NoSuchUser(user_name)
        await self._store.set_password_hash(users[0], hash_password(password), now)
        return users[0]

    async def authenticate(self, directory: ConfigSnapshot, user_name: str, password: str, now: float) -> str:
        """Return the user id, or raise ``SignInFailed`` / ``SignInLocked``."""
        # The lockout key is a hash: any typed name (NUL included) fits both stores, and no name is stored.
        key = "user:" + hashlib.sha256(user_name.strip().lower()[:256].encode("utf-8", "replace")).hexdigest()
        locked = await self._store.locked_until(key, now)
        if locked is not None:
            raise SignInLocked(locked)
        users = await directory.users_by_attribute("userName", user_name.strip())
        stored = await self._store.get_password_hash(users[0]) if len(users) == 1 else None
        ok = False
        try:
            ok = _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok:
            until = await self._store.record_failure(
                key,
                now,
                window=self._s.lockout_window,
                threshold=self._s.lockout_threshold,
                lock_seconds=self._s.lockout_seconds,
            )
            if until is not None:
                raise SignInLocked(until)
            raise SignInFailed()
        await self._store.clear_failures(key)
        return users[0]

    async def start_session(self, user_id: str, now: float) -> str:
        sid = secrets.token_urlsafe(32)
        await self._store.create_web_session(
            sid_hash(sid), WebSession(user_id, now, now + self._s.session_ttl)
        )
        return sid

    async def session(self, sid: str | None, now: float) -> WebSession | None:
        if not sid or len(sid) > 100:
            return None
        return await self._store.get_web_session(sid_hash(sid), now)

    async def end_session(self, sid: str | None) -> None:
        if sid and len(sid) <= 100:
            await self._store.delete_web_session(sid_hash(sid))

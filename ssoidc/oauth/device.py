"""Device authorizations (RFC 8628; AWS SSO OIDC ``StartDeviceAuthorization``).

* ``deviceCode``: 64 random bytes, base64url (86 characters, as AWS's), stored only as its SHA-256; single use
  (``PublicClientStore.redeem_device`` is one conditional write) and short-lived (``expiresIn`` 600 s).
* ``userCode``: 8 characters from the 20 consonants ``BCDFGHJKLMNPQRSTVWXZ`` (RFC 8628 section 6.1: no vowels, so
  no words; no ambiguous 0/O, 1/I), shown ``XXXX-XXXX``: 20^8 = 2.6e10 codes (34.6 bits), with brute-force limits
  on entry (``ssoidc.web.signin``). Stored only as HMAC-SHA256 under a key derived from the master key (a leaked
  database does not give the codes away); unique among stored codes (the store refuses a duplicate hash and
  another code is drawn). Entry is forgiving: case, spaces and the dash are ignored.
* ``verificationUri`` is ``<public url>/device``, ``verificationUriComplete`` adds ``?user_code=XXXX-XXXX``;
  ``interval`` is 1 s (AWS's value); a poll sooner than the interval is SlowDownException and adds 5 s
  (RFC 8628 section 3.5).
* A decision (approve or deny) is always an authenticated user's act: the sign-in pages, or the operator's
  ``ssoidc device approve`` (the store's owner), never an unauthenticated request.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from ssoidc.crypto import derive_key
from ssoidc.errors import InvalidRequest
from ssoidc.model import ConfigSnapshot
from ssoidc.oauth.clients import token_scopes
from ssoidc.oauth.start_url import is_start_url
from ssoidc.storage.base import AlreadyExists, ClientRecord, DeviceRecord, PublicClientStore

log = logging.getLogger("ssoidc.device")

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
DEVICE_CODE_TTL = 600
POLL_INTERVAL = 1
SLOW_DOWN_STEP = 5
MAX_INTERVAL = 60.0
POLL_LEEWAY = 0.25
"""A poll up to this much sooner than the interval is not a slow-down (network jitter of a client that sleeps
exactly ``interval`` seconds, as the AWS CLI does)."""


def device_code_hash(device_code: str) -> bytes:
    return hashlib.sha256(device_code.encode("utf-8", "replace")).digest()


def normalize_user_code(raw: str) -> str | None:
    """The 8 code characters of what a user typed (case, spaces and dashes ignored), or None if it cannot be a
    user code."""
    if not isinstance(raw, str) or len(raw) > 32:
        return None
    code = "".join(c for c in raw.upper() if c not in " -\t")
    if len(code) != USER_CODE_LENGTH or any(c not in USER_CODE_ALPHABET for c in code):
        return None
    return code


def format_user_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def log_ref(value: bytes) -> str:
    """What the logs name a code by: a prefix of its hash, never the code."""
    return value.hex()[:12]


@dataclass(frozen=True, slots=True)
class StartedDevice:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class DeviceAuthorizations:
    def __init__(self, store: PublicClientStore, master_key: bytes, *, base_url: str) -> None:
        self._store = store
        self._key = derive_key(master_key, "device-user-code")
        self._base_url = base_url.rstrip("/")

    def user_code_hash(self, code: str) -> bytes:
        """The keyed hash of a normalized user code."""
        return hmac.new(self._key, code.encode(), hashlib.sha256).digest()

    @property
    def verification_uri(self) -> str:
        return f"{self._base_url}/device"

    async def start(
        self, client: ClientRecord, start_url: str, directory: ConfigSnapshot, now: float
    ) -> StartedDevice:
        """StartDeviceAuthorization for an authenticated client (RFC 8628 section 3.1/3.2)."""
        inst = directory.instance
        if inst.status != "ACTIVE":  # as RegisterClient: a deleted instance starts no new logins
            raise InvalidRequest("The IAM Identity Center instance is not active")
        if not is_start_url(start_url, identity_store_id=inst.identity_store_id, base_url=self._base_url):
            raise InvalidRequest(
                "startUrl is not a start URL of this IAM Identity Center instance; use "
                f"https://{inst.identity_store_id}.awsapps.com/start"
            )
        for _ in range(5):
            device_code = secrets.token_urlsafe(64)
            user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
            record = DeviceRecord(
                device_hash=device_code_hash(device_code),
                user_code_hash=self.user_code_hash(user_code),
                client_id=client.client_id,
                scopes=token_scopes(client),
                start_url=start_url,
                family_id=secrets.token_urlsafe(16),
                issued_at=now,
                expires_at=now + DEVICE_CODE_TTL,
                interval=float(POLL_INTERVAL),
            )
            try:
                await self._store.create_device(record)
            except AlreadyExists:
                continue
            shown = format_user_code(user_code)
            log.info(
                "device authorization started: client %s, device %s",
                client.client_id,
                log_ref(record.device_hash),
            )
            return StartedDevice(
                device_code=device_code,
                user_code=shown,
                verification_uri=self.verification_uri,
                verification_uri_complete=f"{self.verification_uri}?user_code={shown}",
                expires_in=DEVICE_CODE_TTL,
                interval=POLL_INTERVAL,
            )
        raise RuntimeError("could not draw an unused user code")

    async def pending(self, user_code: str, now: float) -> DeviceRecord | None:
        """The pending, unexpired device authorization of what a user typed, if any."""
        code = normalize_user_code(user_code)
        if code is None:
            return None
        return await self._store.find_device_by_user_code(self.user_code_hash(code), now)

    async def decide(
        self,
        user_code: str,
        *,
        approve: bool,
        user_id: str,
        auth_time: float,
        now: float,
        via: str,
    ) -> DeviceRecord | None:
        """Approve or deny, as the authenticated ``user_id`` (``via``: who decided, for the audit log)."""
        code = normalize_user_code(user_code)
        if code is None:
            return None
        h = self.user_code_hash(code)
        decided = await self._store.decide_device(
            h, now, approve=approve, user_id=user_id, auth_time=auth_time
        )
        if decided is not None:
            log.info(
                "device authorization %s: device %s, client %s, user %s, via %s",
                "approved" if approve else "denied",
                log_ref(decided.device_hash),
                decided.client_id,
                user_id,
                via,
            )
        return decided

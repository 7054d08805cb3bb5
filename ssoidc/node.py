"""The composition root: builds one node's services from ``Settings`` and keeps its caches coherent.

Startup (``bootstrap``) runs migrations, loads or creates the master key, the bootstrap admin credential, the
idToken signing key and (in demo mode) the demo data; it is idempotent and safe to run from several processes.
At request time the node checks the stored configuration version once per request (one indexed read) and
rebuilds its ``ConfigSnapshot`` snapshot and credential table when it changed, so every worker serves a change at
once. Tokens and revocations are never cached.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import string
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ssoidc.admin.editor import ConfigEditor
from ssoidc.aws.json11 import Json11Api, Json11Service
from ssoidc.aws.oidc import SIGNING_NAME, SsoOidcApi
from ssoidc.aws.sigv4 import Credential, SigV4Verifier
from ssoidc.clock import Clock, SystemClock
from ssoidc.config.apply import apply_to_store, load_file
from ssoidc.config.schema import ConfigFile
from ssoidc.crypto import load_or_create_master_key
from ssoidc.model import ConfigSnapshot, Configuration, Instance
from ssoidc.oauth.authorize import CodeIssuer
from ssoidc.oauth.grants.base import GrantDeps, GrantRegistry, ServedGrant
from ssoidc.oauth.grants.registry import GRANTS
from ssoidc.oauth.issuer import TokenIssuer
from ssoidc.oauth.jwks import JwksCache, JwksSettings
from ssoidc.oauth.keys import Signer, load_signer
from ssoidc.oauth.request import Caller, TokenRequest, TokenResult
from ssoidc.oauth.service import TokenService
from ssoidc.oauth.signin import SignInService, SignInSettings
from ssoidc.oauth.tokens import TokenMinter
from ssoidc.settings import Settings
from ssoidc.storage.base import StorageError, Store, StoredCredential
from ssoidc.storage.sqlite import SqliteStore

log = logging.getLogger("ssoidc")

BOOTSTRAP_KEY_ENV = "SSOIDC_BOOTSTRAP_ACCESS_KEY_ID"
BOOTSTRAP_SECRET_ENV = "SSOIDC_BOOTSTRAP_SECRET_ACCESS_KEY"  # noqa: S105 - an environment variable name
BOOTSTRAP_FILE = "bootstrap-credentials"
ID_TOKEN_PURPOSE = "id-token"  # noqa: S105 - a key purpose label, not a secret
DEMO_ISSUER_PURPOSE = "demo-issuer"
READY_TIMEOUT_SECONDS = 2.0
"""``/readyz``: a store that does not answer a one-row read within this long is not ready."""
READY_CACHE_SECONDS = 1.0
"""``/readyz``: an answer is reused this long (per worker process)."""


def new_access_key_id() -> str:
    return "AKIA" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(16))


def new_secret_access_key() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits + "+/") for _ in range(40))


def open_store(settings: Settings) -> tuple[Store, bytes]:
    """The store ``settings`` name: PostgreSQL if ``database_url`` is set (connects on first use), else SQLite."""
    master = load_or_create_master_key(settings.data_dir)
    if settings.database_url:
        from ssoidc.storage.postgres import PostgresStore

        return PostgresStore(settings.database_url, master_key=master), master
    return SqliteStore(settings.db_path, master_key=master, synchronous=settings.sqlite_synchronous), master


class Node:
    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.store, self.master_key = open_store(settings)
        sealed = settings.refresh_token_format == "sealed"  # noqa: S105 - a format name, not a secret
        self.minter = TokenMinter(self.master_key, sealed_refresh=sealed)
        self.jwks = JwksCache(
            JwksSettings(
                allow_insecure=settings.allow_insecure_issuers,
                ttl_seconds=float(settings.jwks_ttl),
                min_refetch_interval_seconds=float(settings.jwks_min_refetch_interval),
            ),
            clock=self.clock,
        )
        self._directory: ConfigSnapshot | None = None
        self._credentials: dict[str, StoredCredential] = {}
        self._verifier_creds: dict[str, Credential] = {}
        self._lock = asyncio.Lock()
        self.signer: Signer | None = None
        self.jwks_document: dict[str, Any] = {"keys": []}
        self.demo_jwks: dict[str, Any] = {"keys": []}
        self.verifier = SigV4Verifier(
            self._lookup_credential,
            region=settings.region,
            service=SIGNING_NAME,
            max_skew_seconds=settings.sigv4_max_skew,
        )
        self.token_service: TokenService | None = None
        self.oidc: SsoOidcApi | None = None
        self.admin: Json11Api | None = None
        self._purger: asyncio.Task[None] | None = None
        self._ready = True
        self._ready_until = 0.0
        self._ready_lock = asyncio.Lock()

    # -- startup ----------------------------------------------------------------------------------------------
    async def bootstrap(self) -> None:
        """Idempotent first-start work; safe from several processes at once."""
        await self.ensure_bootstrap_credential()
        if self.settings.demo:
            await self.load_demo_issuer()
        if self.settings.config_file is not None:
            await self.apply(load_file(self.settings.config_file))
        elif self.settings.demo:
            from ssoidc.demo import (
                demo_config,  # demo data only when asked for, and never over a --config file
            )

            await self.apply(demo_config(self.settings))
            await self.ensure_demo_passwords()

    async def ensure_demo_passwords(self) -> None:
        """Demo users get their documented demo passwords (only where no password was set yet)."""
        from ssoidc.demo import DEMO_PASSWORDS
        from ssoidc.oauth.signin import hash_password

        config, _ = await self.store.load_configuration()
        ids = {u.user_name: u.user_id for u in (config.users if config else ())}
        for name, password in DEMO_PASSWORDS.items():
            uid = ids.get(name)
            if uid is not None and await self.store.get_password_hash(uid) is None:
                await self.store.set_password_hash(uid, hash_password(password), self.clock.now())

    async def load_demo_issuer(self) -> None:
        _signer, keys = await load_signer(self.store, DEMO_ISSUER_PURPOSE, "RS256")  # `demo token` signs
        self.demo_jwks = {"keys": keys}

    async def start(self, *, bootstrap: bool = True) -> None:
        """Get ready to serve. ``bootstrap=False`` in worker processes whose parent already bootstrapped."""
        if bootstrap:
            await self.bootstrap()
        elif self.settings.demo:
            await self.load_demo_issuer()
        self.signer, keys = await load_signer(self.store, ID_TOKEN_PURPOSE, self.settings.id_token_alg)
        self.jwks_document = {"keys": keys}
        issuer = TokenIssuer(
            minter=self.minter,
            signer=self.signer,
            store=self.store,
            base_url=self.settings.base_url,
            access_ttl=self.settings.access_token_ttl,
        )
        self.token_service = TokenService(build_grants(self, issuer))
        self.signin = SignInService(
            self.store,
            SignInSettings(
                session_ttl=self.settings.web_session_ttl,
                lockout_threshold=self.settings.lockout_threshold,
                lockout_window=self.settings.lockout_window,
                lockout_seconds=self.settings.lockout_seconds,
            ),
        )
        self.code_issuer = CodeIssuer(
            store=self.store,
            code_ttl=self.settings.code_ttl,
            session_ttl=self.settings.session_ttl,
            default_scopes=self.settings.default_scopes,
        )
        self.oidc = SsoOidcApi(
            verifier=self.verifier,
            create_token=self.create_token_with_iam,
            identity_policy_of=self.identity_policy_of,
            now=self.clock.now,
            refresh=self.refresh,
        )
        self.admin = build_admin_api(self)
        await self.refresh()

    def start_background(self) -> None:
        if isinstance(self.store, SqliteStore):
            self.store.start_checkpointer()
        self._purger = asyncio.get_running_loop().create_task(self._purge_loop())

    async def _purge_loop(self) -> None:
        while True:
            await asyncio.sleep(60)
            try:
                await self.purge_once()
            except Exception:  # pragma: no cover - logged and retried next round
                log.exception("purging expired tokens failed")

    async def purge_once(self, batch: int = 500) -> int:
        """Delete expired rows in small batches, yielding between them so requests are never held up."""
        total = 0
        for _ in range(1000):
            n = await self.store.purge_expired(self.clock.now(), batch)
            total += n
            if n < batch:
                break
            await asyncio.sleep(0.05)
        return total

    async def stop(self) -> None:
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
        await self.jwks.aclose()
        await self.store.close()

    async def ensure_bootstrap_credential(self) -> None:
        env_key = os.environ.get(BOOTSTRAP_KEY_ENV, "")
        env_secret = os.environ.get(BOOTSTRAP_SECRET_ENV, "")
        root = f"arn:aws:iam::{self.settings.account_id}:root"
        if env_key and env_secret:
            # a conditional insert: KeyError = registered already (an earlier start, or another node just now)
            with contextlib.suppress(KeyError):
                await self.store.create_credential(
                    StoredCredential(
                        env_key, env_secret, root, description="bootstrap admin (from environment)"
                    )
                )
            await self.store.put_meta_if_absent("bootstrap_access_key_id", env_key)
            return
        if await self.store.get_meta("bootstrap_access_key_id") is not None:
            return
        akid, secret = new_access_key_id(), new_secret_access_key()
        winner = await self.store.put_meta_if_absent("bootstrap_access_key_id", akid)
        if winner != akid:
            return  # another process made it first
        await self.store.create_credential(
            StoredCredential(akid, secret, root, description="bootstrap admin")
        )
        write_credentials_file(self.settings.data_dir / BOOTSTRAP_FILE, akid, secret)

    async def apply(self, spec: ConfigFile) -> Configuration:
        return await apply_to_store(self.store, spec, self.settings.account_id, self.clock.now())

    # -- request time -----------------------------------------------------------------------------------------
    async def ready(self) -> bool:
        """Readiness (``GET /readyz``): can this node reach its store right now?

        One one-row read (``Store.ping``) bounded by ``READY_TIMEOUT_SECONDS``; the answer is reused for ``READY_CACHE_SECONDS`` and
        concurrent callers share one probe, so a flood of health checks costs the database at most one query per
        second per worker. A change of answer is logged once (without the store's address or credentials).
        """
        now = time.monotonic()
        if now < self._ready_until:
            return self._ready
        async with self._ready_lock:
            now = time.monotonic()
            if now < self._ready_until:
                return self._ready
            try:
                await asyncio.wait_for(self.store.ping(), READY_TIMEOUT_SECONDS)
                ready = True
            except (StorageError, TimeoutError):
                ready = False
            if ready != self._ready:
                if ready:
                    log.warning("readiness: the %s store answers again", self.store.kind)
                else:
                    log.warning(
                        "readiness: the %s store does not answer; /readyz reports 503", self.store.kind
                    )
            self._ready = ready
            self._ready_until = time.monotonic() + READY_CACHE_SECONDS
            return ready

    async def refresh(self) -> ConfigSnapshot:
        version = await self.store.config_version()
        d = self._directory
        if d is not None and d.version == version:
            return d
        async with self._lock:
            d = self._directory
            if d is not None and d.version >= version:
                return d  # another request reloaded it while this one waited for the lock
            config, version = await self.store.load_configuration()
            if config is None:
                config = Configuration(
                    instance=Instance(
                        "arn:aws:sso:::instance/ssoins-0000000000000000",
                        "d-0000000000",
                        self.settings.account_id,
                        "unconfigured",
                        status="DELETED",  # no instance yet: sso-admin CreateInstance makes one
                    )
                )
            creds = await self.store.load_credentials()
            self._credentials = {c.access_key_id: c for c in creds}
            self._verifier_creds = {
                c.access_key_id: Credential(
                    c.access_key_id, c.secret_access_key, c.principal_arn, c.session_token_sha256
                )
                for c in creds
            }
            self._directory = ConfigSnapshot(config, version)
            return self._directory

    def _lookup_credential(self, access_key_id: str) -> Credential | None:
        return self._verifier_creds.get(access_key_id)

    def config_version(self) -> int:
        """The version of the snapshot this worker serves (``refresh`` runs first on every request)."""
        return self._directory.version if self._directory is not None else -1

    def identity_policy_of(self, access_key_id: str) -> Mapping[str, Any] | None:
        c = self._credentials.get(access_key_id)
        return None if c is None else c.policy

    async def create_token_with_iam(self, req: TokenRequest, caller: Caller) -> TokenResult:
        assert self.token_service is not None
        directory = self._directory
        assert directory is not None
        return await self.token_service.create_token_with_iam(req, caller, directory, self.clock.now())


def build_admin_api(node: Node) -> Json11Api:
    """The configuration plane: sso-admin and identitystore over JSON 1.1, both editing one configuration."""
    from ssoidc.aws import identitystore, sso_admin

    editor = ConfigEditor(node.store, node.refresh)
    s = node.settings
    admin = sso_admin.SsoAdminApi(editor, account_id=s.account_id, region=s.region)
    ids = identitystore.IdentityStoreApi(editor)

    def verifier_for(signing_name: str) -> SigV4Verifier:
        return SigV4Verifier(
            node._lookup_credential, region=s.region, service=signing_name, max_skew_seconds=s.sigv4_max_skew
        )

    return Json11Api(
        [
            Json11Service(
                sso_admin.SERVICE, sso_admin.TARGET_PREFIX, sso_admin.SIGNING_NAME, "sso", admin.handlers()
            ),
            Json11Service(
                identitystore.SERVICE,
                identitystore.TARGET_PREFIX,
                identitystore.SIGNING_NAME,
                "identitystore",
                ids.handlers(),
            ),
        ],
        verifier_for=verifier_for,
        identity_policy_of=node.identity_policy_of,
        config_version=node.config_version,
        account_id=s.account_id,
        now=node.clock.now,
        refresh=node.refresh,
    )


def build_grants(
    node: Node, issuer: TokenIssuer, registry: GrantRegistry = GRANTS
) -> tuple[ServedGrant[Any], ...]:
    """Every grant type of ``registry`` with its handler (fosite's ComposeAllEnabled), built from the node's
    services and settings."""
    s = node.settings
    return registry.serve(
        GrantDeps(
            issuer=issuer,
            minter=node.minter,
            store=node.store,
            keys=node.jwks,
            default_scopes=s.default_scopes,
            session_ttl=s.session_ttl,
            assertion_leeway=float(s.assertion_leeway),
            refresh_grace_seconds=s.refresh_grace_seconds,
        )
    )


def write_credentials_file(path: Path, akid: str, secret: str) -> None:
    """Write an AWS shared-credentials file (profile ``ssoidc``) readable only by the owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"[ssoidc]\naws_access_key_id = {akid}\naws_secret_access_key = {secret}\n")

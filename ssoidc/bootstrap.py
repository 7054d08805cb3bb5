"""First-start work of a deployment: idempotent, and safe to run from several processes (or nodes) at once.

``bootstrap`` registers the bootstrap admin credential (the account root: from ``SSOIDC_BOOTSTRAP_*`` if set,
else generated once and written, owner-readable only, to ``<data dir>/bootstrap-credentials``), creates the demo
token issuer's key in demo mode, and applies the configuration file (``--config``) or, in demo mode only, the demo
data with its documented demo passwords. Store migrations run when a store is opened.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from ssoidc.clock import Clock
from ssoidc.config.apply import apply_to_store, load_file
from ssoidc.ids import new_access_key_id, new_secret_access_key
from ssoidc.oauth.keys import ensure_key, public_jwks
from ssoidc.settings import Settings
from ssoidc.storage.base import AlreadyExists, Store, StoredCredential

BOOTSTRAP_KEY_ENV = "SSOIDC_BOOTSTRAP_ACCESS_KEY_ID"
BOOTSTRAP_SECRET_ENV = "SSOIDC_BOOTSTRAP_SECRET_ACCESS_KEY"  # noqa: S105 - an environment variable name
BOOTSTRAP_FILE = "bootstrap-credentials"
ID_TOKEN_PURPOSE = "id-token"  # noqa: S105 - a key purpose label, not a secret
DEMO_ISSUER_PURPOSE = "demo-issuer"
DEMO_ISSUER_ALG = "RS256"


async def bootstrap(store: Store, settings: Settings, clock: Clock) -> None:
    """Idempotent first-start work; safe from several processes at once."""
    await ensure_bootstrap_credential(store, settings)
    if settings.demo or settings.testing:
        await ensure_key(store, DEMO_ISSUER_PURPOSE, DEMO_ISSUER_ALG, clock)
    if settings.config_file is not None:
        await apply_to_store(
            store,
            load_file(settings.config_file),
            settings.account_id,
            clock.now(),
            base_url=settings.base_url,
        )
    elif settings.demo:
        from ssoidc.demo import demo_config  # demo data only when asked for, and never over a --config file

        await apply_to_store(
            store, demo_config(settings), settings.account_id, clock.now(), base_url=settings.base_url
        )
        await ensure_demo_passwords(store, clock)


async def demo_issuer_jwks(store: Store) -> dict[str, Any]:
    """The demo token issuer's JWKS (``ssoidc demo token`` signs with its key, which ``bootstrap`` makes)."""
    return {"keys": public_jwks(await store.signing_keys(DEMO_ISSUER_PURPOSE))}


async def ensure_demo_passwords(store: Store, clock: Clock) -> None:
    """Demo users get their documented demo passwords (only where no password was set yet)."""
    from ssoidc.demo import DEMO_PASSWORDS
    from ssoidc.oauth.signin import hash_password

    for name, password in DEMO_PASSWORDS.items():
        found = [u for u in await store.find_users("username", name) if u.user_name == name]
        uid = found[0].user_id if found else None
        if uid is not None and await store.get_password_hash(uid) is None:
            await store.set_password_hash(uid, hash_password(password), clock.now())


async def ensure_bootstrap_credential(store: Store, settings: Settings) -> None:
    env_key = os.environ.get(BOOTSTRAP_KEY_ENV, "")
    env_secret = os.environ.get(BOOTSTRAP_SECRET_ENV, "")
    root = f"arn:aws:iam::{settings.account_id}:root"
    if env_key and env_secret:
        # a conditional insert: registered already by an earlier start, or by another node just now
        with contextlib.suppress(AlreadyExists):
            await store.create_credential(
                StoredCredential(env_key, env_secret, root, description="bootstrap admin (from environment)")
            )
        await store.put_meta_if_absent("bootstrap_access_key_id", env_key)
        return
    if await store.get_meta("bootstrap_access_key_id") is not None:
        return
    akid, secret = new_access_key_id(), new_secret_access_key()
    winner = await store.put_meta_if_absent("bootstrap_access_key_id", akid)
    if winner != akid:
        return  # another process made it first
    await store.create_credential(StoredCredential(akid, secret, root, description="bootstrap admin"))
    write_credentials_file(settings.data_dir / BOOTSTRAP_FILE, akid, secret)


def write_credentials_file(path: Path, akid: str, secret: str) -> None:
    """Write an AWS shared-credentials file (profile ``ssoidc``) readable only by the owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"[ssoidc]\naws_access_key_id = {akid}\naws_secret_access_key = {secret}\n")

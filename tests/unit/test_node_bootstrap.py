"""First-start work: idempotent, and a --config file is never overwritten by demo data."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from ssoidc.bootstrap import DEMO_ISSUER_PURPOSE, bootstrap
from ssoidc.clock import SystemClock
from ssoidc.compose import build_services, open_store
from ssoidc.settings import Settings
from ssoidc.storage.base import SigningKey
from ssoidc.storage.memory import MemoryData, MemoryStore

ROOT = Path(__file__).resolve().parents[2]


async def boot(settings: Settings) -> tuple[dict[str, str], int]:
    store, _ = open_store(settings)
    try:
        await bootstrap(store, settings, SystemClock())
        config, version = await store.load_configuration()
        assert config is not None
        return {a.name: a.arn for a in config.applications}, version
    finally:
        await store.close()


def test_demo_with_config_file_serves_the_file_and_keeps_ids(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, demo=True, config_file=ROOT / "examples" / "ssoidc.yaml")
    first, v1 = asyncio.run(boot(settings))
    second, v2 = asyncio.run(boot(settings))
    assert set(first) == {"analytics-portal", "reports-api"}  # no demo-app over a --config file
    assert first == second
    assert v1 == v2  # re-applying an unchanged file writes nothing


def test_demo_alone_is_idempotent(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, demo=True)
    first, v1 = asyncio.run(boot(settings))
    second, v2 = asyncio.run(boot(settings))
    assert set(first) == {"demo-app", "demo-target", "demo-web"}
    assert (first, v1) == (second, v2)


def test_bootstrap_credential_file_is_written_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSOIDC_BOOTSTRAP_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("SSOIDC_BOOTSTRAP_SECRET_ACCESS_KEY", raising=False)
    settings = Settings(data_dir=tmp_path)
    asyncio.run(boot_plain(settings))
    text = (tmp_path / "bootstrap-credentials").read_text()
    asyncio.run(boot_plain(settings))
    assert (tmp_path / "bootstrap-credentials").read_text() == text
    assert "aws_access_key_id = AKIA" in text


async def boot_plain(settings: Settings) -> None:
    store, _ = open_store(settings)
    try:
        await bootstrap(store, settings, SystemClock())
    finally:
        await store.close()


def test_signing_key_ids_take_their_time_from_the_node_clock(tmp_path: Path) -> None:
    """The idToken key made at first start is named after the injected clock's time, not the system's."""
    from ssoidc.clock import FrozenClock

    async def go() -> tuple[str, list[str]]:
        services = await build_services(
            Settings(data_dir=tmp_path, demo=True), clock=FrozenClock(1_000_000_000.5)
        )
        try:
            return services.signer.kid, [k.kid for k in await services.store.signing_keys("demo-issuer")]
        finally:
            await services.close()

    kid, demo_kids = asyncio.run(go())
    assert kid.startswith("key-1000000000-")
    assert demo_kids and all(k.startswith("key-1000000000-") for k in demo_kids)


class CountingStore(MemoryStore):
    """A memory store that records which key purposes were ensured (made if missing)."""

    def __init__(self, data: MemoryData, *, master_key: bytes) -> None:
        super().__init__(data, master_key=master_key)
        self.ensured: list[str] = []

    async def ensure_signing_key(
        self, purpose: str, alg: str, make: Callable[[], tuple[str, bytes]]
    ) -> SigningKey:
        self.ensured.append(purpose)
        return await super().ensure_signing_key(purpose, alg, make)


def test_the_demo_issuer_key_is_made_by_bootstrap_and_read_once_by_the_node(tmp_path: Path) -> None:
    """``serve``'s parent runs only bootstrap: it makes the key. A node ensures it once (in its own bootstrap)
    and only reads it for the JWKS; a worker (no bootstrap) only reads the key the parent made."""
    settings = Settings(data_dir=tmp_path, demo=True)
    data, key = MemoryData(), bytes(32)

    async def go() -> None:
        parent = CountingStore(data, master_key=key)
        await bootstrap(parent, settings, SystemClock())
        assert parent.ensured == [DEMO_ISSUER_PURPOSE]
        [made] = await parent.signing_keys(DEMO_ISSUER_PURPOSE)
        node = CountingStore(data, master_key=key)
        services = await build_services(settings, store=(node, key))
        try:
            assert node.ensured.count(DEMO_ISSUER_PURPOSE) == 1  # bootstrap's; _build only reads it
            assert [k["kid"] for k in services.demo_jwks["keys"]] == [made.kid]
        finally:
            await services.close()
        worker = CountingStore(data, master_key=key)
        services = await build_services(settings, store=(worker, key), run_bootstrap=False)
        try:
            assert DEMO_ISSUER_PURPOSE not in worker.ensured
            assert [k["kid"] for k in services.demo_jwks["keys"]] == [made.kid]
        finally:
            await services.close()

    asyncio.run(go())

"""What only the PostgreSQL store has: URL options, schema selection, migrations under an advisory lock from many
nodes, a pool per event loop, driver errors as ``StorageError``, and the node wiring (``SSOIDC_DATABASE_URL``)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path

import asyncpg
import pytest

from ssoidc.base64url import b64u
from ssoidc.compose import build_services, open_store
from ssoidc.errors import ConfigError
from ssoidc.model import Configuration, Instance
from ssoidc.settings import Settings, export_env, settings_from_env
from ssoidc.storage.base import StorageError, StoredCredential
from ssoidc.storage.common import migrations
from ssoidc.storage.postgres import VERSION_RECHECK_SECONDS, PostgresStore, PostgresUrl
from tests.helpers.pg import with_query
from tests.helpers.storage import KEY


async def tables_in(base_url: str, schema: str) -> set[str]:
    conn = await asyncpg.connect(base_url)
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
        )
    finally:
        await conn.close()
    return {r[0] for r in rows}


def test_concurrent_first_starts_migrate_a_fresh_schema_once(
    pg_base_url: str, pg_schema: tuple[str, str]
) -> None:
    schema, url = pg_schema
    latest = max(v for v, _, _ in migrations("postgres"))

    async def go() -> None:
        stores = [PostgresStore(url, master_key=KEY) for _ in range(5)]
        try:
            applied = await asyncio.gather(*[s.migrate() for s in stores])
            assert sorted(v for a in applied for v in a) == [v for v, _, _ in migrations("postgres")]
            assert [await s.schema_version() for s in stores] == [latest] * 5
            assert await stores[0].migrate() == applied[0]  # nothing more to do
        finally:
            for s in stores:
                await s.close()
        assert {"meta", "tokens", "revoked_subjects", "idempotency", "schema_migrations"} <= await tables_in(
            pg_base_url, schema
        )

    asyncio.run(go())


def test_url_options_are_the_stores_and_the_rest_are_server_settings() -> None:
    u = PostgresUrl.parse(
        "postgresql://me:pw@db.example:6543/ssoidc?search_path=tenant_a,public&pool_min_size=0"
        "&pool_max_size=3&command_timeout=2.5&application_name=ssoidc"
    )
    assert (u.min_size, u.max_size, u.command_timeout) == (0, 3, 2.5)
    assert u.schema == "tenant_a"
    assert u.display == "db.example:6543/ssoidc"  # never the credentials
    assert "pool_" not in u.dsn and "command_timeout" not in u.dsn
    assert "search_path=tenant_a%2Cpublic" in u.dsn and "application_name=ssoidc" in u.dsn
    d = PostgresUrl.parse("postgres://localhost/db")
    assert (d.schema, d.min_size, d.max_size, d.command_timeout) == (None, 2, 10, 10.0)
    assert PostgresUrl.parse('postgresql://h/db?search_path="My Schema"').schema == "My Schema"
    for bad in (
        "mysql://h/db",
        "postgresql://h/db?pool_max_size=x",
        "postgresql://h/db?pool_min_size=5&pool_max_size=2",
        "postgresql://h/db?command_timeout=0",
    ):
        with pytest.raises(ConfigError):
            PostgresUrl.parse(bad)


def test_the_pool_follows_the_event_loop(pg_base_url: str, pg_schema: tuple[str, str]) -> None:
    """The CLI calls asyncio.run several times with one store; each loop gets its own pool and LISTEN connection,
    and both are closed when the loop ends (none is left to the garbage collector)."""
    schema, url = pg_schema
    url = with_query(url, application_name=schema)  # names this store's sessions on the server

    def open_sessions() -> int:
        """This store's sessions still connected, once the server has seen every closed one go."""

        async def count() -> int:
            conn = await asyncpg.connect(pg_base_url)
            try:
                for _ in range(50):
                    n = int(
                        await conn.fetchval(
                            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", schema
                        )
                    )
                    if n == 0:
                        break
                    await asyncio.sleep(0.05)
                return n
            finally:
                await conn.close()

        return asyncio.run(count())

    store = PostgresStore(url, master_key=KEY)
    assert asyncio.run(store.put_meta_if_absent("k", "v")) == "v"
    assert open_sessions() == 0  # the loop's shutdown closed the LISTEN connection too, not only the pool
    applied = store.migrated_versions
    assert applied == [v for v, _, _ in migrations("postgres")]  # a fresh schema
    assert asyncio.run(store.config_version()) == 0  # a new loop: a new pool and listener, no migration again
    assert open_sessions() == 0
    assert asyncio.run(store.get_meta("k")) == "v"
    assert store.migrated_versions is applied

    async def last() -> str | None:
        try:
            return await store.get_meta("k")
        finally:
            await store.close()

    assert asyncio.run(last()) == "v"
    assert open_sessions() == 0


def test_unreachable_server_is_a_storage_error(caplog: pytest.LogCaptureFixture) -> None:
    store = PostgresStore("postgresql://nobody:hunter2@127.0.0.1:1/db", master_key=KEY)
    with caplog.at_level(logging.ERROR), pytest.raises(StorageError, match=r"127\.0\.0\.1:1/db"):
        asyncio.run(store.config_version())
    assert "hunter2" not in caplog.text


def test_driver_errors_surface_as_storage_error_without_sql(
    pg_base_url: str, pg_schema: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    schema, url = pg_schema

    async def go() -> None:
        store = PostgresStore(url, master_key=KEY)
        try:
            await store.migrate()
            conn = await asyncpg.connect(pg_base_url)
            await conn.execute(f'DROP TABLE "{schema}".tokens')
            await conn.close()
            secret = secrets.token_bytes(32)
            with caplog.at_level(logging.ERROR), pytest.raises(StorageError) as info:
                await store.find_token(secret)
            assert str(info.value) == "storage operation failed"
            assert "SELECT" not in caplog.text and secret.hex() not in caplog.text
            assert "UndefinedTableError" in caplog.text and "42P01" in caplog.text
        finally:
            await store.close()

    asyncio.run(go())


def test_search_path_selects_the_schema(pg_base_url: str, pg_schema: tuple[str, str]) -> None:
    schema, url = pg_schema
    other_schema = schema + "_b"
    other_url = with_query(url, search_path=other_schema)

    async def go() -> None:
        a, b = PostgresStore(url, master_key=KEY), PostgresStore(other_url, master_key=bytes(32))
        try:
            await a.put_meta_if_absent("who", "a")
            await b.put_meta_if_absent("who", "b")  # another schema: another master key is fine there
            assert (await a.get_meta("who"), await b.get_meta("who")) == ("a", "b")
        finally:
            await a.close()
            await b.close()
            conn = await asyncpg.connect(pg_base_url)
            await conn.execute(f'DROP SCHEMA IF EXISTS "{other_schema}" CASCADE')
            await conn.close()

    asyncio.run(go())


def test_settings_select_the_store(
    tmp_path: Path, pg_schema: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = pg_schema
    monkeypatch.setenv("SSOIDC_DATABASE_URL", url)
    monkeypatch.setenv("SSOIDC_DATA_DIR", str(tmp_path))
    settings = settings_from_env()
    assert settings.database_url == url
    assert export_env(settings)["SSOIDC_DATABASE_URL"] == url  # uvicorn workers get it
    store, _ = open_store(settings)
    assert isinstance(store, PostgresStore)
    asyncio.run(store.close())
    with pytest.raises(ConfigError, match="SSOIDC_DATABASE_URL"):
        Settings(database_url="sqlite:///x").validate()


def test_nodes_bootstrap_on_one_database(tmp_path: Path, pg_schema: tuple[str, str]) -> None:
    """Two nodes (own data dirs, one master key) start together on one schema, demo mode, twice."""
    _, url = pg_schema

    async def boot(n: int) -> tuple[set[str], int, str | None]:
        node = await build_services(Settings(data_dir=tmp_path / f"node{n}", database_url=url, demo=True))
        try:
            config, version = await node.store.load_configuration()
            assert config is not None
            return {a.name for a in config.applications}, version, node.signer.kid
        finally:
            await node.close()

    async def together() -> list[tuple[set[str], int, str | None]]:
        return list(await asyncio.gather(boot(1), boot(2)))

    mp = pytest.MonkeyPatch()
    mp.setenv("SSOIDC_MASTER_KEY", b64u(secrets.token_bytes(32)))
    try:
        first = asyncio.run(together())
        again = asyncio.run(together())
    finally:
        mp.undo()
    assert first[0][0] == {"demo-app", "demo-target", "demo-web"}
    assert len({r[2] for r in first + again}) == 1  # one idToken signing key for every node
    assert len({r[1] for r in again}) == 1
    with pytest.raises(ConfigError, match="SSOIDC_MASTER_KEY"):  # node3's own master.key differs
        asyncio.run(boot(3))


def test_secrets_are_sealed_at_rest(pg_base_url: str, pg_schema: tuple[str, str]) -> None:
    schema, url = pg_schema
    secret = "very-secret-value-" + secrets.token_hex(8)

    async def go() -> bytes:
        store = PostgresStore(url, master_key=KEY)
        try:
            await store.create_credential(
                StoredCredential("AKIAEXAMPLE12345678", secret, "arn:aws:iam::123456789012:root")
            )
            await store.ensure_signing_key("p", "ES256", lambda: ("kid1", b"-----PRIVATE PEM-----"))
            assert (await store.load_credentials())[0].secret_access_key == secret
        finally:
            await store.close()
        conn = await asyncpg.connect(pg_base_url)
        try:
            rows = await conn.fetch(
                f'SELECT secret_enc AS b FROM "{schema}".credentials'
                f' UNION ALL SELECT private_enc FROM "{schema}".signing_keys'
            )
        finally:
            await conn.close()
        return b"".join(bytes(r[0]) for r in rows)

    raw = asyncio.run(go())
    assert secret.encode() not in raw and b"PRIVATE PEM" not in raw


def test_several_hosts_are_displayed_without_credentials() -> None:
    u = PostgresUrl.parse("postgresql://me:pw@h1:5432,h2:5433/db?target_session_attrs=read-write")
    assert u.display == "h1:5432,h2:5433/db"


def _config() -> Configuration:
    return Configuration(
        instance=Instance(
            "arn:aws:sso:::instance/ssoins-1111222233334444", "d-1234567890", "123456789012", "n"
        )
    )


def test_other_nodes_learn_a_new_configuration_version_by_notification(pg_schema: tuple[str, str]) -> None:
    """Node B answers config_version from memory and learns A's change from the NOTIFY, well before its 1 s
    re-read; with its LISTEN connection gone it reads the version per call and is still right."""
    _, url = pg_schema

    async def go() -> None:
        a, b = PostgresStore(url, master_key=KEY), PostgresStore(url, master_key=KEY)
        try:
            await a.replace_configuration(_config())
            v1 = await b.config_version()
            assert b._listener is not None
            v2 = await a.replace_configuration(_config())
            assert v2 == v1 + 1
            start = asyncio.get_running_loop().time()
            while await b.config_version() != v2:
                # before the 1 s re-read could have caught it: only the notification explains it
                assert asyncio.get_running_loop().time() - start < VERSION_RECHECK_SECONDS * 0.9, (
                    "no notification"
                )
                await asyncio.sleep(0.005)
            # the listener dies: b falls back to reading the version, so it stays right
            assert b._listener is not None
            b._listener.terminate()
            deadline = asyncio.get_running_loop().time() + 5
            while b._listener is not None:  # the termination callback runs on the loop
                assert asyncio.get_running_loop().time() < deadline, "the lost listener was never noticed"
                await asyncio.sleep(0.01)
            v3 = await a.replace_configuration(_config())
            assert await b.config_version() == v3
        finally:
            await a.close()
            await b.close()

    asyncio.run(go())


def test_one_purger_at_a_time_per_schema(pg_base_url: str, pg_schema: tuple[str, str]) -> None:
    """Every worker of every node runs a purge loop; the advisory lock lets one of them work at a time, and the
    others skip their round instead of deleting the same rows in parallel."""
    schema, url = pg_schema
    from ssoidc.storage.base import TokenRecord
    from ssoidc.storage.postgres import _lock_key

    expired = TokenRecord(
        token_hash=secrets.token_bytes(32),
        kind="access",
        family_id="f",
        parent_hash=None,
        application_arn="arn:app",
        user_id="u",
        scopes=("openid",),
        issued_at=100.0,
        expires_at=200.0,
        session_expires_at=200.0,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
    )

    async def go() -> None:
        store = PostgresStore(url, master_key=KEY)
        try:
            await store.issue([expired])
            holder = await asyncpg.connect(pg_base_url)  # another node, mid-purge
            try:
                assert await holder.fetchval(
                    "SELECT pg_try_advisory_lock($1)", _lock_key("ssoidc-purge", schema)
                )
                assert await store.purge_expired(1000.0) == 0
                assert await store.find_token(expired.token_hash) is not None
            finally:
                await holder.close()  # its session ends: the lock is released with it
            assert await store.purge_expired(1000.0) == 1
            assert await store.find_token(expired.token_hash) is None
            assert (
                await store.purge_expired(1000.0) == 0
            )  # and this purger released it: nothing left, no error
            again = await asyncpg.connect(pg_base_url)
            try:
                assert await again.fetchval(
                    "SELECT pg_try_advisory_lock($1)", _lock_key("ssoidc-purge", schema)
                )
            finally:
                await again.close()
        finally:
            await store.close()

    asyncio.run(go())

"""Migration 8 on a populated store: the directory documents move into the directory tables, nothing is lost.

A store is built at schema version 7 (the migrations before 8 only), filled the way version 7 stored a
configuration (every entity a ``config_resources`` document, users, groups and assignments included) with live
tokens, then opened by this code: the configuration reads back equal, every entity is found by its lookups, and
every token is still valid.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from ssoidc.model import Assignment, Configuration, Email, ExternalId, Group, User
from ssoidc.storage import codec
from ssoidc.storage.base import Store, external_key
from ssoidc.storage.common import config_rows, migrations
from ssoidc.storage.postgres import PostgresStore
from ssoidc.storage.sqlite import SqliteStore
from tests.helpers.pg import drop_schema
from tests.helpers.storage import KEY, fresh_schema_url
from tests.storage.test_contract import APP, configuration, token


def populated() -> Configuration:
    c = configuration(users=3)
    users = (
        *c.users,
        User(
            "ü1",
            "Ünïcode",  # the unique key is Python's lower(), which SQL's lower() would not match
            emails=(Email("x@example.com", "home", False),),
            external_ids=(ExternalId("scim", "e-1"),),
            profile={"NickName": "nick", "Extensions": {"aws:identitystore:enterprise": {"department": "d"}}},
        ),
    )
    groups = (*c.groups, Group("g2", "second", "two", ("u2", "ü1", "u0"), (ExternalId("scim", "g-2"),)))
    return Configuration(
        c.instance,
        c.trusted_token_issuers,
        c.applications,
        users,
        groups,
        (*c.assignments, Assignment(APP, "GROUP", "g2"), Assignment(APP, "USER", "ü1")),
    )


def legacy_rows(config: Configuration) -> list[tuple[str, str, str]]:
    """The ``config_resources`` rows version 7 wrote: the catalogue, then every directory entity as a document."""
    rows = [(k, i, d) for k, i, d in config_rows(config)]
    rows += [("user", u.user_id, orjson.dumps(codec.to_doc(u)).decode()) for u in config.users]
    rows += [("group", g.group_id, orjson.dumps(codec.to_doc(g)).decode()) for g in config.groups]
    rows += [
        (
            "assignment",
            f"{a.application_arn}|{a.principal_type}|{a.principal_id}",
            orjson.dumps(codec.to_doc(a)).decode(),
        )
        for a in config.assignments
    ]
    return rows


def before_8(dialect: str) -> Callable[[], list[tuple[int, str, str]]]:
    return lambda: [m for m in migrations(dialect) if m[0] < 8]  # type: ignore[arg-type]


def check_migrated(store: Store, config: Configuration, tokens: list[Any]) -> None:
    async def go() -> None:
        loaded, _ = await store.load_configuration()
        assert loaded == config
        catalogue, _ = await store.load_catalogue()
        assert (
            catalogue is not None and catalogue.users == () and catalogue.applications == config.applications
        )
        assert [u.user_id for u in await store.find_users("username", "ünïcode")] == ["ü1"]
        assert [u.user_id for u in await store.find_users("emails.value", "user1@example.com")] == ["u1"]
        found = await store.find_users("externalid", external_key(ExternalId("scim", "e-1")))
        assert [u.user_id for u in found] == ["ü1"]
        assert [
            g.group_id for g in await store.find_groups("externalid", external_key(ExternalId("scim", "g-2")))
        ] == ["g2"]
        assert await store.is_assigned(APP, "u2")  # through group g2
        assert {m.user_id for m in await store.list_memberships(group_id="g2")} == {"u2", "ü1", "u0"}
        for t in tokens:
            stored = await store.find_token(t.token_hash)
            assert stored is not None and stored.revoked_at is None
        # rows that predate migration 0014 start at revision 1; the counter goes on after them
        assert {u.revision for u in await store.list_users(limit=100)} == {1}
        assert {g.revision for g in await store.list_groups(limit=100)} == {1}
        # and the migrated directory takes per-entity writes at once
        revision = await store.create_user(User("u-new", "new"))
        assert revision > 1
        assert (await store.get_user("u-new")) == User("u-new", "new")
        assert (got := await store.get_user("u-new")) is not None and got.revision == revision

    asyncio.run(go())


def test_sqlite_migration_moves_the_directory_out_of_the_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v7.db"
    config = populated()
    tokens = [token(user="u1"), token("refresh", user="ü1")]
    with monkeypatch.context() as m:
        m.setattr("ssoidc.storage.sqlite._migrations", before_8("sqlite"))
        old = SqliteStore(path, master_key=KEY)
        assert old.schema_version() == 7
        with old._write() as db:
            db.executemany(
                "INSERT INTO config_resources (kind, id, doc) VALUES (?, ?, ?)", legacy_rows(config)
            )
            db.execute("INSERT INTO meta (key, value) VALUES ('config_version', '41')")
        asyncio.run(old.issue(tokens))
        asyncio.run(old.close())
    store = SqliteStore(path, master_key=KEY)
    try:
        assert store.schema_version() >= 8
        assert asyncio.run(store.config_version()) == 41  # the version goes on; the catalogue's starts there
        assert asyncio.run(store.load_catalogue())[1] == 41
        check_migrated(store, config, tokens)
    finally:
        asyncio.run(store.close())


@pytest.fixture()
def pg_url(pg_base_url: str) -> Iterator[str]:
    schema, url = fresh_schema_url(pg_base_url)
    yield url
    drop_schema(pg_base_url, schema)


def test_postgres_migration_moves_the_directory_out_of_the_document(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = populated()
    tokens = [token(user="u1"), token("refresh", user="ü1")]
    rows = legacy_rows(config)

    async def build_v7() -> None:
        old = PostgresStore(pg_url, master_key=KEY)
        assert await old.migrate() == list(range(1, 8))
        pool = await old._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO config_resources (kind, id, seq, doc) VALUES ($1, $2, $3, $4)",
                [(k, i, n, d) for n, (k, i, d) in enumerate(rows)],
            )
            await conn.execute("INSERT INTO meta (key, value) VALUES ('config_version', '41')")
        await old.issue(tokens)
        await old.close()

    with monkeypatch.context() as m:
        m.setattr("ssoidc.storage.postgres.migrations", lambda dialect: before_8("postgres")())
        asyncio.run(build_v7())
    store = PostgresStore(pg_url, master_key=KEY)
    try:
        assert asyncio.run(store.migrate()) == [v for v, _, _ in migrations("postgres") if v >= 8]
        check_migrated(store, config, tokens)
    finally:
        asyncio.run(store.close())

"""The PostgreSQL store behind a transaction pooler (PgBouncer ``pool_mode = transaction``, ``pooler=transaction``).

Consecutive statements of one client reach different server connections there, so the store must not rely on
session state: no statement prepared by name, no LISTEN, no session-level advisory lock. These tests run the
single-use guarantees, the purge and two real ``ssoidc serve`` nodes through a real PgBouncer.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from botocore.exceptions import ClientError

from ssoidc.errors import ConfigError
from ssoidc.storage.base import Redemption, TokenRecord
from ssoidc.storage.postgres import PostgresStore, PostgresUrl
from tests.helpers.clients import make_admin_client, make_client
from tests.helpers.cluster import Cluster
from tests.helpers.config import JWT_BEARER
from tests.helpers.pg import drop_schema, new_schema
from tests.helpers.pgbouncer import transaction_pooler
from tests.helpers.storage import KEY

APP = "arn:aws:sso::123456789012:application/ssoins-1111111111111111/apl-1111111111111111"


@pytest.fixture()
def pooled_schema(pg_base_url: str) -> Iterator[tuple[str, str]]:
    """``(schema, URL)``: a fresh schema and its URL through PgBouncer in transaction mode."""
    schema = new_schema("ssoidc_pgb")

    async def create() -> None:
        conn = await asyncpg.connect(pg_base_url)
        try:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        finally:
            await conn.close()

    asyncio.run(create())
    try:
        with transaction_pooler(pg_base_url, schema) as url:
            yield schema, url
    finally:
        drop_schema(pg_base_url, schema)


@pytest.fixture()
def pooled(pooled_schema: tuple[str, str]) -> str:
    # 150 clients queue behind PgBouncer's 20 server connections: on a loaded machine one statement's wait there
    # passed the default 10 s command_timeout. The test is about single use through the pooler, not latency.
    return pooled_schema[1] + "&command_timeout=60"


def refresh_token(**kw: object) -> TokenRecord:
    fields: dict[str, object] = {
        "token_hash": secrets.token_bytes(32),
        "kind": "refresh",
        "family_id": secrets.token_hex(8),
        "parent_hash": None,
        "application_arn": APP,
        "user_id": "u1",
        "scopes": ("openid",),
        "issued_at": 1000.0,
        "expires_at": 9000.0,
        "session_expires_at": 9000.0,
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
    }
    fields.update(kw)
    return TokenRecord(**fields)  # type: ignore[arg-type]


def test_url_option_pooler() -> None:
    assert PostgresUrl.parse("postgresql://h/db?pooler=transaction").transaction_pooler
    assert not PostgresUrl.parse("postgresql://h/db?pooler=session").transaction_pooler
    assert not PostgresUrl.parse("postgresql://h/db").transaction_pooler
    with pytest.raises(ConfigError, match="pooler must be"):
        PostgresUrl.parse("postgresql://h/db?pooler=statement")
    with pytest.raises(ConfigError, match="search_path"):
        PostgresUrl.parse("postgresql://h/db?pooler=transaction&search_path=s")


def test_single_use_and_purge_hold_behind_a_transaction_pooler(pooled: str) -> None:
    async def go() -> None:
        stores = [PostgresStore(pooled, master_key=KEY) for _ in range(3)]
        try:
            # Many clients at once: prepared-by-name statements would fail here ("prepared statement ... does not
            # exist") as soon as two statements of one client land on different server connections.
            async def chain(i: int) -> Redemption:
                s = stores[i % 3]
                old = refresh_token()
                await s.issue([old])
                assert (await s.find_token(old.token_hash)) is not None
                await s.config_version()
                return await s.rotate_refresh(old.token_hash, APP, 2000.0, 5.0, [refresh_token()])

            assert set(await asyncio.gather(*(chain(i) for i in range(150)))) == {Redemption.OK}

            # One refresh token, 30 redemptions at once through three stores: exactly one wins.
            contested = refresh_token()
            await stores[0].issue([contested])
            outcomes = await asyncio.gather(
                *(
                    stores[i % 3].rotate_refresh(contested.token_hash, APP, 2000.0, 5.0, [refresh_token()])
                    for i in range(30)
                )
            )
            assert outcomes.count(Redemption.OK) == 1
            assert outcomes.count(Redemption.RETRY_IN_GRACE) == 29

            expired = refresh_token(expires_at=1500.0)
            await stores[1].issue([expired])
            assert await stores[2].purge_expired(1600.0) >= 1
            assert await stores[0].find_token(expired.token_hash) is None
            await stores[0].ping()
        finally:
            for s in stores:
                await s.close()

    asyncio.run(go())


def test_two_nodes_serve_through_a_transaction_pooler(
    pg_base_url: str, pooled_schema: tuple[str, str], tmp_path: Path
) -> None:
    schema, url = pooled_schema
    cluster = Cluster(tmp_path, pg_base_url, schema, url, n=2)
    try:
        cluster.start()
        a, b = cluster.nodes
        token = make_client(a).create_token_with_iam(
            clientId=a.apps["main"], grantType=JWT_BEARER, assertion=a.assertion()
        )
        refreshed = make_client(b).create_token_with_iam(
            clientId=a.apps["main"], grantType="refresh_token", refreshToken=token["refreshToken"]
        )
        assert refreshed["refreshToken"] != token["refreshToken"]
        with pytest.raises(ClientError) as err:  # spent through node b: refused by node a
            make_client(a).create_token_with_iam(
                clientId=a.apps["main"], grantType="refresh_token", refreshToken=token["refreshToken"]
            )
        assert err.value.response["Error"]["Code"] == "InvalidGrantException"

        # A configuration change through node a reaches node b without LISTEN: within the 1 s re-read.
        store_id = make_admin_client(a, "sso-admin").list_instances()["Instances"][0]["IdentityStoreId"]
        created = make_admin_client(a, "identitystore").create_user(
            IdentityStoreId=store_id,
            UserName="pooled-user",
            DisplayName="Pooled User",
            Name={"GivenName": "Pooled", "FamilyName": "User"},
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                got = make_admin_client(b, "identitystore").describe_user(
                    IdentityStoreId=store_id, UserId=created["UserId"]
                )
                break
            except ClientError:
                assert time.monotonic() < deadline, "node b never served the user created through node a"
                time.sleep(0.1)
        assert got["UserName"] == "pooled-user"
    finally:
        cluster.close()


def test_a_version_conflict_makes_the_store_read_the_version_again(pooled: str) -> None:
    """Without LISTEN a store answers ``config_version`` from memory for up to a second. When its compare-and-swap
    loses to another process, that memory is stale: the next read must go to the database, or every retry of the
    admin editor would rebuild the same stale snapshot and end in a spurious ConflictException."""
    from ssoidc.storage.base import VersionConflict
    from tests.storage.test_contract import configuration

    async def go() -> None:
        a, b = PostgresStore(pooled, master_key=KEY), PostgresStore(pooled, master_key=KEY)
        try:
            first = await a.replace_configuration(configuration(), expected_version=0)
            assert await b.config_version() == first  # b now remembers it
            second = await a.replace_configuration(configuration("two"), expected_version=first)
            with pytest.raises(VersionConflict):
                await b.replace_configuration(configuration("three"), expected_version=first)
            assert await b.config_version() == second
            assert (
                await b.replace_configuration(configuration("three"), expected_version=second) == second + 1
            )
        finally:
            await a.close()
            await b.close()

    asyncio.run(go())

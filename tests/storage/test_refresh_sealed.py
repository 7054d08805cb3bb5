"""Sealed refresh tokens through the real refresh grant, on SQLite, PostgreSQL and the in-memory store (in-process
node, frozen clock).

A sealed refresh token carries the fields the next token set needs, so the grant skips ``find_token``; these tests
pin down that the store's conditional rotation is still the only authority on whether a token may be spent: a
sealed token without its row, of a revoked family, or of a user revoked in the store but still in this node's
(lagging) directory is refused, and a refused request writes nothing. Tokens minted before the sealed format (MAC
format) still redeem, through the store.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from ssoidc.clock import FrozenClock
from ssoidc.compose import build_services
from ssoidc.config.apply import apply_to_store, parse_file
from ssoidc.errors import InvalidGrant
from ssoidc.model import GRANT_REFRESH_TOKEN
from ssoidc.oauth.request import Caller, TokenRequest
from ssoidc.oauth.tokens import MAC_TOKEN_BODY_CHARS, RefreshClaims
from ssoidc.settings import Settings
from ssoidc.storage.base import TokenRecord
from ssoidc.storage.memory import MemoryStore
from ssoidc.storage.sqlite import SqliteStore
from tests.helpers.inprocess import ALLOW_ACCOUNT, issue_code, memory_services
from tests.helpers.pg import drop_schema, new_schema, pg_run, with_query

REDIRECT = "https://a.example.com/cb"
GRACE = 2.0
CONFIG = {
    "Instance": {"Name": "sealed"},
    "Applications": [
        {
            "Name": name,
            "Grants": {
                "authorization_code": {"AuthorizationCode": {"RedirectUris": [REDIRECT]}},
                "refresh_token": {"RefreshToken": {}},
            },
            "AuthenticationMethods": ALLOW_ACCOUNT,
            "AssignmentRequired": False,
        }
        for name in ("a", "b")
    ],
    "Users": [{"UserName": "u", "Emails": [{"Value": "u@example.com"}]}],
}
CALLER = Caller(principal_arn="arn:aws:iam::123456789012:root", access_key_id="AKIAX")

T = TypeVar("T")


class Harness:
    """One node on one store, a frozen clock, and the calls the tests make."""

    def __init__(self, settings: Settings, kind: str) -> None:
        self.kind = kind
        self.loop = asyncio.new_event_loop()
        self.clock = FrozenClock(1_800_000_000.0)
        if kind == "memory":
            self.node = self.run(memory_services(settings, self.clock))
        else:
            self.node = self.run(build_services(settings, clock=self.clock))
        config = self.run(
            apply_to_store(
                self.node.store, parse_file(yaml.safe_dump(CONFIG)), settings.account_id, self.clock.now()
            )
        )
        self.config = config
        self.apps = {a.name: a.arn for a in config.applications}
        self.user = config.users[0].user_id
        self.find_calls = 0
        store = self.node.store
        real_find = store.find_token

        async def counting_find(token_hash: bytes) -> TokenRecord | None:
            self.find_calls += 1
            return await real_find(token_hash)

        store.find_token = counting_find  # type: ignore[method-assign]
        self.signs = 0
        signer = self.node.signer
        assert signer is not None
        real_sign = signer.sign

        def counting_sign(claims: Any) -> str:
            self.signs += 1
            return real_sign(claims)

        signer.sign = counting_sign  # type: ignore[method-assign]

    def run(self, coro: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coro)

    def call(self, **kw: Any) -> Any:
        self.run(self.node.snapshot.refresh())
        return self.run(self.node.create_token(TokenRequest(**kw), CALLER))

    def session(self, app: str = "a") -> Any:
        code = self.run(issue_code(self.node, self.apps[app], self.user, REDIRECT, self.clock.now()))
        return self.call(
            client_id=self.apps[app], grant_type="authorization_code", code=code, redirect_uri=REDIRECT
        )

    def refresh(self, token: str, app: str = "a") -> Any:
        return self.call(client_id=self.apps[app], grant_type="refresh_token", refresh_token=token)

    def claims(self, token: str, app: str = "a") -> RefreshClaims:
        opened = self.node.minter.open_refresh(token, self.apps[app])
        assert opened is not None and opened[1] is not None
        return opened[1]

    def token_rows(self) -> int:
        if isinstance(self.node.store, MemoryStore):
            return len(self.node.store.data.tokens)
        if self.kind == "sqlite":
            store = self.node.store
            assert isinstance(store, SqliteStore)
            db = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
            try:
                return int(db.execute("SELECT COUNT(*) FROM tokens").fetchone()[0])
            finally:
                db.close()

        async def count(conn: Any) -> int:
            return int(await conn.fetchval("SELECT COUNT(*) FROM tokens"))

        return pg_run(self.node.settings.database_url, count)

    def close(self) -> None:
        self.run(self.node.close())
        self.loop.close()


def harness(request: pytest.FixtureRequest, tmp_path: Path, **settings: Any) -> Iterator[Harness]:
    url, schema = "", ""
    if request.param == "postgres":
        base = request.getfixturevalue("pg_base_url")
        schema = new_schema("ssoidc_sealed")
        url = with_query(base, search_path=schema)
    h = Harness(
        Settings(data_dir=tmp_path, database_url=url, refresh_grace_seconds=GRACE, **settings), request.param
    )
    try:
        yield h
    finally:
        h.close()
        if schema:
            drop_schema(request.getfixturevalue("pg_base_url"), schema)


@pytest.fixture(params=["sqlite", "postgres", "memory"])
def h(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from harness(request, tmp_path)


@pytest.fixture(params=["sqlite", "postgres", "memory"])
def h_mac(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """A node set to ``SSOIDC_REFRESH_TOKEN_FORMAT=mac`` (a rolling upgrade from a version before sealed tokens)."""
    yield from harness(request, tmp_path, refresh_token_format="mac")


def test_sealed_refresh_reads_no_token_row(h: Harness) -> None:
    first = h.session()
    assert first.refresh_token.startswith("aorAAAAAG")  # issue time 2027 as a big-endian u64, as AWS's tokens
    before = h.claims(first.refresh_token)
    second = h.refresh(first.refresh_token)
    third = h.refresh(second.refresh_token)
    assert h.find_calls == 0
    after = h.claims(third.refresh_token)
    assert (after.user_id, after.family_id, after.scopes) == (h.user, before.family_id, before.scopes)
    assert after.session_expires_at == before.session_expires_at
    assert third.access_token != second.access_token


def test_refresh_is_still_single_use_and_reuse_revokes_the_family(h: Harness) -> None:
    first = h.session()
    second = h.refresh(first.refresh_token)
    with pytest.raises(InvalidGrant, match="moments ago"):
        h.refresh(first.refresh_token)  # inside the grace window: refused, nothing else happens
    h.clock.advance(GRACE + 1)
    with pytest.raises(InvalidGrant, match="already used"):
        h.refresh(first.refresh_token)
    with pytest.raises(InvalidGrant):
        h.refresh(second.refresh_token)  # the whole family died with the reuse


def test_a_sealed_token_without_its_row_is_refused_and_writes_nothing(h: Harness) -> None:
    first = h.session()
    real = h.claims(first.refresh_token)
    forged, _ = h.node.minter.mint_refresh(h.apps["a"], real)  # genuine seal, never stored
    rows = h.token_rows()
    with pytest.raises(InvalidGrant):
        h.refresh(forged)
    assert h.token_rows() == rows
    assert h.refresh(first.refresh_token).refresh_token  # the stored one still works


def test_a_revoked_family_is_refused_by_the_store(h: Harness) -> None:
    first = h.session()
    claims = h.claims(first.refresh_token)
    h.run(h.node.store.revoke_family(claims.family_id, h.clock.now(), claims.session_expires_at))
    rows, signs = h.token_rows(), h.signs
    with pytest.raises(InvalidGrant):
        h.refresh(first.refresh_token)
    assert h.token_rows() == rows
    assert h.signs == signs  # refused by the store before any idToken was signed


def test_a_user_revoked_in_the_store_is_refused_before_this_node_sees_the_change(h: Harness) -> None:
    """Another node deleted the user; this node's directory still lists them (the ≤ 1 s propagation window)."""
    first = h.session()
    h.clock.advance(1)
    h.run(h.node.store.replace_configuration(h.config, revoke_subjects=[f"user:{h.user}"], now=h.clock.now()))
    assert h.run(h.run(h.node.snapshot.refresh()).has_user(h.user))
    rows = h.token_rows()
    with pytest.raises(InvalidGrant):
        h.refresh(first.refresh_token)
    assert h.token_rows() == rows


def test_a_token_only_opens_for_its_own_application(h: Harness) -> None:
    first = h.session("a")
    with pytest.raises(InvalidGrant):
        h.refresh(first.refresh_token, app="b")
    assert h.refresh(first.refresh_token, app="a").refresh_token


def test_mac_format_refresh_tokens_from_before_still_redeem(h: Harness) -> None:
    """A token minted before sealed tokens existed is read from the store, then rotated into a sealed one."""
    first = h.session()
    claims = h.claims(first.refresh_token)
    legacy, legacy_hash = h.node.minter.mint("refresh")
    assert len(legacy.rpartition(":")[0]) == MAC_TOKEN_BODY_CHARS
    now = h.clock.now()
    record = TokenRecord(
        token_hash=legacy_hash,
        kind="refresh",
        family_id="legacy-family",
        parent_hash=None,
        application_arn=h.apps["a"],
        user_id=h.user,
        scopes=claims.scopes,
        issued_at=now,
        expires_at=claims.session_expires_at,
        session_expires_at=claims.session_expires_at,
        grant_type=GRANT_REFRESH_TOKEN,
        context={"auth_time": now - 10, "act": None},
    )
    h.run(h.node.store.issue([record]))
    out = h.refresh(legacy)
    assert h.find_calls == 1
    sealed = h.claims(out.refresh_token)
    assert (sealed.family_id, sealed.user_id, sealed.auth_time) == ("legacy-family", h.user, now - 10)
    h.clock.advance(GRACE + 1)
    with pytest.raises(InvalidGrant, match="already used"):
        h.refresh(legacy)
    with pytest.raises(InvalidGrant):
        h.refresh(out.refresh_token)  # same family: revoked by the reuse


def test_mac_format_setting_mints_what_older_nodes_redeem(h_mac: Harness) -> None:
    first = h_mac.session()
    second = h_mac.refresh(first.refresh_token)
    for token in (first.refresh_token, second.refresh_token):
        assert len(token.rpartition(":")[0]) == MAC_TOKEN_BODY_CHARS
        # ``check`` is the whole refresh-token check of versions before sealed tokens.
        assert h_mac.node.minter.check(token, "refresh") is not None
    assert h_mac.find_calls == 1
    h_mac.clock.advance(GRACE + 1)
    with pytest.raises(InvalidGrant, match="already used"):
        h_mac.refresh(first.refresh_token)


def test_a_new_configuration_is_loaded_once_however_many_requests_wait(h: Harness) -> None:
    """After a version change every in-flight request sees the new version; only the first may reload."""
    store = h.node.store
    real_load = store.load_catalogue
    loads = 0

    async def counting_load() -> Any:
        nonlocal loads
        loads += 1
        return await real_load()

    store.load_catalogue = counting_load  # type: ignore[method-assign]
    h.run(store.replace_configuration(h.config, now=h.clock.now()))

    async def many() -> None:
        await asyncio.gather(*(h.node.snapshot.refresh() for _ in range(20)))

    h.run(many())
    assert loads == 1

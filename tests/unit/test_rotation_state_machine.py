"""A property-based model of refresh rotation, reuse detection and family revocation (in-process, frozen clock).

Hypothesis drives random sequences of: redeem the current refresh token, replay a retired one (inside or outside
the grace window), let time pass (tokens and sessions expire), exchange the newest access token, redeem garbage.
A simple model predicts every outcome; the real node (SQLite store, real grants) must agree.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ssoidc.clock import FrozenClock
from ssoidc.compose import build_services
from ssoidc.config.apply import apply_to_store, parse_file
from ssoidc.errors import InvalidGrant, OAuthError
from ssoidc.oauth.request import Caller, TokenRequest
from ssoidc.settings import Settings
from ssoidc.storage.sqlite import SqliteStore
from tests.helpers.inprocess import ALLOW_ACCOUNT, issue_code

GRACE = 2.0
ACCESS_TTL = 30
SESSION_TTL = 200
REDIRECT = "https://a.example.com/cb"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"

CONFIG = {
    "Instance": {"Name": "sm"},
    "Applications": [
        {
            "Name": "a",
            "Grants": {
                "authorization_code": {"AuthorizationCode": {"RedirectUris": [REDIRECT]}},
                "refresh_token": {"RefreshToken": {}},
            },
            "AuthenticationMethods": ALLOW_ACCOUNT,
            "AccessScopes": [{"Scope": "x:read", "AuthorizedTargets": ["b"]}],
            "AssignmentRequired": False,
        },
        {
            "Name": "b",
            "Grants": {EXCHANGE: {"TokenExchange": {}}},
            "AuthenticationMethods": ALLOW_ACCOUNT,
            "AssignmentRequired": False,
        },
    ],
    "Users": [{"UserName": "u", "Emails": [{"Value": "u@example.com"}]}],
}
CALLER = Caller(principal_arn="arn:aws:iam::123456789012:root", access_key_id="AKIAX")


class RotationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory()
        self.clock = FrozenClock(1_800_000_000.0)
        settings = Settings(
            data_dir=Path(self.tmp.name),
            access_token_ttl=ACCESS_TTL,
            session_ttl=SESSION_TTL,
            refresh_grace_seconds=GRACE,
        )
        self.node = self.run(build_services(settings, clock=self.clock))
        config = self.run(
            apply_to_store(
                self.node.store, parse_file(yaml.safe_dump(CONFIG)), settings.account_id, self.clock.now()
            )
        )
        self.run(self.node.snapshot.refresh())
        self.apps = {a.name: a.arn for a in config.applications}
        self.user = config.users[0].user_id

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def call(self, **kw: Any) -> Any:
        self.run(self.node.snapshot.refresh())
        return self.run(self.node.create_token(TokenRequest(**kw), CALLER))

    def teardown(self) -> None:
        self.run(self.node.close())
        self.loop.close()
        self.tmp.cleanup()

    @initialize()
    def start_session(self) -> None:
        code = self.run(issue_code(self.node, self.apps["a"], self.user, REDIRECT, self.clock.now()))
        resp = self.call(
            client_id=self.apps["a"], grant_type="authorization_code", code=code, redirect_uri=REDIRECT
        )
        self.session_end = self.clock.now() + SESSION_TTL
        self.alive = True
        self.current = resp.refresh_token
        self.access = resp.access_token
        self.access_exp = self.clock.now() + ACCESS_TTL
        self.retired: list[tuple[str, float]] = []

    def refresh_expected_ok(self) -> bool:
        return self.alive and self.clock.now() < self.session_end

    @rule()
    def redeem_current(self) -> None:
        try:
            resp = self.call(client_id=self.apps["a"], grant_type="refresh_token", refresh_token=self.current)
        except InvalidGrant:
            assert not self.refresh_expected_ok(), "a live refresh token was refused"
            return
        assert self.refresh_expected_ok(), "a dead refresh token was accepted"
        self.retired.append((self.current, self.clock.now()))
        self.current = resp.refresh_token
        self.access = resp.access_token
        self.access_exp = min(self.clock.now() + ACCESS_TTL, self.session_end)

    @precondition(lambda self: bool(self.retired))
    @rule(data=st.data())
    def replay_retired(self, data: st.DataObject) -> None:
        token, retired_at = data.draw(st.sampled_from(self.retired))
        try:
            self.call(client_id=self.apps["a"], grant_type="refresh_token", refresh_token=token)
        except InvalidGrant:
            pass
        else:
            raise AssertionError("a retired refresh token was redeemed twice")
        if self.alive and self.clock.now() < self.session_end and self.clock.now() - retired_at > GRACE:
            self.alive = False

    @rule(seconds=st.sampled_from([0.0, 0.5, 1.5, 3.0, 20.0, 60.0]))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def exchange_latest_access(self) -> None:
        expected = self.alive and self.clock.now() < self.access_exp
        try:
            resp = self.call(
                client_id=self.apps["b"],
                grant_type=EXCHANGE,
                subject_token=self.access,
                subject_token_type=ACCESS,
            )
        except InvalidGrant:
            assert not expected, "a live access token failed token exchange"
            return
        assert expected, "a dead access token was exchanged"
        assert resp.expires_in <= self.access_exp - self.clock.now() + 1

    @rule(garbage=st.text(max_size=60))
    def redeem_garbage(self, garbage: str) -> None:
        try:
            self.call(client_id=self.apps["a"], grant_type="refresh_token", refresh_token="aor" + garbage)
        except OAuthError as exc:
            assert isinstance(exc, InvalidGrant) or not garbage
        else:
            raise AssertionError("garbage was accepted")

    @invariant()
    def at_most_one_live_refresh_token(self) -> None:
        """However the requests interleave, a session never has two redeemable refresh tokens."""
        store = self.node.store
        assert isinstance(store, SqliteStore)
        db = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
        try:
            live = db.execute(
                "SELECT COUNT(*) FROM tokens t WHERE t.kind = 'refresh' AND t.retired_at IS NULL"
                " AND NOT EXISTS (SELECT 1 FROM revoked_families f WHERE f.family_id = t.family_id)"
            ).fetchone()[0]
        finally:
            db.close()
        assert live <= 1


RotationMachine.TestCase.settings = hsettings(max_examples=25, stateful_step_count=25, deadline=None)
TestRotation = RotationMachine.TestCase

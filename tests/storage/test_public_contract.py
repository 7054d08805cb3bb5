"""The storage contract of public clients and device authorizations (``PublicClientStore``, migration 0012), on
SQLite, PostgreSQL and the memory store (the ``backend`` fixture of ``tests/storage/conftest.py``).

Every device-code transition is one conditional write: a decision happens once, a poll that comes sooner than the
interval is a slow-down that grows the interval, and a device code is redeemed once, also when 50 callers on five
nodes race.
"""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from ssoidc.storage.base import (
    DEVICE_APPROVED,
    DEVICE_CONSUMED,
    DEVICE_DENIED,
    DEVICE_PENDING,
    AlreadyExists,
    ClientRecord,
    DeviceRecord,
)
from tests.helpers.storage import Backend
from tests.storage.test_contract import CALLERS, gather, nodes, spread, token

CLIENT = "client:c1"


def client(client_id: str = "c1", **kw: object) -> ClientRecord:
    base = ClientRecord(
        client_id=client_id,
        client_name="botocore-client-x",
        client_type="public",
        scopes=("sso:account:access",),
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=("http://127.0.0.1/oauth/callback",),
        issuer_url="https://d-1234567890.awsapps.com/start",
        entitled_application_arn=None,
        created_at=1000.0,
        expires_at=2000.0,
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def device(**kw: object) -> DeviceRecord:
    base = DeviceRecord(
        device_hash=secrets.token_bytes(32),
        user_code_hash=secrets.token_bytes(32),
        client_id="c1",
        scopes=("sso:account:access",),
        start_url="https://d-1234567890.awsapps.com/start",
        family_id="fam-dev",
        issued_at=1000.0,
        expires_at=1600.0,
        interval=1.0,
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_a_registration_round_trips_and_its_id_is_unique(backend: Backend) -> None:
    s, run = backend.store, backend.run
    c = client()
    run(s.create_client(c))
    assert run(s.get_client("c1")) == c
    bare = client("c2", scopes=(), grant_types=None, redirect_uris=(), issuer_url=None)
    run(s.create_client(bare))
    assert run(s.get_client("c2")) == bare
    with pytest.raises(AlreadyExists):
        run(s.create_client(client(client_name="other")))
    assert run(s.get_client("c1")) == c  # nothing written
    assert run(s.get_client("nope")) is None
    assert (
        run(s.get_client("c1\x00")) is None
    )  # PostgreSQL text cannot hold NUL: a miss, never a storage error


def test_a_device_round_trips_and_a_taken_user_code_is_refused(backend: Backend) -> None:
    s, run = backend.store, backend.run
    d = device()
    run(s.create_device(d))
    assert run(s.find_device_by_user_code(d.user_code_hash, 1100.0)) == d
    assert run(s.find_device_by_user_code(d.user_code_hash, 1600.0)) is None  # expired
    with pytest.raises(AlreadyExists):
        run(s.create_device(device(user_code_hash=d.user_code_hash)))
    with pytest.raises(AlreadyExists):
        run(s.create_device(device(device_hash=d.device_hash)))


def test_a_decision_happens_once_and_only_while_pending(backend: Backend) -> None:
    s, run = backend.store, backend.run
    d = device()
    run(s.create_device(d))
    got = run(s.decide_device(d.user_code_hash, 1100.0, approve=True, user_id="u1", auth_time=1050.0))
    assert (
        got is not None and got.status == DEVICE_APPROVED and got.user_id == "u1" and got.auth_time == 1050.0
    )
    assert run(s.decide_device(d.user_code_hash, 1101.0, approve=False, user_id="u2", auth_time=1.0)) is None
    assert run(s.find_device_by_user_code(d.user_code_hash, 1102.0)) is None  # no longer pending
    late = device()
    run(s.create_device(late))
    assert (
        run(s.decide_device(late.user_code_hash, 1600.0, approve=True, user_id="u1", auth_time=1.0)) is None
    )
    denied = device()
    run(s.create_device(denied))
    got = run(s.decide_device(denied.user_code_hash, 1100.0, approve=False, user_id="u1", auth_time=1.0))
    assert got is not None and got.status == DEVICE_DENIED


def test_polling_sooner_than_the_interval_is_a_slow_down_that_adds_five_seconds(backend: Backend) -> None:
    s, run = backend.store, backend.run
    d = device()
    run(s.create_device(d))
    first = run(s.poll_device(d.device_hash, "c1", 1100.0, leeway=0.25, max_interval=60.0))
    assert first is not None and not first.slow_down and first.device.interval == 1.0
    assert first.device.status == DEVICE_PENDING and first.device.last_poll_at == 1100.0
    soon = run(s.poll_device(d.device_hash, "c1", 1100.5, leeway=0.25, max_interval=60.0))
    assert soon is not None and soon.slow_down and soon.device.interval == 6.0
    jitter = run(s.poll_device(d.device_hash, "c1", 1106.3, leeway=0.25, max_interval=60.0))
    assert (
        jitter is not None and not jitter.slow_down and jitter.device.interval == 6.0
    )  # 5.8 s: within leeway
    capped = device()
    run(s.create_device(dataclasses.replace(capped, interval=58.0)))
    run(s.poll_device(capped.device_hash, "c1", 1100.0, leeway=0.0, max_interval=60.0))
    again = run(s.poll_device(capped.device_hash, "c1", 1101.0, leeway=0.0, max_interval=60.0))
    assert again is not None and again.slow_down and again.device.interval == 58.0  # never past the cap
    assert (
        run(s.poll_device(d.device_hash, "c2", 1200.0, leeway=0.0, max_interval=60.0)) is None
    )  # other client
    assert run(s.poll_device(b"x" * 32, "c1", 1200.0, leeway=0.0, max_interval=60.0)) is None


def test_a_device_code_is_redeemed_once_and_only_when_approved_and_live(backend: Backend) -> None:
    s, run = backend.store, backend.run
    d = device()
    run(s.create_device(d))
    t = token(app=CLIENT, family="fam-dev")
    assert run(s.redeem_device(d.device_hash, "c1", 1100.0, [t])) is False  # pending
    assert run(s.find_token(t.token_hash)) is None
    run(s.decide_device(d.user_code_hash, 1100.0, approve=True, user_id="u1", auth_time=1100.0))
    assert run(s.redeem_device(d.device_hash, "c2", 1100.0, [t])) is False  # another client
    assert run(s.redeem_device(d.device_hash, "c1", 1600.0, [t])) is False  # expired
    assert run(s.find_token(t.token_hash)) is None
    assert run(s.redeem_device(d.device_hash, "c1", 1200.0, [t])) is True
    assert run(s.find_token(t.token_hash)) is not None
    t2 = token(app=CLIENT, family="fam-dev")
    assert run(s.redeem_device(d.device_hash, "c1", 1201.0, [t2])) is False
    assert run(s.find_token(t2.token_hash)) is None
    assert run(s.poll_device(d.device_hash, "c1", 1300.0, leeway=0.0, max_interval=60.0)) is None  # consumed
    denied = device()
    run(s.create_device(denied))
    run(s.decide_device(denied.user_code_hash, 1100.0, approve=False, user_id="u1", auth_time=1.0))
    assert run(s.redeem_device(denied.device_hash, "c1", 1200.0, [token(app=CLIENT)])) is False
    assert DEVICE_CONSUMED == "consumed"


def test_purge_drops_expired_registrations_and_device_codes_an_hour_after_expiry(backend: Backend) -> None:
    s, run = backend.store, backend.run
    run(s.create_client(client("old", expires_at=1500.0)))
    run(s.create_client(client("live", expires_at=9000.0)))
    d = device(expires_at=1600.0)
    run(s.create_device(d))
    run(s.purge_expired(2000.0))
    assert run(s.get_client("old")) is None and run(s.get_client("live")) is not None
    assert run(s.poll_device(d.device_hash, "c1", 2000.0, leeway=0.0, max_interval=60.0)) is not None
    run(s.purge_expired(1600.0 + 3601.0))
    assert run(s.poll_device(d.device_hash, "c1", 5300.0, leeway=0.0, max_interval=60.0)) is None


def test_concurrent_redemptions_of_one_device_code_through_many_nodes_yield_one_winner(
    backend: Backend,
) -> None:
    stores = nodes(backend)
    d = device()
    backend.run(backend.store.create_device(d))
    backend.run(
        backend.store.decide_device(d.user_code_hash, 1100.0, approve=True, user_id="u1", auth_time=1.0)
    )
    candidates = [token(app=CLIENT, family="fam-dev") for _ in range(CALLERS)]
    outcomes = backend.run(
        gather(
            *[
                s.redeem_device(d.device_hash, "c1", 1200.0, [t], family_cap=3)
                for s, t in zip(spread(stores), candidates, strict=True)
            ]
        )
    )
    assert outcomes.count(True) == 1, outcomes
    assert outcomes.count(False) == CALLERS - 1, outcomes
    stored = [backend.run(backend.store.find_token(t.token_hash)) for t in candidates]
    assert sum(t is not None for t in stored) == 1


def test_concurrent_decisions_through_many_nodes_yield_one(backend: Backend) -> None:
    stores = nodes(backend)
    d = device()
    backend.run(backend.store.create_device(d))
    outcomes = backend.run(
        gather(
            *[
                s.decide_device(d.user_code_hash, 1100.0, approve=i % 2 == 0, user_id=f"u{i}", auth_time=1.0)
                for i, s in enumerate(spread(stores))
            ]
        )
    )
    decided = [o for o in outcomes if o is not None]
    assert len(decided) == 1, outcomes
    assert not any(isinstance(o, BaseException) for o in outcomes), outcomes


def test_concurrent_polls_have_one_on_time_poll(backend: Backend) -> None:
    stores = nodes(backend)
    d = device()
    backend.run(backend.store.create_device(d))
    polls = backend.run(
        gather(
            *[
                s.poll_device(d.device_hash, "c1", 1100.0, leeway=0.25, max_interval=60.0)
                for s in spread(stores)
            ]
        )
    )
    assert not any(isinstance(p, BaseException) for p in polls), polls
    assert sum(not p.slow_down for p in polls) == 1, polls

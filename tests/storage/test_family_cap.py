"""The refresh-family cap of the storage contract (``TokenStore.issue`` / ``CodeStore.redeem_code`` with
``family_cap``; migration 0011), on SQLite, PostgreSQL and memory: at most ``cap`` families started by a
JWT-bearer assertion or an authorization code stay live per (user, application); a new one revokes the oldest in
the same transaction; a refused write moves nothing; five nodes starting families at once leave exactly ``cap``."""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from ssoidc.storage.base import JtiReplay, Redemption, TokenRecord
from tests.helpers.storage import Backend
from tests.storage.test_contract import APP, CALLERS, code, gather, nodes, spread, token

OTHER_APP = APP.replace("apl-1111111111111111", "apl-2222222222222222")


def start(family: str, *, user: str = "u1", app: str = APP, issued: float = 1000.0) -> list[TokenRecord]:
    """A token set that starts a family: an access token and a parentless refresh token."""
    return [
        token(family=family, user=user, app=app, issued=issued),
        token("refresh", family=family, user=user, app=app, issued=issued, expires=5000.0),
    ]


def live(backend: Backend, tokens: list[TokenRecord]) -> bool:
    """Every token of the set is stored and not revoked."""
    found = [backend.run(backend.store.find_token(t.token_hash)) for t in tokens]
    return all(f is not None and f.revoked_at is None for f in found)


def jti() -> tuple[str, str, float]:
    return ("https://idp.example.com", secrets.token_hex(8), 3000.0)


def test_a_new_family_past_the_cap_revokes_the_oldest(backend: Backend) -> None:
    s, run = backend.store, backend.run
    sets = [start(f"f{i}", issued=1000.0 + i) for i in range(5)]
    for tokens in sets:
        run(s.issue(tokens, jti=jti(), family_cap=3))
    assert [live(backend, t) for t in sets] == [False, False, True, True, True]
    revoked = run(s.find_token(sets[0][1].token_hash))
    assert revoked is not None and revoked.revoked_at == 1003.0  # revoked when the 4th family started
    # another user, another application: their own rings
    mine = start("other-user", user="u2")
    theirs = start("other-app", app=OTHER_APP)
    run(s.issue(mine, jti=jti(), family_cap=3))
    run(s.issue(theirs, jti=jti(), family_cap=3))
    assert live(backend, mine) and live(backend, theirs)
    assert [live(backend, t) for t in sets] == [False, False, True, True, True]


def test_without_a_cap_or_without_a_new_family_nothing_is_counted(backend: Backend) -> None:
    s, run = backend.store, backend.run
    uncapped = [start(f"u{i}") for i in range(4)]
    for tokens in uncapped:
        run(s.issue(tokens, jti=jti()))  # family_cap=0: no cap
    continued = []
    for _ in range(4):  # token exchange / rotation: a refresh token with a parent continues a family
        child = dataclasses.replace(token("refresh", family="f0"), parent_hash=secrets.token_bytes(32))
        continued.append([child])
        run(s.issue([child], family_cap=1))
    access_only = [[token(family=f"a{i}")] for i in range(4)]
    for tokens in access_only:
        run(s.issue(tokens, jti=jti(), family_cap=1))
    assert all(live(backend, t) for t in uncapped + continued + access_only)
    first = start("first")
    run(s.issue(first, jti=jti(), family_cap=1))
    assert live(backend, first)  # the first family counted under the cap: nothing evicted
    assert all(live(backend, t) for t in uncapped)


def test_a_replayed_jti_writes_nothing_and_moves_no_slot(backend: Backend) -> None:
    s, run = backend.store, backend.run
    used = jti()
    sets = [start("f0"), start("f1")]
    run(s.issue(sets[0], jti=used, family_cap=2))
    run(s.issue(sets[1], jti=jti(), family_cap=2))
    replay = start("replay")
    with pytest.raises(JtiReplay):
        run(s.issue(replay, jti=used, family_cap=2))
    assert all(run(s.find_token(t.token_hash)) is None for t in replay)
    assert live(backend, sets[0]) and live(backend, sets[1])  # the replay evicted nobody
    third = start("f2")
    run(s.issue(third, jti=jti(), family_cap=2))
    assert [live(backend, t) for t in [*sets, third]] == [False, True, True]  # the oldest, not f1


def test_code_redemptions_count_and_refused_ones_do_not(backend: Backend) -> None:
    s, run = backend.store, backend.run
    sets = []
    for i in range(3):
        c = code(family=f"c{i}")
        run(s.create_code(c))
        tokens = start(f"c{i}")
        assert run(s.redeem_code(c.code_hash, APP, 1100.0, tokens, family_cap=2)) is Redemption.OK
        sets.append((c, tokens))
    assert [live(backend, t) for _, t in sets] == [False, True, True]
    again = start("c2")
    outcome = run(s.redeem_code(sets[2][0].code_hash, APP, 1101.0, again, family_cap=2))
    assert outcome is Redemption.REUSED  # the replay revokes its own family (RFC 6749 4.1.2), evicts nobody
    assert all(run(s.find_token(t.token_hash)) is None for t in again)
    assert [live(backend, t) for _, t in sets] == [False, True, False]


def test_families_started_at_once_on_many_nodes_leave_exactly_the_cap(backend: Backend) -> None:
    stores = nodes(backend)
    cap = 10
    sets = [start(f"race{i}") for i in range(CALLERS)]
    outcomes = backend.run(
        gather(
            *[
                s.issue(tokens, jti=jti(), family_cap=cap)
                for s, tokens in zip(spread(stores), sets, strict=True)
            ]
        )
    )
    assert all(o is None for o in outcomes), outcomes
    alive = [live(backend, t) for t in sets]
    assert sum(alive) == cap, alive
    assert all(backend.run(backend.store.find_token(t.token_hash)) is not None for s in sets for t in s)


def test_a_family_whose_session_ended_frees_its_place(backend: Backend) -> None:
    """Cap 2: a family that ended is not revoked by the next start (nothing to end), and the live ones keep
    counting: the start after that revokes the oldest live family."""
    s, run = backend.store, backend.run
    ended = [dataclasses.replace(t, expires_at=1500.0) for t in start("ended", issued=1000.0)]
    first, second, third = (start(f"live{i}", issued=2000.0 + i) for i in range(3))
    run(s.issue(ended, jti=jti(), family_cap=2))
    run(s.issue(first, jti=jti(), family_cap=2))
    run(s.issue(second, jti=jti(), family_cap=2))
    assert live(backend, first) and live(backend, second)
    gone = run(s.find_token(ended[1].token_hash))
    assert gone is not None and gone.revoked_at is None  # expired, never revoked
    run(s.issue(third, jti=jti(), family_cap=2))
    assert [live(backend, t) for t in (first, second, third)] == [False, True, True]

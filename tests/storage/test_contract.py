"""The storage contract (``ssoidc.storage.base``), run against every implementation: SQLite, PostgreSQL, memory.

Each test gets an empty store (``backend`` fixture, ids ``sqlite`` / ``postgres`` / ``memory``). The concurrency
tests open five stores on one database, as five nodes would (for PostgreSQL: five pools, so the 50 callers race on
many connections at once; for memory: five stores on one ``MemoryData``), and check that every single-use artefact
is used exactly once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Sequence
from typing import Any

import pytest

from ssoidc.errors import ConfigError
from ssoidc.model import (
    Application,
    Assignment,
    AuthorizationCodeGrantConfig,
    Configuration,
    Email,
    Group,
    Instance,
    RefreshTokenGrantConfig,
    TrustedTokenIssuer,
    User,
)
from ssoidc.storage.base import (
    IDEMPOTENCY_TTL_SECONDS,
    AlreadyExists,
    CodeRecord,
    IdempotencyRecord,
    JtiReplay,
    Redemption,
    StorageError,
    Store,
    StoredCredential,
    TokenRecord,
    VersionConflict,
    WebSession,
)
from ssoidc.storage.common import CODE_PURGE_GRACE_SECONDS, REVOCATION_SETTLE_SECONDS
from tests.helpers.storage import KEY, Backend

NODES = 5
CALLERS = 50
APP = "arn:aws:sso::123456789012:application/ssoins-1111111111111111/apl-1111111111111111"


def token(
    kind: str = "access",
    *,
    family: str = "fam",
    expires: float = 2000.0,
    app: str = APP,
    user: str = "u1",
    issued: float = 1000.0,
    context: dict[str, Any] | None = None,
) -> TokenRecord:
    return TokenRecord(
        token_hash=secrets.token_bytes(32),
        kind=kind,  # type: ignore[arg-type]
        family_id=family,
        parent_hash=None,
        application_arn=app,
        user_id=user,
        scopes=("openid", "aws"),
        issued_at=issued,
        expires_at=expires,
        session_expires_at=5000.0,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        context=context or {},
    )


def code(
    h: bytes | None = None,
    *,
    expires: float = 1300.0,
    user: str = "u1",
    family: str = "cf",
    nonce: str | None = "n-0S6_WzA2Mj",
) -> CodeRecord:
    return CodeRecord(
        code_hash=h or secrets.token_bytes(32),
        application_arn=APP,
        user_id=user,
        redirect_uri="https://app.example.com/cb",
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        code_challenge_method="S256",
        scopes=("openid",),
        family_id=family,
        issued_at=1000.0,
        expires_at=expires,
        session_expires_at=9000.0,
        auth_time=990.0,
        nonce=nonce,
    )


def configuration(name: str = "one", users: int = 2) -> Configuration:
    inst = "arn:aws:sso:::instance/ssoins-1111111111111111"
    return Configuration(
        instance=Instance(inst, "d-1111111111", "123456789012", name),
        trusted_token_issuers=(
            TrustedTokenIssuer(
                "arn:aws:sso::123456789012:trustedTokenIssuer/ssoins-1111111111111111/tti-1",
                "idp",
                "https://idp.example.com",
                "email",
                "emails.value",
            ),
        ),
        applications=(
            Application(
                APP,
                "app",
                inst,
                grants={
                    "authorization_code": AuthorizationCodeGrantConfig(("https://app.example.com/cb",)),
                    "refresh_token": RefreshTokenGrantConfig(),
                },
                actor_policy={"Version": "2012-10-17", "Statement": []},
            ),
        ),
        users=tuple(User(f"u{i}", f"user{i}", emails=(Email(f"user{i}@example.com"),)) for i in range(users)),
        groups=(Group("g1", "group", member_user_ids=("u0",)),),
        assignments=(Assignment(APP, "USER", "u0"), Assignment(APP, "GROUP", "g1")),
    )


def idem(key: str = "CreateApplication/caller/token-1") -> IdempotencyRecord:
    return IdempotencyRecord(key, b"\x01" * 32, '{"ApplicationArn": "x"}', 1000.0)


async def gather(*calls: Any) -> list[Any]:
    return list(await asyncio.gather(*calls, return_exceptions=True))


# -- configuration --------------------------------------------------------------------------------------------
def test_configuration_round_trips_and_bumps_the_version(backend: Backend) -> None:
    s, run = backend.store, backend.run
    assert run(s.config_version()) == 0
    assert run(s.load_configuration()) == (None, 0)
    c1 = configuration("one")
    assert run(s.replace_configuration(c1)) == 1
    assert run(s.load_configuration()) == (c1, 1)
    c2 = configuration("two", users=3)
    assert run(s.replace_configuration(c2)) == 2
    assert run(s.config_version()) == 2
    assert run(backend.open().load_configuration()) == (c2, 2)  # another node reads the same


def test_compare_and_swap_writes_only_on_the_expected_version(backend: Backend) -> None:
    s, run = backend.store, backend.run
    with pytest.raises(VersionConflict):
        run(s.replace_configuration(configuration("x"), expected_version=3))
    assert run(s.load_configuration()) == (None, 0)
    assert run(s.replace_configuration(configuration("a"), expected_version=0)) == 1
    with pytest.raises(VersionConflict):
        run(s.replace_configuration(configuration("b"), expected_version=0))
    assert run(s.replace_configuration(configuration("b"), expected_version=1)) == 2
    with pytest.raises(VersionConflict):
        run(s.replace_configuration(configuration("c"), expected_version=1))
    config, version = run(s.load_configuration())
    assert version == 2 and config is not None and config.instance.name == "b"


def test_idempotency_record_is_written_with_the_configuration_or_conflicts(backend: Backend) -> None:
    s, run = backend.store, backend.run
    assert run(s.get_idempotency("nope")) is None
    rec = idem()
    assert run(s.replace_configuration(configuration("a"), idempotency=rec)) == 1
    assert run(s.get_idempotency(rec.key)) == rec
    with pytest.raises(VersionConflict):  # the key exists: nothing at all is written
        run(
            s.replace_configuration(
                configuration("b"), idempotency=idem(), revoke_subjects=["user:u1"], now=1500.0
            )
        )
    config, version = run(s.load_configuration())
    assert version == 1 and config is not None and config.instance.name == "a"
    t = token(user="u1")
    run(s.issue([t]))
    assert run(s.find_token(t.token_hash)).revoked_at is None  # type: ignore[union-attr]


def test_credential_writes_bump_the_version(backend: Backend) -> None:
    s, run = backend.store, backend.run
    c = StoredCredential(
        "AKIAEXAMPLE12345678",
        "secret/" + secrets.token_hex(8),
        "arn:aws:iam::123456789012:root",
        session_token_sha256=b"\x02" * 32,
        policy={"Version": "2012-10-17", "Statement": []},
        description="d",
        created_at=5.0,
    )
    run(s.create_credential(c))
    assert run(s.config_version()) == 1
    assert run(s.load_credentials()) == [c]
    with pytest.raises(AlreadyExists):
        run(s.create_credential(c))
    assert run(s.config_version()) == 1
    assert run(s.delete_credential(c.access_key_id)) is True
    assert run(s.delete_credential(c.access_key_id)) is False
    assert run(s.config_version()) == 2
    assert run(s.load_credentials()) == []


def test_a_duplicate_credential_raises_already_exists_and_writes_nothing(backend: Backend) -> None:
    """A taken access key id is ``AlreadyExists`` (not a ``KeyError``), also when another node took it."""
    run = backend.run
    first = StoredCredential("AKIADUPLICATE0000001", "s1", "arn:aws:iam::123456789012:root", created_at=1.0)
    run(backend.store.create_credential(first))
    other = backend.open()
    clash = StoredCredential(first.access_key_id, "s2", "arn:aws:iam::123456789012:user/x", created_at=2.0)
    with pytest.raises(AlreadyExists) as info:
        run(other.create_credential(clash))
    assert type(info.value) is AlreadyExists
    assert run(other.load_credentials()) == [first]  # the first secret and principal stand
    assert run(other.load_configuration())[1] == 1  # no version bump for the refused write


@pytest.mark.parametrize("missing", ["principal_arn", "description"])
def test_a_credential_violating_another_constraint_is_a_storage_error_not_already_exists(
    backend: Backend, missing: str
) -> None:
    """Only a taken access key id is ``AlreadyExists``; a NULL in a NOT NULL column is a driver failure."""
    s, run = backend.store, backend.run
    good = StoredCredential("AKIACONSTRAINT000001", "s1", "arn:aws:iam::123456789012:root", created_at=1.0)
    nulled: dict[str, Any] = {missing: None}  # what the types forbid, as a caller's bug would pass it
    bad = dataclasses.replace(good, access_key_id="AKIACONSTRAINT000002", **nulled)
    with pytest.raises(StorageError) as info:
        run(s.create_credential(bad))
    assert type(info.value) is StorageError
    assert str(info.value) == "storage operation failed"
    assert run(s.load_credentials()) == []
    assert run(s.config_version()) == 0  # nothing written, no version bump
    run(s.create_credential(good))  # the store goes on serving
    assert run(s.load_credentials()) == [good]


# -- revoked subjects -----------------------------------------------------------------------------------------
def test_revoked_user_kills_tokens_issued_before_the_revocation(backend: Backend) -> None:
    s, run = backend.store, backend.run
    before = token("refresh", user="u1", family="f1", issued=1000.0)
    sibling = token("access", user="u1", family="f1", issued=1000.0)
    other = token("refresh", user="u2", family="f2", issued=1000.0)
    run(s.issue([before, sibling, other]))
    run(s.replace_configuration(configuration(), revoke_subjects=["user:u1"], now=1200.0))
    assert run(s.find_token(before.token_hash)).revoked_at == 1200.0  # type: ignore[union-attr]
    assert run(s.find_token(sibling.token_hash)).revoked_at == 1200.0  # type: ignore[union-attr]
    assert run(s.find_token(other.token_hash)).revoked_at is None  # type: ignore[union-attr]
    # A revoked subject's refresh token is INVALID (not REUSED): no family revocation, nothing written.
    new = token("refresh", user="u1", family="f1", issued=1300.0)
    assert run(s.rotate_refresh(before.token_hash, APP, 1300.0, 5.0, [new])) is Redemption.INVALID
    assert run(s.find_token(new.token_hash)) is None
    assert run(s.find_token(before.token_hash)).retired_at is None  # type: ignore[union-attr]
    later = token("access", user="u1", family="f1", issued=1300.0)  # same family, issued after: alive
    run(s.issue([later]))
    assert run(s.find_token(later.token_hash)).revoked_at is None  # type: ignore[union-attr]
    assert (
        run(s.rotate_refresh(other.token_hash, APP, 1300.0, 5.0, [token("refresh", user="u2")]))
        is Redemption.OK
    )


def test_revoked_application_kills_its_tokens_and_codes(backend: Backend) -> None:
    s, run = backend.store, backend.run
    t = token("refresh", issued=1000.0)
    other_app = token("refresh", app="arn:other", issued=1000.0)
    c = code()
    run(s.issue([t, other_app]))
    run(s.create_code(c))
    run(s.replace_configuration(configuration(), revoke_subjects=[f"application:{APP}"], now=1000.0))
    assert run(s.find_token(t.token_hash)).revoked_at == 1000.0  # type: ignore[union-attr] # at = revoked
    assert run(s.find_token(other_app.token_hash)).revoked_at is None  # type: ignore[union-attr]
    issued = token(family="cf", issued=1100.0)
    assert run(s.redeem_code(c.code_hash, APP, 1100.0, [issued])) is Redemption.INVALID
    assert run(s.find_code(c.code_hash)).consumed_at is None  # type: ignore[union-attr]
    assert run(s.find_token(issued.token_hash)) is None
    assert run(s.rotate_refresh(t.token_hash, APP, 1100.0, 5.0, [])) is Redemption.INVALID


def test_revoked_user_code_is_invalid_even_when_replayed(backend: Backend) -> None:
    s, run = backend.store, backend.run
    c = code(user="u1", family="cf1")
    run(s.create_code(c))
    first = token(family="cf1", issued=1100.0)
    assert run(s.redeem_code(c.code_hash, APP, 1100.0, [first])) is Redemption.OK
    run(s.replace_configuration(configuration(), revoke_subjects=["user:u1"], now=1150.0))
    # The replay finds a revoked subject: INVALID, and the family is not touched.
    assert run(s.redeem_code(c.code_hash, APP, 1200.0, [])) is Redemption.INVALID
    assert run(s.revoke_family("cf1", 1300.0, 9000.0)) == 1  # it was not revoked before


def test_second_revocation_of_a_subject_moves_it_later(backend: Backend) -> None:
    s, run = backend.store, backend.run
    run(s.replace_configuration(configuration(), revoke_subjects=["user:u1", "user:u1"], now=1000.0))
    mid = token(user="u1", issued=1500.0)
    run(s.issue([mid]))
    assert run(s.find_token(mid.token_hash)).revoked_at is None  # type: ignore[union-attr]
    run(s.replace_configuration(configuration(), revoke_subjects=["user:u1"], now=2000.0))
    assert run(s.find_token(mid.token_hash)).revoked_at == 2000.0  # type: ignore[union-attr]
    run(s.replace_configuration(configuration(), revoke_subjects=["user:u1"], now=500.0))  # never earlier
    assert run(s.find_token(mid.token_hash)).revoked_at == 2000.0  # type: ignore[union-attr]


# -- meta and keys --------------------------------------------------------------------------------------------
def test_meta_is_written_once(backend: Backend) -> None:
    s, run = backend.store, backend.run
    assert run(s.get_meta("k")) is None
    assert run(s.put_meta_if_absent("k", "first")) == "first"
    assert run(s.put_meta_if_absent("k", "second")) == "first"
    assert run(s.get_meta("k")) == "first"


def test_signing_key_is_made_once_and_sealed(backend: Backend) -> None:
    s, run = backend.store, backend.run
    made: list[str] = []

    def make() -> tuple[str, bytes]:
        kid = secrets.token_hex(4)
        made.append(kid)
        return kid, b"-----PEM " + kid.encode()

    k1 = run(s.ensure_signing_key("id-token", "ES256", make))
    k2 = run(s.ensure_signing_key("id-token", "ES256", make))
    assert k1 == k2 and made == [k1.kid] and k1.active and k1.private_pem == b"-----PEM " + k1.kid.encode()
    k3 = run(s.ensure_signing_key("id-token", "RS256", make))
    assert k3.kid != k1.kid
    assert {k.kid for k in run(s.signing_keys("id-token"))} == {k1.kid, k3.kid}
    assert run(s.signing_keys("other")) == []


def test_a_store_with_another_master_key_is_refused(backend: Backend) -> None:
    backend.run(backend.store.config_version())  # first start: records the check value
    with pytest.raises(ConfigError, match="SSOIDC_MASTER_KEY"):
        backend.run(backend.open(bytes(32)).config_version())
    assert backend.run(backend.open(KEY).config_version()) == 0  # the same key is welcome


def test_background_work_started_twice_serves_and_closes_without_losing_a_write(backend: Backend) -> None:
    """``start_background`` may be called again (a second call does nothing), the store serves while it runs,
    and after ``close`` a store opened again finds every write (SQLite: the WAL its checkpointer owned)."""
    s, run = backend.store, backend.run
    s.start_background()
    s.start_background()
    t = token("refresh")
    run(s.issue([t]))
    assert run(s.put_meta_if_absent("k", "v")) == "v"
    run(s.replace_configuration(configuration()))
    run(s.ping())
    run(s.close())
    again = backend.open()
    assert run(again.get_meta("k")) == "v"
    assert run(again.find_token(t.token_hash)) == t
    assert run(again.config_version()) == 1


# -- tokens ---------------------------------------------------------------------------------------------------
def test_token_round_trips(backend: Backend) -> None:
    s, run = backend.store, backend.run
    parent = secrets.token_bytes(32)
    t = TokenRecord(
        token_hash=secrets.token_bytes(32),
        kind="refresh",
        family_id="fam-1",
        parent_hash=parent,
        application_arn=APP,
        user_id="u1",
        scopes=("openid", "aws", "sts:identity_context"),
        issued_at=1000.5,
        expires_at=2000.25,
        session_expires_at=5000.125,
        grant_type="refresh_token",
        context={"ctx": "sealed", "act": {"sub": "x"}, "n": 3},
    )
    run(s.issue([t]))
    assert run(s.find_token(t.token_hash)) == t
    assert run(s.find_token(secrets.token_bytes(32))) is None


def test_jti_replay_writes_nothing(backend: Backend) -> None:
    s, run = backend.store, backend.run
    run(s.issue([token()], jti=("iss", "j1", 3000.0)))
    t = token()
    with pytest.raises(JtiReplay):
        run(s.issue([t], jti=("iss", "j1", 3000.0)))
    assert run(s.find_token(t.token_hash)) is None
    run(s.issue([token()], jti=("other-iss", "j1", 3000.0)))  # jtis are per issuer
    run(s.issue([], jti=("iss", "j2", 3000.0)))  # a jti alone
    with pytest.raises(JtiReplay):
        run(s.issue([], jti=("iss", "j2", 3000.0)))


def test_rotation_is_single_use_and_reuse_revokes_family(backend: Backend) -> None:
    s, run = backend.store, backend.run
    old = token("refresh", family="f1")
    sibling = token("access", family="f1")
    run(s.issue([old, sibling]))
    new = token("refresh", family="f1")
    assert run(s.rotate_refresh(old.token_hash, APP, 1500.0, 5.0, [new])) is Redemption.OK
    assert run(s.find_token(old.token_hash)).retired_at == 1500.0  # type: ignore[union-attr]
    assert run(s.find_token(new.token_hash)) == new
    assert run(s.rotate_refresh(old.token_hash, APP, 1502.0, 5.0, [token("refresh")])) is (
        Redemption.RETRY_IN_GRACE
    )
    assert run(s.find_token(sibling.token_hash)).revoked_at is None  # type: ignore[union-attr]
    assert run(s.rotate_refresh(old.token_hash, APP, 1510.0, 5.0, [token("refresh")])) is Redemption.REUSED
    for t in (old, sibling, new):
        assert run(s.find_token(t.token_hash)).revoked_at == 1510.0  # type: ignore[union-attr]
    assert run(s.rotate_refresh(new.token_hash, APP, 1511.0, 5.0, [token("refresh")])) is Redemption.INVALID
    # Reuse after revocation stays INVALID and does not move the revocation time.
    assert run(s.rotate_refresh(old.token_hash, APP, 1520.0, 5.0, [])) is Redemption.INVALID
    assert run(s.find_token(old.token_hash)).revoked_at == 1510.0  # type: ignore[union-attr]


def test_rotation_checks_kind_application_and_expiry(backend: Backend) -> None:
    s, run = backend.store, backend.run
    t = token("refresh", expires=1600.0)
    access = token("access")
    run(s.issue([t, access]))
    assert run(s.rotate_refresh(access.token_hash, APP, 1500.0, 5.0, [])) is Redemption.INVALID
    assert run(s.rotate_refresh(t.token_hash, "arn:other", 1500.0, 5.0, [])) is Redemption.INVALID
    assert run(s.rotate_refresh(t.token_hash, APP, 1600.0, 5.0, [])) is Redemption.INVALID
    assert run(s.rotate_refresh(secrets.token_bytes(32), APP, 1500.0, 5.0, [])) is Redemption.INVALID
    assert run(s.rotate_refresh(t.token_hash, APP, 1599.0, 5.0, [])) is Redemption.OK


def test_revoked_family_rows_expire_with_their_session(backend: Backend) -> None:
    s, run = backend.store, backend.run
    t = token("refresh", family="gone")
    run(s.issue([t]))
    assert run(s.revoke_family("gone", 1500.0, 5000.0)) == 1
    assert run(s.revoke_family("gone", 1600.0, 5000.0)) == 0  # already revoked: the first time stands
    assert run(s.find_token(t.token_hash)).revoked_at == 1500.0  # type: ignore[union-attr]
    assert run(s.rotate_refresh(t.token_hash, APP, 1700.0, 5.0, [])) is Redemption.INVALID
    run(s.purge_expired(4999.0))
    assert run(s.revoke_family("gone", 1800.0, 5000.0)) == 0  # still there
    run(s.purge_expired(5001.0))
    assert run(s.revoke_family("gone", 1800.0, 5000.0)) == 1  # purged, so this is a new row


def test_a_key_clash_the_contract_does_not_name_is_a_storage_error_and_writes_nothing(
    backend: Backend,
) -> None:
    """A second token, code or web session with one hash is a driver error (a unique-key violation), not a
    silent overwrite; the operation it was part of is undone whole (the jti stays unused, the old token live)."""
    s, run = backend.store, backend.run
    taken = token("refresh", family="f")
    run(s.issue([taken]))
    with pytest.raises(StorageError):
        run(s.issue([token(), taken], jti=("iss", "clash", 3000.0)))
    run(s.issue([], jti=("iss", "clash", 3000.0)))  # the jti was not spent by the failed issue
    with pytest.raises(StorageError):
        run(s.rotate_refresh(taken.token_hash, APP, 1500.0, 5.0, [taken]))
    assert run(s.find_token(taken.token_hash)) == taken  # not retired
    c = code()
    run(s.create_code(c))
    with pytest.raises(StorageError):
        run(s.create_code(c))
    with pytest.raises(StorageError):
        run(s.redeem_code(c.code_hash, APP, 1100.0, [taken]))
    assert run(s.find_code(c.code_hash)) == c  # not consumed
    sid = secrets.token_bytes(32)
    run(s.create_web_session(sid, WebSession("u1", 100.0, 200.0)))
    with pytest.raises(StorageError):
        run(s.create_web_session(sid, WebSession("u2", 100.0, 300.0)))
    assert run(s.get_web_session(sid, 150.0)) == WebSession("u1", 100.0, 200.0)


# -- authorization codes --------------------------------------------------------------------------------------
def test_code_round_trips_and_is_redeemed_once_then_revokes(backend: Backend) -> None:
    s, run = backend.store, backend.run
    c = code()
    run(s.create_code(c))
    assert run(s.find_code(c.code_hash)) == c  # with its nonce (migration 10)
    without = code(nonce=None)
    run(s.create_code(without))
    assert run(s.find_code(without.code_hash)) == without
    assert run(s.find_code(secrets.token_bytes(32))) is None
    issued = token(family="cf")
    assert run(s.redeem_code(c.code_hash, APP, 1100.0, [issued])) is Redemption.OK
    assert run(s.find_code(c.code_hash)).consumed_at == 1100.0  # type: ignore[union-attr]
    assert run(s.find_token(issued.token_hash)) == issued
    again = token(family="cf")
    assert run(s.redeem_code(c.code_hash, APP, 1101.0, [again])) is Redemption.REUSED
    assert run(s.find_token(again.token_hash)) is None
    assert run(s.find_token(issued.token_hash)).revoked_at == 1101.0  # type: ignore[union-attr]


def test_code_checks_expiry_and_application(backend: Backend) -> None:
    s, run = backend.store, backend.run
    c = code()
    run(s.create_code(c))
    assert run(s.redeem_code(c.code_hash, APP, 1300.0, [])) is Redemption.INVALID  # expired
    assert run(s.redeem_code(c.code_hash, "arn:other", 1100.0, [])) is Redemption.INVALID
    assert run(s.redeem_code(secrets.token_bytes(32), APP, 1100.0, [])) is Redemption.INVALID
    assert run(s.redeem_code(c.code_hash, APP, 1299.0, [])) is Redemption.OK


# -- sign-in --------------------------------------------------------------------------------------------------
def test_passwords_and_web_sessions(backend: Backend) -> None:
    s, run = backend.store, backend.run
    assert run(s.get_password_hash("u1")) is None
    run(s.set_password_hash("u1", "$argon2id$one", 1.0))
    run(s.set_password_hash("u1", "$argon2id$two", 2.0))
    assert run(s.get_password_hash("u1")) == "$argon2id$two"
    sid = secrets.token_bytes(32)
    run(s.create_web_session(sid, WebSession("u1", 100.0, 200.0)))
    assert run(s.get_web_session(sid, 150.0)) == WebSession("u1", 100.0, 200.0)
    assert run(s.get_web_session(sid, 200.0)) is None  # expired
    run(s.delete_web_session(sid))
    assert run(s.get_web_session(sid, 150.0)) is None


def test_lockout_counts_failures_in_a_window(backend: Backend) -> None:
    s, run = backend.store, backend.run
    kw: dict[str, Any] = {"window": 60.0, "threshold": 3, "lock_seconds": 30.0}
    assert run(s.locked_until("alice", 100.0)) is None
    assert run(s.record_failure("alice", 100.0, **kw)) is None
    assert run(s.record_failure("alice", 110.0, **kw)) is None
    assert run(s.record_failure("alice", 120.0, **kw)) == 150.0
    assert run(s.locked_until("alice", 149.0)) == 150.0
    assert run(s.locked_until("alice", 150.0)) is None
    assert run(s.record_failure("alice", 151.0, **kw)) is None  # the lock ended: a new window
    assert run(s.record_failure("alice", 300.0, **kw)) is None  # outside the window: starts again
    assert run(s.record_failure("alice", 301.0, **kw)) is None
    run(s.clear_failures("alice"))
    assert run(s.record_failure("alice", 302.0, **kw)) is None
    assert run(s.record_failure("alice", 303.0, **kw)) is None
    assert run(s.record_failure("alice", 304.0, **kw)) == 334.0


# -- purge ----------------------------------------------------------------------------------------------------
def test_purge_removes_only_expired_rows(backend: Backend) -> None:
    s, run = backend.store, backend.run
    live, dead = token(expires=2000.0), token(expires=1000.0)
    run(s.issue([live, dead], jti=("i", "old", 900.0)))
    run(s.issue([], jti=("i", "new", 3000.0)))
    old_code, new_code = code(expires=100.0), code(expires=1400.0)
    run(s.create_code(old_code))
    run(s.create_code(new_code))
    assert run(s.purge_expired(1500.0)) == 2  # one token, one jti
    assert run(s.find_token(live.token_hash)) is not None
    assert run(s.find_token(dead.token_hash)) is None
    run(s.issue([], jti=("i", "old", 900.0)))  # the spent jti is gone: usable again
    assert run(s.find_code(old_code.code_hash)) is not None  # codes are kept a day past expiry
    assert run(s.purge_expired(100_000.0)) >= 2
    assert run(s.find_code(old_code.code_hash)) is None


def test_purge_keeps_a_code_for_its_grace_period_past_expiry(backend: Backend) -> None:
    s, run = backend.store, backend.run
    c = code(expires=100.0)
    run(s.create_code(c))
    assert run(s.purge_expired(100.0 + CODE_PURGE_GRACE_SECONDS - 1)) == 0
    assert run(s.find_code(c.code_hash)) is not None  # a late replay still revokes its family
    assert run(s.purge_expired(100.0 + CODE_PURGE_GRACE_SECONDS + 1)) == 1
    assert run(s.find_code(c.code_hash)) is None


def test_purge_forgets_idempotency_records_after_their_ttl(backend: Backend) -> None:
    s, run = backend.store, backend.run
    rec = idem()
    run(s.replace_configuration(configuration(), idempotency=rec))
    run(s.purge_expired(rec.created_at + IDEMPOTENCY_TTL_SECONDS - 1))
    assert run(s.get_idempotency(rec.key)) == rec
    assert run(s.purge_expired(rec.created_at + IDEMPOTENCY_TTL_SECONDS + 1)) == 1
    assert run(s.get_idempotency(rec.key)) is None


def test_purge_works_in_batches(backend: Backend) -> None:
    s, run = backend.store, backend.run
    run(s.issue([token(expires=10.0) for _ in range(7)]))
    assert run(s.purge_expired(100.0, limit=3)) == 3
    assert run(s.purge_expired(100.0, limit=3)) == 3
    assert run(s.purge_expired(100.0, limit=3)) == 1


# -- many nodes at once ---------------------------------------------------------------------------------------
def nodes(backend: Backend) -> list[Store]:
    return [backend.store] + [backend.open() for _ in range(NODES - 1)]


def spread(stores: Sequence[Store], n: int = CALLERS) -> list[Store]:
    return [stores[i % len(stores)] for i in range(n)]


def test_concurrent_rotations_through_many_nodes_yield_one_winner(backend: Backend) -> None:
    stores = nodes(backend)
    old = token("refresh", family="race")
    backend.run(backend.store.issue([old]))
    candidates = [token("refresh", family="race") for _ in range(CALLERS)]
    outcomes = backend.run(
        gather(
            *[
                s.rotate_refresh(old.token_hash, APP, 1500.0, 5.0, [t])
                for s, t in zip(spread(stores), candidates, strict=True)
            ]
        )
    )
    assert outcomes.count(Redemption.OK) == 1, outcomes
    assert outcomes.count(Redemption.RETRY_IN_GRACE) == CALLERS - 1, outcomes
    stored = [backend.run(backend.store.find_token(t.token_hash)) for t in candidates]
    assert sum(t is not None for t in stored) == 1  # only the winner's new token exists


def test_concurrent_code_redemptions_through_many_nodes_yield_one_winner(backend: Backend) -> None:
    stores = nodes(backend)
    c = code(family="code-race")
    backend.run(backend.store.create_code(c))
    candidates = [token(family="code-race") for _ in range(CALLERS)]
    outcomes = backend.run(
        gather(
            *[
                s.redeem_code(c.code_hash, APP, 1100.0, [t])
                for s, t in zip(spread(stores), candidates, strict=True)
            ]
        )
    )
    assert outcomes.count(Redemption.OK) == 1, outcomes
    assert outcomes.count(Redemption.REUSED) == CALLERS - 1, outcomes
    stored = [backend.run(backend.store.find_token(t.token_hash)) for t in candidates]
    assert sum(t is not None for t in stored) == 1
    assert all(t.revoked_at is not None for t in stored if t is not None)  # the replays revoked it


def test_concurrent_jti_use_through_many_nodes_yields_one_winner(backend: Backend) -> None:
    stores = nodes(backend)
    candidates = [token() for _ in range(CALLERS)]
    outcomes = backend.run(
        gather(
            *[
                s.issue([t], jti=("https://idp.example.com", "the-jti", 3000.0))
                for s, t in zip(spread(stores), candidates, strict=True)
            ]
        )
    )
    assert sum(o is None for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, JtiReplay) for o in outcomes) == CALLERS - 1, outcomes
    stored = [backend.run(backend.store.find_token(t.token_hash)) for t in candidates]
    assert sum(t is not None for t in stored) == 1


def test_concurrent_first_starts_make_one_signing_key(backend: Backend) -> None:
    stores = nodes(backend)

    def make() -> tuple[str, bytes]:
        kid = secrets.token_hex(8)
        return kid, kid.encode()

    keys = backend.run(gather(*[s.ensure_signing_key("id-token", "ES256", make) for s in stores * 2]))
    assert len({k.kid for k in keys}) == 1, keys
    assert len(backend.run(backend.store.signing_keys("id-token"))) == 1
    values = backend.run(gather(*[s.put_meta_if_absent("bootstrap", f"v{i}") for i, s in enumerate(stores)]))
    assert len(set(values)) == 1, values


def test_concurrent_compare_and_swap_has_one_winner(backend: Backend) -> None:
    stores = nodes(backend)
    backend.run(backend.store.replace_configuration(configuration("base")))
    outcomes = backend.run(
        gather(
            *[
                s.replace_configuration(configuration(f"n{i}"), expected_version=1)
                for i, s in enumerate(spread(stores, 20))
            ]
        )
    )
    assert outcomes.count(2) == 1, outcomes
    assert sum(isinstance(o, VersionConflict) for o in outcomes) == 19, outcomes
    config, version = backend.run(backend.store.load_configuration())
    assert version == 2 and config is not None
    winner = outcomes.index(2)
    assert config.instance.name == f"n{winner}"


def test_concurrent_writes_without_expected_version_all_count(backend: Backend) -> None:
    stores = nodes(backend)
    outcomes = backend.run(
        gather(*[s.replace_configuration(configuration(f"n{i}")) for i, s in enumerate(spread(stores, 20))])
    )
    assert sorted(outcomes) == list(range(1, 21)), outcomes
    assert backend.run(backend.store.load_configuration())[1] == 20  # the stored version, read now


def test_concurrent_idempotent_calls_have_one_winner(backend: Backend) -> None:
    stores = nodes(backend)
    outcomes = backend.run(
        gather(
            *[
                s.replace_configuration(configuration(f"n{i}"), idempotency=idem("same"))
                for i, s in enumerate(spread(stores, 20))
            ]
        )
    )
    assert sum(isinstance(o, int) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, VersionConflict) for o in outcomes) == 19, outcomes
    assert backend.run(backend.store.load_configuration())[1] == 1


def test_purge_forgets_a_revoked_subject_once_nothing_it_covers_can_be_used(backend: Backend) -> None:
    """A revocation marker is settled ``REVOCATION_SETTLE_SECONDS`` after the revocation to the latest expiry then
    stored, and deleted after that; until then every token issued before the revocation stays revoked."""
    s, run = backend.store, backend.run

    def probe_revoked(user: str) -> bool:
        """A token of ``user`` issued before the revocations at 1000: revoked exactly while the marker exists."""
        p = token(user=user, issued=900.0, expires=50_000.0)
        run(s.issue([p]))
        return run(s.find_token(p.token_hash)).revoked_at is not None  # type: ignore[union-attr]

    covered = token(user="u1", issued=900.0, expires=5000.0)
    run(s.issue([covered]))
    run(s.replace_configuration(configuration(), revoke_subjects=["user:u1", "user:u2"], now=1000.0))

    run(s.purge_expired(1000.0 + REVOCATION_SETTLE_SECONDS - 1))  # too early to settle: both markers stay
    assert probe_revoked("u2")
    run(s.purge_expired(1000.0 + REVOCATION_SETTLE_SECONDS + 1))  # settled to the latest expiry: 50,000
    assert run(s.find_token(covered.token_hash)).revoked_at == 1000.0  # type: ignore[union-attr]
    run(s.purge_expired(4999.0))
    assert run(s.find_token(covered.token_hash)).revoked_at == 1000.0  # type: ignore[union-attr]
    assert probe_revoked("u1")
    run(s.purge_expired(50_001.0))  # every token stored when the markers settled has expired
    assert run(s.find_token(covered.token_hash)) is None
    assert not probe_revoked("u1")
    assert not probe_revoked("u2")


def test_revoking_a_subject_again_unsettles_its_marker(backend: Backend) -> None:
    s, run = backend.store, backend.run
    run(s.issue([token(user="u1", issued=900.0, expires=1700.0)]))
    run(s.replace_configuration(configuration(), revoke_subjects=["user:u1"], now=1000.0))
    run(s.purge_expired(1000.0 + REVOCATION_SETTLE_SECONDS + 1))  # settled to 1,700
    run(s.replace_configuration(configuration(), revoke_subjects=["user:u1"], now=1650.0))
    live = token(user="u1", issued=1640.0, expires=9000.0)
    run(s.issue([live]))
    run(s.purge_expired(1800.0))  # past the old settlement, too early for the new one: the marker stays
    assert run(s.find_token(live.token_hash)).revoked_at == 1650.0  # type: ignore[union-attr]


def test_a_fresh_marker_outlives_requests_still_in_flight(backend: Backend) -> None:
    """A grant that chose its issue time before the revocation may commit after it (and after a purge): its
    tokens must still be covered, even when nothing else was stored."""
    s, run = backend.store, backend.run
    run(s.replace_configuration(configuration(), revoke_subjects=["user:u9"], now=1000.0))
    run(s.purge_expired(1060.0))
    late = token(user="u9", issued=999.0, expires=9000.0)
    run(s.issue([late]))
    assert run(s.find_token(late.token_hash)).revoked_at == 1000.0  # type: ignore[union-attr]

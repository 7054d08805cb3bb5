"""The storage contract of session credentials (``SessionCredentialStore``, migration 0015) on SQLite, PostgreSQL
and the memory store: one row per access key id, read back by key from any node, the secret sealed at rest,
the session token only as its hash, purged an hour after expiry."""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3

import pytest

from ssoidc.storage.base import SESSION_PURGE_GRACE_SECONDS, AlreadyExists, SessionCredentialRecord
from ssoidc.storage.memory import MemoryStore
from ssoidc.storage.postgres import PostgresStore
from ssoidc.storage.sqlite import SqliteStore
from tests.helpers.storage import Backend

SECRET = "s3cr3t/SessionSecretAccessKeyValue+0123456"
TOKEN = b"the-session-token-never-stored-in-clear"


def record(akid: str = "ASIAABCDEFGHIJKLMNOP", **kw: object) -> SessionCredentialRecord:
    base = SessionCredentialRecord(
        access_key_id=akid,
        secret_access_key=SECRET,
        session_token_sha256=hashlib.sha256(TOKEN).digest(),
        principal_arn="arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice",
        source="arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef",
        issued_at=1000.0,
        expires_at=4600.0,
        role_arn="arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef",
        on_behalf_of_user_id="u-1",
        on_behalf_of_identity_store_arn="arn:aws:identitystore::123456789012:identitystore/d-1234567890",
        session_policy={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sso:List*", "Resource": "*"}],
        },
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_a_session_credential_round_trips_from_any_node_and_its_key_is_unique(backend: Backend) -> None:
    s, run = backend.store, backend.run
    version = run(s.config_version())
    full = record()
    bare = record(
        "ASIAQRSTUVWXYZ234567",
        role_arn=None,
        on_behalf_of_user_id=None,
        on_behalf_of_identity_store_arn=None,
        session_policy=None,
    )
    run(s.create_session_credential(full))
    run(s.create_session_credential(bare))
    other = backend.open()
    assert run(other.get_session_credential(full.access_key_id)) == full
    assert run(other.get_session_credential(bare.access_key_id)) == bare
    with pytest.raises(AlreadyExists):
        run(s.create_session_credential(record(principal_arn="arn:aws:iam::123456789012:root")))
    assert run(s.get_session_credential(full.access_key_id)) == full  # nothing written
    assert run(s.get_session_credential("ASIANOSUCHKEY0000000")) is None
    assert run(s.get_session_credential("ASIA\x00")) is None  # a miss, never a storage error
    assert run(s.config_version()) == version  # not part of the configuration: no worker reloads anything


def test_expired_session_credentials_are_purged_an_hour_after_expiry(backend: Backend) -> None:
    s, run = backend.store, backend.run
    live = record("ASIALIVE000000000000", expires_at=10_000.0)
    dead = record("ASIADEAD000000000000", expires_at=5_000.0)
    run(s.create_session_credential(live))
    run(s.create_session_credential(dead))
    run(s.purge_expired(5_000.0 + SESSION_PURGE_GRACE_SECONDS - 1))
    assert run(s.get_session_credential(dead.access_key_id)) == dead  # expired, not yet purged
    run(s.purge_expired(5_000.0 + SESSION_PURGE_GRACE_SECONDS + 1))
    assert run(s.get_session_credential(dead.access_key_id)) is None
    assert run(s.get_session_credential(live.access_key_id)) == live


def test_the_secret_is_sealed_at_rest_and_the_token_is_not_stored(backend: Backend) -> None:
    s, run = backend.store, backend.run
    run(s.create_session_credential(record()))
    if isinstance(s, SqliteStore):
        run(s.close())
        raw = b"".join(p.read_bytes() for p in s.path.parent.iterdir() if p.name.startswith(s.path.name))
        with sqlite3.connect(s.path) as db:
            row = db.execute("SELECT secret_enc, session_token_sha256 FROM session_credentials").fetchone()
        assert SECRET.encode() not in bytes(row[0])
        assert bytes(row[1]) == hashlib.sha256(TOKEN).digest()
    elif isinstance(s, MemoryStore):
        raw = repr(s.data.sessions).encode()
    else:
        assert isinstance(s, PostgresStore)
        pool = run(s._get_pool())
        row = run(pool.fetchrow("SELECT * FROM session_credentials"))
        raw = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row.values())
    assert raw and SECRET.encode() not in raw  # the store is only ever given the token's SHA-256

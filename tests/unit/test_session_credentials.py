"""Session credentials in process (memory store): minted by ``SessionCredentials.mint``, verified by the SigV4
verifier through the skeleton (found by access key id in the store, not in the credential table), answered by
STS GetCallerIdentity; expired ones are ``ExpiredToken``, another key's session token ``InvalidClientTokenId``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ssoidc.aws.sts import caller_identity
from ssoidc.clock import FrozenClock
from ssoidc.compose import Services
from ssoidc.credentials.session import MintedCredentials, OnBehalfOf, SessionCredentials
from ssoidc.ids import unique_id
from ssoidc.settings import Settings
from ssoidc.storage.base import StoredCredential
from ssoidc.storage.memory import MemoryStore
from tests.helpers.inprocess import memory_services
from tests.helpers.sigv4_calls import aws_call
from tests.helpers.storage import KEY

pytestmark = pytest.mark.anyio

ACCOUNT = "123456789012"
ROLE = "AWSReservedSSO_Admin_0123456789abcdef"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/alice"
PS_ARN = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef"


async def node(tmp_path: Path, clock: FrozenClock) -> Services:
    return await memory_services(Settings(data_dir=tmp_path / "node", account_id=ACCOUNT), clock)


async def mint(n: Services, duration: int = 3600) -> MintedCredentials:
    return await n.sessions.mint(principal_arn=SESSION_ARN, source=PS_ARN, duration_seconds=duration)


def creds(m: MintedCredentials, token: str | None = None) -> tuple[str, str, str | None]:
    return (m.access_key_id, m.secret_access_key, m.session_token if token is None else token)


async def test_get_caller_identity_with_session_credentials_names_the_assumed_role(tmp_path: Path) -> None:
    n = await node(tmp_path, FrozenClock(time.time()))
    try:
        m = await mint(n)
        assert m.access_key_id.startswith("ASIA") and len(m.access_key_id) == 20
        assert m.secret_access_key not in repr(m) and m.session_token not in repr(m)
        out = await aws_call(n.aws, "sts", "GetCallerIdentity", creds=creds(m))
        assert out["_status"] == 200, out
        role_id = unique_id("AROA", f"arn:aws:iam::{ACCOUNT}:role/{ROLE}")
        assert (out["Arn"], out["Account"], out["UserId"]) == (SESSION_ARN, ACCOUNT, f"{role_id}:alice")
        assert role_id.startswith("AROA") and len(role_id) == 21 and role_id[4:].isalnum()
        # the session credential is not in the credential table: it was read from the store by key
        assert n.snapshot.credential(m.access_key_id) is None
    finally:
        await n.close()


async def test_long_term_credentials_answer_their_own_identity(tmp_path: Path) -> None:
    n = await node(tmp_path, FrozenClock(time.time()))
    try:
        user = f"arn:aws:iam::{ACCOUNT}:user/ops/bob"
        for akid, arn in (
            ("AKIAUSER000000000001", user),
            ("AKIAROOT000000000001", f"arn:aws:iam::{ACCOUNT}:root"),
        ):
            await n.store.create_credential(StoredCredential(akid, "x" * 40, arn))
        await n.snapshot.refresh()
        out = await aws_call(
            n.aws, "sts", "GetCallerIdentity", creds=("AKIAUSER000000000001", "x" * 40, None)
        )
        assert (out["Arn"], out["Account"], out["UserId"]) == (user, ACCOUNT, unique_id("AIDA", user))
        out = await aws_call(
            n.aws, "sts", "GetCallerIdentity", creds=("AKIAROOT000000000001", "x" * 40, None)
        )
        assert (out["Arn"], out["UserId"]) == (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    finally:
        await n.close()


async def test_a_session_token_of_another_key_or_none_is_refused(tmp_path: Path) -> None:
    n = await node(tmp_path, FrozenClock(time.time()))
    try:
        a, b = await mint(n), await mint(n)
        for signed in (creds(a, b.session_token), (a.access_key_id, a.secret_access_key, None)):
            out = await aws_call(n.aws, "sts", "GetCallerIdentity", creds=signed)
            assert (out["_status"], out["Error"]["Code"]) == (403, "InvalidClientTokenId"), out
        out = await aws_call(n.aws, "sts", "GetCallerIdentity", creds=("ASIANOSUCHKEY0000000", "y" * 40, "t"))
        assert (out["_status"], out["Error"]["Code"]) == (403, "InvalidClientTokenId")
        out = await aws_call(
            n.aws, "sts", "GetCallerIdentity", creds=(a.access_key_id, a.secret_access_key, a.session_token)
        )
        assert out["_status"] == 200  # the right pair still works
        wrong_secret = (a.access_key_id, "z" * 40, a.session_token)
        out = await aws_call(n.aws, "sts", "GetCallerIdentity", creds=wrong_secret)
        assert (out["_status"], out["Error"]["Code"]) == (403, "SignatureDoesNotMatch")
        for body in (out["_body"],):
            assert a.session_token.encode() not in body and a.secret_access_key.encode() not in body
    finally:
        await n.close()


async def test_expired_session_credentials_are_expired_token_in_each_protocol(tmp_path: Path) -> None:
    clock = FrozenClock(
        time.time() - 1000
    )  # minted 1000 s ago, for 900 s; botocore signs with the wall clock
    n = await node(tmp_path, clock)
    try:
        m = await mint(n, duration=900)
        clock.t = time.time()
        out = await aws_call(n.aws, "sts", "GetCallerIdentity", creds=creds(m))
        assert (out["_status"], out["Error"]["Code"]) == (403, "ExpiredToken"), out
        assert out["Error"]["Message"] == "The security token included in the request is expired"
        out = await aws_call(
            n.aws, "sso-admin", "ListInstances", creds=creds(m)
        )  # JSON 1.1: AWS's generic front-end code
        assert (out["_status"], out["Error"]["Code"]) == (403, "ExpiredTokenException"), out
        # a wrong session token for an expired key is still the wrong token, not "expired"
        out = await aws_call(n.aws, "sts", "GetCallerIdentity", creds=creds(m, "not-the-token"))
        assert out["Error"]["Code"] == "InvalidClientTokenId"
    finally:
        await n.close()


async def test_a_session_credential_without_authority_may_not_administer(tmp_path: Path) -> None:
    n = await node(tmp_path, FrozenClock(time.time()))
    try:
        m = await n.sessions.mint(
            principal_arn=SESSION_ARN, source="arn:aws:iam::123456789012:role/unknown", duration_seconds=900
        )
        out = await aws_call(n.aws, "sso-admin", "ListInstances", creds=creds(m))
        assert (out["_status"], out["Error"]["Code"]) == (400, "AccessDeniedException"), out
    finally:
        await n.close()


async def test_the_cache_is_bounded_and_misses_are_read_again() -> None:
    store = MemoryStore(master_key=KEY)
    sessions = SessionCredentials(store, now=lambda: 1000.0, cache_size=2)
    minted = [
        await sessions.mint(
            principal_arn=SESSION_ARN,
            source=PS_ARN,
            duration_seconds=900,
            on_behalf_of=OnBehalfOf("u-1", "arn:aws:identitystore::123456789012:identitystore/d-1234567890"),
        )
        for _ in range(3)
    ]
    other = SessionCredentials(MemoryStore(store.data, master_key=KEY), now=lambda: 1000.0, cache_size=2)
    for m in minted:
        found = await other.find(m.access_key_id)
        assert found is not None and found.expires_at == 1900.0 and found.on_behalf_of_user_id == "u-1"
    assert len(other._cache) == 2
    assert await other.find("ASIANOSUCHKEY0000000") is None
    assert await other.find("AKIANOTASESSIONKEY00") is None
    late = await sessions.mint(principal_arn=SESSION_ARN, source=PS_ARN, duration_seconds=900)
    assert await other.find(late.access_key_id) is not None  # minted by another "worker": found on first use


@pytest.mark.parametrize("seconds", [899, 43201])
async def test_a_duration_outside_what_sts_allows_mints_nothing(seconds: int) -> None:
    store = MemoryStore(master_key=KEY)
    with pytest.raises(ValueError, match="outside"):
        await SessionCredentials(store, now=lambda: 1.0).mint(
            principal_arn=SESSION_ARN, source=PS_ARN, duration_seconds=seconds
        )
    assert store.data.sessions == {}


def test_caller_identity_forms() -> None:
    assert caller_identity(f"arn:aws:sts::{ACCOUNT}:federated-user/carol")["UserId"] == f"{ACCOUNT}:carol"
    role = caller_identity(f"arn:aws:iam::{ACCOUNT}:role/x/y/R")["UserId"]
    session = caller_identity(f"arn:aws:sts::{ACCOUNT}:assumed-role/R/s")["UserId"]
    assert session == f"{role}:s"  # a role's sessions share the role's id, whatever its path


def test_secrets_never_reach_a_repr() -> None:
    """A record or credential logged with %r, or shown in a traceback, never shows the secret."""
    from ssoidc.aws.sigv4 import Credential
    from ssoidc.storage.base import StoredCredential

    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    for obj in (Credential("ASIAX", secret, "arn"), StoredCredential("AKIAX", secret, "arn")):
        assert secret not in repr(obj)

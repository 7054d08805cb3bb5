"""The storage contract of the sts branch, on every backend: IAM roles are catalogue rows (kind ``role``), and
``revoke_token`` revokes one token (RFC 7009 section 2.1) and nothing else."""

from __future__ import annotations

import dataclasses

from ssoidc.model import Role
from tests.helpers.storage import Backend, put_catalogue
from tests.storage.test_contract import configuration, token

ROLE = Role(
    arn="arn:aws:iam::123456789012:role/team/reader",
    role_name="reader",
    role_id="AROAAAAAAAAAAAAAAAAAA",
    trust_policy={
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}]
    },
    path="/team/",
    max_session_duration=7200,
    description="readers",
    policies={"read": {"Statement": [{"Effect": "Allow", "Action": "sso:Describe*", "Resource": "*"}]}},
    created_at=12.5,
)


def test_roles_are_stored_with_the_catalogue(backend: Backend) -> None:
    s, run = backend.store, backend.run
    config = dataclasses.replace(configuration(), roles=(ROLE,))
    run(s.replace_configuration(config))
    loaded, _ = run(s.load_configuration())
    assert loaded is not None and loaded.roles == (ROLE,)
    other = backend.open()  # another node reads the same rows
    catalogue, _ = run(other.load_catalogue())
    assert catalogue is not None and catalogue.roles == (ROLE,)
    run(put_catalogue(s, dataclasses.replace(config, roles=())))
    loaded, _ = run(s.load_configuration())
    assert loaded is not None and loaded.roles == ()
    assert loaded.applications == config.applications  # the other rows stay


def test_revoke_token_revokes_that_token_only(backend: Backend) -> None:
    s, run = backend.store, backend.run
    run(s.replace_configuration(configuration()))
    access, sibling = token("access", family="f1"), token("access", family="f1")
    refresh = token("refresh", family="f1")
    run(s.issue([access, sibling, refresh]))
    assert run(s.revoke_token(access.token_hash, 1500.0)) is True
    found = run(s.find_token(access.token_hash))
    assert found is not None and found.revoked_at == 1500.0
    for other in (sibling, refresh):  # the family lives on
        kept = run(s.find_token(other.token_hash))
        assert kept is not None and kept.revoked_at is None
    assert run(s.revoke_token(access.token_hash, 1600.0)) is False  # the first revocation stands
    again = run(s.find_token(access.token_hash))
    assert again is not None and again.revoked_at == 1500.0
    assert run(s.revoke_token(b"\0" * 32, 1600.0)) is False

"""The permission-set domain (``ssoidc.admin.permission_sets``) in process, on the memory store: values, references,
quotas, the asynchronous requests and what a refusal leaves behind (nothing)."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from ssoidc.admin import permission_sets as ps
from ssoidc.errors import Conflict, ResourceNotFound, ServiceQuotaExceeded, ValidationFailed
from ssoidc.model import (
    ACCESS_CREATE_ASSIGNMENT,
    ACCESS_DELETE_ASSIGNMENT,
    AccountAssignment,
    Configuration,
    CustomerManagedPolicyReference,
    PermissionsBoundary,
    account_info,
)
from ssoidc.storage.memory import MemoryStore
from tests.storage.test_contract import configuration

T = TypeVar("T")
A1 = "111111111111"
POLICY = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'


def run(aw: Awaitable[T]) -> T:
    return asyncio.run(aw)  # type: ignore[arg-type]


@pytest.fixture()
def world() -> tuple[MemoryStore, Configuration]:
    store = MemoryStore(master_key=bytes(32))
    config = configuration()
    asyncio.run(store.replace_configuration(config))
    return store, config


def snapshot(store: MemoryStore) -> Any:
    """Every table of permission sets, assignments, provisioning and requests, copied, and the version."""
    a = store.data.access
    return (
        copy.deepcopy((a.permission_sets, a.assignments, a.provisioning, a.requests)),
        store.data.version(),
    )


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [
        ("PT1H", 3600),
        ("PT12H", 43200),
        ("PT2H30M", 9000),
        ("P0DT4H", 14400),
        ("PT3600S", 3600),
        ("PT1.5H", None),
    ],
)
def test_session_durations_are_iso_8601(duration: str, seconds: int | None) -> None:
    if seconds is None:
        with pytest.raises(ValidationFailed):
            ps.session_seconds(duration)
    else:
        assert ps.session_seconds(duration) == seconds


@pytest.mark.parametrize("duration", ["PT59M", "PT12H1S", "P1D", "-PT1H", "1H", "PT"])
def test_session_durations_outside_one_to_twelve_hours_are_refused(duration: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        ps.check_session_duration(duration)
    assert info.value.field == "SessionDuration"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("not json", "InlinePolicy"),
        ("[1]", "InlinePolicy"),
        ('{"Statement": [], "Statement": []}', "InlinePolicy"),
        (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}',
            "InlinePolicy.",
        ),
        (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*"}]}',
            "InlinePolicy.",
        ),
        ("[" * 3000 + "]" * 3000, "InlinePolicy"),
    ],
)
def test_malformed_inline_policies_are_refused_naming_the_member(text: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        ps.parse_inline_policy(text)
    assert info.value.field.startswith(field)


def test_account_info_is_the_declared_one_or_a_default() -> None:
    config = configuration()
    default = account_info(config, A1)
    assert default.name == A1 and default.email == f"aws+{A1}@example.com"
    declared = dataclasses.replace(config, accounts=(dataclasses.replace(default, name="prod"),))
    assert account_info(declared, A1).name == "prod"


def test_references_are_checked_and_refusals_change_nothing(world: tuple[MemoryStore, Configuration]) -> None:
    store, config = world
    inst = config.instance.instance_arn
    p = run(ps.create_permission_set(store, config, inst, name="Admin", now=1.0))
    run(ps.put_inline_policy(store, config, inst, p.arn, POLICY))
    before = snapshot(store)
    other = "arn:aws:sso:::instance/ssoins-2222222222222222"
    refusals: list[tuple[Callable[[], Awaitable[Any]], type[Exception]]] = [
        (lambda: ps.get_permission_set(store, config, other, p.arn), ResourceNotFound),
        (lambda: ps.create_permission_set(store, config, inst, name="ADMIN", now=1.0), Conflict),
        (
            lambda: ps.create_permission_set(
                store, config, inst, name="x", session_duration="PT13H", now=1.0
            ),
            ValidationFailed,
        ),
        (
            lambda: ps.create_permission_set(store, config, inst, name="x", tags={"aws:x": "1"}, now=1.0),
            ValidationFailed,
        ),
        (lambda: ps.put_inline_policy(store, config, inst, p.arn, "{}"), ValidationFailed),
        (
            lambda: ps.update_permission_set(store, config, inst, p.arn, session_duration="PT30M"),
            ValidationFailed,
        ),
        (
            lambda: ps.put_permissions_boundary(store, config, inst, p.arn, PermissionsBoundary()),
            ValidationFailed,
        ),
        (
            lambda: ps.detach_managed_policy(store, config, inst, p.arn, "arn:aws:iam::aws:policy/X"),
            ResourceNotFound,
        ),
        (
            lambda: ps.detach_customer_managed_policy(
                store, config, inst, p.arn, CustomerManagedPolicyReference("x")
            ),
            ResourceNotFound,
        ),
        (
            lambda: ps.create_account_assignment(
                store, config, inst, AccountAssignment(A1, p.arn, "USER", "ghost"), now=1.0
            ),
            ResourceNotFound,
        ),
        (
            lambda: ps.create_account_assignment(
                store, config, inst, AccountAssignment("1", p.arn, "USER", "u0"), now=1.0
            ),
            ValidationFailed,
        ),
        (
            lambda: ps.delete_account_assignment(
                store, config, inst, AccountAssignment(A1, p.arn, "USER", "u0"), now=1.0
            ),
            ResourceNotFound,
        ),
        (
            lambda: ps.provision(
                store, config, inst, p.arn, target_type="AWS_ACCOUNT", target_id=None, now=1.0
            ),
            ValidationFailed,
        ),
        (
            lambda: ps.provision(
                store, config, inst, p.arn, target_type="ALL_PROVISIONED_ACCOUNTS", target_id=A1, now=1.0
            ),
            ValidationFailed,
        ),
        (lambda: ps.get_request(store, config, inst, ACCESS_CREATE_ASSIGNMENT, "nope"), ResourceNotFound),
    ]
    for call, error in refusals:
        with pytest.raises(error):
            run(call())
        assert snapshot(store) == before


def test_quotas(world: tuple[MemoryStore, Configuration], monkeypatch: pytest.MonkeyPatch) -> None:
    store, config = world
    inst = config.instance.instance_arn
    p = run(ps.create_permission_set(store, config, inst, name="P", now=1.0))
    for i in range(ps.MAX_MANAGED_POLICIES - 1):
        run(ps.attach_managed_policy(store, config, inst, p.arn, f"arn:aws:iam::aws:policy/P{i}"))
    with pytest.raises(Conflict):
        run(ps.attach_managed_policy(store, config, inst, p.arn, "arn:aws:iam::aws:policy/P0"))
    run(ps.attach_customer_managed_policy(store, config, inst, p.arn, CustomerManagedPolicyReference("C")))
    with pytest.raises(Conflict):
        run(
            ps.attach_customer_managed_policy(store, config, inst, p.arn, CustomerManagedPolicyReference("C"))
        )
    with pytest.raises(ServiceQuotaExceeded):
        run(
            ps.attach_customer_managed_policy(store, config, inst, p.arn, CustomerManagedPolicyReference("D"))
        )
    with pytest.raises(ServiceQuotaExceeded):
        run(ps.attach_managed_policy(store, config, inst, p.arn, "arn:aws:iam::aws:policy/Z"))
    monkeypatch.setattr(ps, "MAX_PERMISSION_SETS", 2)
    run(ps.create_permission_set(store, config, inst, name="Q", now=1.0))
    with pytest.raises(ServiceQuotaExceeded):
        run(ps.create_permission_set(store, config, inst, name="R", now=1.0))
    with pytest.raises(ServiceQuotaExceeded):
        run(ps.tag_permission_set(store, config, inst, p.arn, {f"k{i}": "v" for i in range(51)}))


def test_requests_complete_at_once_and_are_kept(world: tuple[MemoryStore, Configuration]) -> None:
    store, config = world
    inst = config.instance.instance_arn
    p = run(ps.create_permission_set(store, config, inst, name="P", now=1.0))
    a = AccountAssignment(A1, p.arn, "GROUP", "g1")
    created = run(ps.create_account_assignment(store, config, inst, a, now=5.0))
    assert (created.status, created.created_at, created.account_id, created.principal_id) == (
        "SUCCEEDED",
        5.0,
        A1,
        "g1",
    )
    assert run(ps.get_request(store, config, inst, ACCESS_CREATE_ASSIGNMENT, created.request_id)) == created
    with pytest.raises(ResourceNotFound):  # a creation id is not a deletion id
        run(ps.get_request(store, config, inst, ACCESS_DELETE_ASSIGNMENT, created.request_id))
    with pytest.raises(Conflict):
        run(ps.delete_permission_set(store, config, inst, p.arn))
    deleted = run(ps.delete_account_assignment(store, config, inst, a, now=6.0))
    assert run(ps.get_request(store, config, inst, ACCESS_DELETE_ASSIGNMENT, deleted.request_id)) == deleted
    run(ps.delete_permission_set(store, config, inst, p.arn))
    with pytest.raises(ResourceNotFound):
        run(ps.delete_permission_set(store, config, inst, p.arn))
    assert run(ps.get_request(store, config, inst, ACCESS_CREATE_ASSIGNMENT, created.request_id)) == created


def test_tags_do_not_outdate_provisioning_and_a_policy_change_does(
    world: tuple[MemoryStore, Configuration],
) -> None:
    store, config = world
    inst = config.instance.instance_arn
    p = run(ps.create_permission_set(store, config, inst, name="P", now=1.0))
    run(
        ps.create_account_assignment(store, config, inst, AccountAssignment(A1, p.arn, "USER", "u0"), now=1.0)
    )
    run(ps.tag_permission_set(store, config, inst, p.arn, {"a": "b"}))
    run(ps.untag_permission_set(store, config, inst, p.arn, ["a"]))
    assert run(store.list_provisioned_accounts(p.arn, outdated=True)) == []
    run(ps.put_inline_policy(store, config, inst, p.arn, POLICY))
    assert run(store.list_provisioned_accounts(p.arn, outdated=True)) == [A1]
    stored = run(ps.get_permission_set(store, config, inst, p.arn))
    assert stored.inline_policy is not None and ps.inline_policy_text(stored.inline_policy).startswith(
        '{"Version"'
    )

"""The permission-set half of the storage contract (``ssoidc.storage.base.AccountAccessStore``), on every backend.

Permission sets, account assignments, provisioning state and the asynchronous request records are per-entity rows
(migration 0013): each write touches what it names and what it cascades to, references and uniqueness are the
store's (``Missing`` / ``AlreadyExists`` / ``InUse``: nothing written), and every write records change-feed entries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from ssoidc.ids import membership_id
from ssoidc.model import (
    ACCESS_CREATE_ASSIGNMENT,
    ACCESS_DELETE_ASSIGNMENT,
    ACCESS_PROVISION,
    AccessRequest,
    AccessRequestKind,
    Account,
    AccountAssignment,
    CustomerManagedPolicyReference,
    Membership,
    PermissionsBoundary,
    PermissionSet,
)
from ssoidc.storage.access_sql import REQUEST_RETENTION_SECONDS
from ssoidc.storage.base import AlreadyExists, InUse, Missing, QuotaReached, Store
from tests.helpers.storage import Backend, put_catalogue
from tests.storage.test_contract import configuration, gather, nodes

INST = "arn:aws:sso:::instance/ssoins-1111111111111111"
A1, A2 = "111111111111", "222222222222"


def ps(n: str, name: str = "", **kw: object) -> PermissionSet:
    return PermissionSet(
        f"arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-{n:0>16}",
        name or f"Set{n}",
        INST,
        **kw,  # type: ignore[arg-type]
    )


FULL = ps(
    "1",
    "Admin",
    description="admins",
    session_duration="PT8H",
    relay_state="https://console.aws.amazon.com/",
    inline_policy={
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    },
    managed_policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess",),
    customer_managed_policies=(CustomerManagedPolicyReference("Mine", "/team/"),),
    permissions_boundary=PermissionsBoundary(
        customer_managed_policy_reference=CustomerManagedPolicyReference("Boundary")
    ),
    created_at=1700000000.5,
    tags={"team": "core"},
)


def req(rid: str, kind: AccessRequestKind = ACCESS_CREATE_ASSIGNMENT, **kw: object) -> AccessRequest:
    return AccessRequest(
        f"00000000-0000-4000-8000-{rid:0>12}",
        kind,
        "SUCCEEDED",
        1700000000.0,
        kw.pop("permission_set_arn", FULL.arn),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def aa(
    account: str, principal_type: str = "USER", principal_id: str = "u0", arn: str = FULL.arn
) -> AccountAssignment:
    return AccountAssignment(account, arn, principal_type, principal_id)  # type: ignore[arg-type]


def setup(backend: Backend) -> Store:
    """Users u0, u1; group g1 with member u0; no permission sets."""
    s = backend.store
    backend.run(s.replace_configuration(configuration()))
    return s


def test_permission_sets_round_trip_and_names_are_unique_case_insensitively(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_permission_set(FULL))
    run(s.create_permission_set(ps("2")))
    assert run(s.get_permission_set(FULL.arn)) == FULL
    assert run(s.get_permission_set(ps("9").arn)) is None
    assert run(s.get_permission_set("arn\x00nul")) is None
    assert run(s.list_permission_sets()) == [FULL, ps("2")]
    assert run(s.list_permission_sets(after=FULL.arn, limit=5)) == [ps("2")]
    version = run(s.config_version())
    with pytest.raises(AlreadyExists) as exc:
        run(s.create_permission_set(ps("3", "ADMIN")))
    assert exc.value.args[0] == "permission_set_name"
    with pytest.raises(AlreadyExists) as exc:
        run(s.create_permission_set(dataclasses.replace(FULL, name="Other")))
    assert exc.value.args[0] == "permission_set"
    with pytest.raises(AlreadyExists):
        run(s.update_permission_set(dataclasses.replace(ps("2"), name="admin")))
    with pytest.raises(Missing):
        run(s.update_permission_set(ps("9")))
    assert run(s.config_version()) == version
    assert run(s.list_permission_sets()) == [FULL, ps("2")]
    changed = dataclasses.replace(FULL, description="changed", tags={})
    run(s.update_permission_set(changed))
    assert run(s.get_permission_set(FULL.arn)) == changed
    changes = run(s.changes_since(version))
    assert changes is not None and [(c.kind, c.key) for c in changes] == [("permission_set", FULL.arn)]


def test_an_assignment_provisions_and_the_last_one_deleted_deprovisions(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_permission_set(FULL))
    run(s.create_permission_set(ps("2")))
    version = run(s.config_version())
    assert run(
        s.create_account_assignment(aa(A1), req("1", account_id=A1, principal_type="USER", principal_id="u0"))
    )
    assert run(s.create_account_assignment(aa(A1, "GROUP", "g1"), req("2")))
    assert run(s.create_account_assignment(aa(A2, arn=ps("2").arn), req("3")))
    assert not run(s.create_account_assignment(aa(A1), req("4")))  # existed: False, the request still stored
    changes = run(s.changes_since(version))
    assert changes is not None
    assert ("account_assignment", f"{A1}|{FULL.arn}|USER|u0") in {(c.kind, c.key) for c in changes}
    assert run(s.list_account_assignments(A1, FULL.arn)) == [aa(A1, "GROUP", "g1"), aa(A1)]
    assert run(s.list_account_assignments(A1, FULL.arn, after="GROUP/g1")) == [aa(A1)]
    assert run(s.list_account_assignments(A2, FULL.arn)) == []
    assert run(s.list_principal_account_assignments("USER", "u0")) == [aa(A1), aa(A2, arn=ps("2").arn)]
    assert run(s.list_principal_account_assignments("USER", "u0", account_id=A2)) == [aa(A2, arn=ps("2").arn)]
    assert run(s.list_provisioned_accounts(FULL.arn)) == [A1]
    assert run(s.list_provisioned_permission_sets(A2)) == [ps("2").arn]
    # u0 directly and through g1 on A1 (distinct), and Set2 on A2; u1 nothing
    assert run(s.account_roles("u0")) == [(A1, FULL.arn), (A2, ps("2").arn)]
    assert run(s.account_roles("u1")) == []
    assert run(s.get_access_request(req("1").request_id)) == req(
        "1", account_id=A1, principal_type="USER", principal_id="u0"
    )
    assert [r.request_id for r in run(s.list_access_requests(ACCESS_CREATE_ASSIGNMENT))] == [
        req(n).request_id for n in "1234"
    ]
    assert run(s.list_access_requests(ACCESS_CREATE_ASSIGNMENT, status="FAILED")) == []
    assert run(s.list_access_requests(ACCESS_CREATE_ASSIGNMENT, after=req("3").request_id, limit=9)) == [
        req("4")
    ]
    # deleting one of two assignments keeps the provisioning; the last one takes it
    assert run(s.delete_account_assignment(aa(A1), req("5", ACCESS_DELETE_ASSIGNMENT)))
    assert run(s.list_provisioned_accounts(FULL.arn)) == [A1]
    assert run(s.account_roles("u0")) == [(A1, FULL.arn), (A2, ps("2").arn)]  # still through g1
    assert run(s.delete_account_assignment(aa(A1, "GROUP", "g1"), req("6", ACCESS_DELETE_ASSIGNMENT)))
    assert run(s.list_provisioned_accounts(FULL.arn)) == []
    version = run(s.config_version())
    assert not run(s.delete_account_assignment(aa(A1), req("7", ACCESS_DELETE_ASSIGNMENT)))
    assert run(s.get_access_request(req("7").request_id)) is None  # nothing written
    assert run(s.config_version()) == version
    assert [r.request_id for r in run(s.list_access_requests(ACCESS_DELETE_ASSIGNMENT))] == [
        req("5").request_id,
        req("6").request_id,
    ]


def test_an_assignment_to_something_gone_is_missing_and_writes_nothing(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_permission_set(FULL))
    version = run(s.config_version())
    for assignment, kind in (
        (aa(A1, arn=ps("9").arn), "permission_set"),
        (aa(A1, "USER", "nobody"), "user"),
        (aa(A1, "GROUP", "nogroup"), "group"),
    ):
        with pytest.raises(Missing) as exc:
            run(s.create_account_assignment(assignment, req("1")))
        assert exc.value.kind == kind
    assert run(s.config_version()) == version
    assert run(s.get_access_request(req("1").request_id)) is None
    assert run(s.list_principal_account_assignments("USER", "nobody")) == []
    assert run(s.list_provisioned_accounts(FULL.arn)) == []


def test_a_permission_set_in_use_is_not_deleted_and_one_only_provisioned_is(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_permission_set(FULL))
    run(s.create_account_assignment(aa(A1), req("1")))
    version = run(s.config_version())
    with pytest.raises(InUse):
        run(s.delete_permission_set(FULL.arn))
    assert run(s.config_version()) == version
    assert run(s.get_permission_set(FULL.arn)) == FULL
    assert run(s.list_account_assignments(A1, FULL.arn)) == [aa(A1)]
    run(s.delete_account_assignment(aa(A1), req("2", ACCESS_DELETE_ASSIGNMENT)))
    run(s.provision_permission_set(req("3", ACCESS_PROVISION, account_id=A2)))
    assert run(s.list_provisioned_accounts(FULL.arn)) == [A2]
    assert run(s.delete_permission_set(FULL.arn))
    assert run(s.get_permission_set(FULL.arn)) is None
    assert run(s.list_provisioned_permission_sets(A2)) == []
    assert not run(s.delete_permission_set(FULL.arn))
    assert run(s.get_access_request(req("3").request_id)) is not None  # records outlive what they name
    with pytest.raises(Missing):
        run(s.provision_permission_set(req("4", ACCESS_PROVISION, account_id=A2)))
    assert run(s.get_access_request(req("4").request_id)) is None


def test_an_update_outdates_provisionings_until_provisioned_again(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_permission_set(FULL))
    run(s.create_account_assignment(aa(A1), req("1")))
    run(s.create_account_assignment(aa(A2), req("2")))
    assert run(s.list_provisioned_accounts(FULL.arn, outdated=True)) == []
    run(s.update_permission_set(dataclasses.replace(FULL, tags={"a": "b"}), outdated=False))
    assert run(s.list_provisioned_accounts(FULL.arn, outdated=True)) == []
    run(s.update_permission_set(dataclasses.replace(FULL, description="new")))
    assert run(s.list_provisioned_accounts(FULL.arn, outdated=True)) == [A1, A2]
    assert run(s.list_provisioned_permission_sets(A1, outdated=False)) == []
    run(s.provision_permission_set(req("3", ACCESS_PROVISION, account_id=A1)))
    assert run(s.list_provisioned_accounts(FULL.arn, outdated=False)) == [A1]
    assert run(s.list_provisioned_accounts(FULL.arn, outdated=True)) == [A2]
    run(s.provision_permission_set(req("4", ACCESS_PROVISION)))  # all provisioned accounts
    assert run(s.list_provisioned_accounts(FULL.arn, outdated=False)) == [A1, A2]
    assert run(s.list_provisioned_accounts(FULL.arn, after=A1)) == [A2]
    assert [r.request_id for r in run(s.list_access_requests(ACCESS_PROVISION))] == [
        req("3").request_id,
        req("4").request_id,
    ]


def test_deleting_a_principal_takes_its_account_assignments(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_permission_set(FULL))
    run(s.create_account_assignment(aa(A1), req("1")))
    run(s.create_account_assignment(aa(A2, "GROUP", "g1"), req("2")))
    run(s.create_account_assignment(aa(A2, "USER", "u1"), req("3")))
    assert run(s.delete_user("u0", now=1.0))
    assert run(s.list_principal_account_assignments("USER", "u0")) == []
    assert run(s.delete_group("g1"))
    assert run(s.list_account_assignments(A2, FULL.arn)) == [aa(A2, "USER", "u1")]
    assert run(s.account_roles("u1")) == [(A2, FULL.arn)]


def test_group_membership_grants_roles(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_permission_set(FULL))
    run(s.create_permission_set(ps("2", "Alpha")))
    run(s.create_account_assignment(aa(A1, "GROUP", "g1"), req("1")))
    run(s.create_account_assignment(aa(A1, "GROUP", "g1", ps("2").arn), req("2")))
    assert run(s.account_roles("u1")) == []
    run(s.create_membership(Membership(membership_id("g1", "u1"), "g1", "u1")))
    # sorted by account, then permission set name: Admin before Alpha
    assert run(s.account_roles("u1")) == [(A1, FULL.arn), (A1, ps("2").arn)]


def test_the_whole_configuration_round_trips_with_permission_sets_and_accounts(backend: Backend) -> None:
    s, run = backend.store, backend.run
    c = dataclasses.replace(
        configuration(),
        accounts=(Account(A1, "Production", "prod@example.com"),),
        permission_sets=(FULL, ps("2")),
        account_assignments=(aa(A1), aa(A2, "GROUP", "g1", ps("2").arn)),
    )
    run(s.replace_configuration(c))
    loaded, _ = run(s.load_configuration())
    assert loaded == c
    assert run(s.list_provisioned_accounts(FULL.arn)) == [A1]
    catalogue, _ = run(s.load_catalogue())
    assert catalogue is not None and catalogue.accounts == c.accounts and catalogue.permission_sets == ()
    run(s.replace_configuration(configuration()))
    loaded, _ = run(s.load_configuration())
    assert loaded is not None and loaded.permission_sets == () and loaded.accounts == ()
    assert run(s.list_provisioned_permission_sets(A1)) == []


def test_concurrent_assignments_of_one_permission_set_all_land(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_permission_set(FULL))
    stores = nodes(backend)
    accounts = [f"{n:012d}" for n in range(1, 13)]
    results = run(
        gather(
            *(
                stores[i % len(stores)].create_account_assignment(aa(acct), req(str(i)))
                for i, acct in enumerate(accounts)
            )
        )
    )
    assert results == [True] * len(accounts)
    assert run(s.list_provisioned_accounts(FULL.arn)) == accounts
    assert run(s.account_roles("u0")) == [(a, FULL.arn) for a in accounts]


def test_an_edit_is_one_transaction_and_a_refused_one_writes_nothing(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_permission_set(FULL))
    run(s.create_account_assignment(aa(A1), req("1")))
    version = run(s.config_version())

    def refuse(p: PermissionSet) -> tuple[PermissionSet, bool]:
        raise ValueError("no")

    with pytest.raises(ValueError):
        run(s.edit_permission_set(FULL.arn, refuse))
    with pytest.raises(Missing):
        run(s.edit_permission_set(ps("9").arn, lambda p: (p, True)))
    assert run(s.config_version()) == version
    assert run(s.get_permission_set(FULL.arn)) == FULL
    stores = nodes(backend)

    def add(arn: str) -> Callable[[PermissionSet], tuple[PermissionSet, bool]]:
        return lambda p: (dataclasses.replace(p, managed_policy_arns=(*p.managed_policy_arns, arn)), True)

    policies = [f"arn:aws:iam::aws:policy/P{i}" for i in range(9)]
    run(
        gather(
            *(stores[i % len(stores)].edit_permission_set(FULL.arn, add(a)) for i, a in enumerate(policies))
        )
    )
    stored = run(s.get_permission_set(FULL.arn))
    assert stored is not None
    assert sorted(stored.managed_policy_arns) == sorted([*FULL.managed_policy_arns, *policies])  # none lost
    assert run(s.list_provisioned_accounts(FULL.arn, outdated=True)) == [A1]


def test_a_deleted_instance_takes_the_permission_sets_and_catalogue_edits_keep_accounts(
    backend: Backend,
) -> None:
    s, run = backend.store, backend.run
    run(
        s.replace_configuration(
            dataclasses.replace(configuration(), accounts=(Account(A1, "Prod", "p@example.com"),))
        )
    )
    run(s.create_permission_set(FULL))
    run(s.create_account_assignment(aa(A1), req("1")))
    catalogue, _ = run(s.load_catalogue())
    assert catalogue is not None and catalogue.accounts == (Account(A1, "Prod", "p@example.com"),)
    run(
        put_catalogue(
            s,
            dataclasses.replace(catalogue, instance=dataclasses.replace(catalogue.instance, name="renamed")),
        )
    )
    assert run(s.get_permission_set(FULL.arn)) == FULL  # a catalogue edit leaves them alone
    catalogue, _ = run(s.load_catalogue())
    assert catalogue is not None and catalogue.accounts == (Account(A1, "Prod", "p@example.com"),)
    gone = dataclasses.replace(
        catalogue, instance=dataclasses.replace(catalogue.instance, status="DELETED"), applications=()
    )
    run(put_catalogue(s, gone, now=1500.0))
    assert run(s.get_permission_set(FULL.arn)) is None
    assert run(s.list_permission_sets()) == []
    assert run(s.list_provisioned_permission_sets(A1)) == []
    assert run(s.account_roles("u0")) == []


def test_request_records_are_purged_after_their_retention(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_permission_set(FULL))
    old = dataclasses.replace(req("1", ACCESS_PROVISION, account_id=A1), created_at=1000.0)
    new = dataclasses.replace(
        req("2", ACCESS_PROVISION, account_id=A1), created_at=1000.0 + REQUEST_RETENTION_SECONDS
    )
    run(s.provision_permission_set(old))
    run(s.provision_permission_set(new))
    run(s.purge_expired(1000.0 + REQUEST_RETENTION_SECONDS + 1))
    assert run(s.get_access_request(old.request_id)) is None
    assert run(s.get_access_request(new.request_id)) == new
    assert run(s.list_provisioned_accounts(FULL.arn)) == [A1]  # the provisioning itself stays


def test_roles_are_ordered_by_code_point_on_every_store(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    names = ["b-x", "B_y", "a.z", "A@w", "_u", "-v"]
    sets = [ps(str(i), n) for i, n in enumerate(names, start=1)]
    for p in sets:
        run(s.create_permission_set(p))
        run(s.create_account_assignment(aa(A1, arn=p.arn), req(p.arn[-4:])))
    expected = [(A1, p.arn) for p in sorted(sets, key=lambda p: p.name.lower())]
    assert run(s.account_roles("u0")) == expected


def test_concurrent_creates_never_pass_the_permission_set_quota(backend: Backend) -> None:
    """CreatePermissionSet's quota (``limit``) is counted in the write's transaction: twelve creates at once, from
    several nodes, with room for five leave exactly five; the others are ``QuotaReached`` and write nothing."""
    s, run = setup(backend), backend.run
    for n in range(3):
        run(s.create_permission_set(ps(f"{n + 100}")))
    stores = nodes(backend)
    sets = [ps(f"{n + 200}") for n in range(12)]

    async def create(i: int) -> str:
        try:
            await stores[i % len(stores)].create_permission_set(sets[i], limit=8)
        except QuotaReached:
            return "quota"
        return "created"

    results = run(gather(*(create(i) for i in range(len(sets)))))
    assert sorted(results) == ["created"] * 5 + ["quota"] * 7, results
    stored = run(s.list_permission_sets(limit=100))
    assert len(stored) == 8
    assert {p.arn for p in stored} - {p.arn for p in sets} == {ps(f"{n + 100}").arn for n in range(3)}
    with pytest.raises(QuotaReached):
        run(s.create_permission_set(ps("300"), limit=8))
    run(
        s.create_permission_set(ps("300"), limit=9)
    )  # room again under a higher limit; no limit counts nothing
    run(s.create_permission_set(ps("301")))

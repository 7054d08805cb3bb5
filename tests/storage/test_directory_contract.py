"""The directory half of the storage contract (``ssoidc.storage.base.DirectoryStore``), on every backend.

Per-entity rows: each write touches the rows it names and what they cascade to, uniqueness and references are the
store's (``AlreadyExists`` / ``Missing``, nothing written), every write records one change-feed entry per entity,
and 30 writers at once through several "nodes" conflict exactly when they touch the same entity or name.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from ssoidc.ids import membership_id
from ssoidc.model import Assignment, Configuration, Email, ExternalId, Group, Membership, User
from ssoidc.storage.base import (
    AlreadyExists,
    CatalogueWrite,
    Change,
    IdempotencyRecord,
    Missing,
    StaleRevision,
    Store,
    VersionConflict,
    external_key,
)
from tests.helpers.storage import Backend, put_catalogue
from tests.storage.test_contract import APP, configuration, gather, nodes, spread, token

RACERS = 30
OTHER_APP = APP.replace("apl-1111111111111111", "apl-2222222222222222")


def user(n: int | str, **kw: object) -> User:
    return User(
        f"{n}",
        kw.pop("user_name", f"name-{n}"),  # type: ignore[arg-type]
        emails=(Email(f"{n}@example.com"),),
        external_ids=(ExternalId("https://Scim.Example", f"ext-{n}"),),
        **kw,  # type: ignore[arg-type]
    )


def setup(backend: Backend) -> Store:
    """A store whose catalogue is ``configuration()`` (one application, ``APP``) and whose directory is empty."""
    s = backend.store
    c = configuration()
    backend.run(s.replace_configuration(dataclasses.replace(c, users=(), groups=(), assignments=())))
    return s


def test_users_round_trip_and_are_found_by_each_lookup_attribute(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    u = user("u1", display_name="One", profile={"NickName": "uno"})
    run(s.create_user(u))
    assert run(s.get_user("u1")) == u
    assert run(s.get_user("nobody")) is None
    assert run(s.find_users("username", "NAME-U1")) == [u]  # case-insensitive, as the identity store compares
    assert run(s.find_users("emails.value", "u1@example.com")) == [u]
    assert run(s.find_users("externalids", "ext-u1")) == [u]
    assert run(s.find_users("externalids.https://scim.example", "ext-u1")) == [u]  # the issuer in lower case
    exact = external_key(ExternalId("https://Scim.Example", "ext-u1"))
    assert run(s.find_users("externalid", exact)) == [u]
    other_case = external_key(ExternalId("https://scim.example", "ext-u1"))
    assert run(s.find_users("externalid", other_case)) == []  # the exact pair only
    assert run(s.find_users("emails.value", "U1@example.com")) == []


def test_user_names_are_unique_case_insensitively_and_a_refused_write_changes_nothing(
    backend: Backend,
) -> None:
    s, run = setup(backend), backend.run
    run(s.create_user(user("u1", user_name="Alice")))
    version = run(s.config_version())
    with pytest.raises(AlreadyExists) as exc:
        run(s.create_user(user("u2", user_name="ALICE")))
    assert exc.value.args[0] == "user_name"
    with pytest.raises(AlreadyExists) as exc:
        run(s.create_user(user("u1", user_name="Bob")))
    assert exc.value.args[0] == "user_id"
    assert run(s.get_user("u2")) is None
    assert run(s.find_users("emails.value", "u2@example.com")) == []  # no attribute row left behind either
    assert run(s.config_version()) == version
    run(s.create_user(user("u2", user_name="Bob")))
    with pytest.raises(AlreadyExists):
        run(s.update_user(user("u2", user_name="alice")))
    with pytest.raises(Missing) as missing:
        run(s.update_user(user("u3")))
    assert (missing.value.kind, missing.value.key) == ("user", "u3")
    assert run(s.get_user("u2")) == user("u2", user_name="Bob")


def test_update_replaces_the_lookup_attributes(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_user(user("u1")))
    new = dataclasses.replace(user("u1"), emails=(Email("new@example.com"),), external_ids=())
    run(s.update_user(new))
    assert run(s.find_users("emails.value", "u1@example.com")) == []
    assert run(s.find_users("externalids", "ext-u1")) == []
    assert run(s.find_users("emails.value", "new@example.com")) == [new]


def test_lists_page_by_id(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    for n in (3, 1, 2, 5, 4):
        run(s.create_user(user(f"u{n}")))
        run(s.create_group(Group(f"g{n}", f"group {n}")))
    first = run(s.list_users(limit=2))
    assert [u.user_id for u in first] == ["u1", "u2"]
    assert [u.user_id for u in run(s.list_users(after="u2", limit=10))] == ["u3", "u4", "u5"]
    assert [g.group_id for g in run(s.list_groups(after="g3", limit=1))] == ["g4"]


def test_groups_round_trip_without_members_and_names_are_unique(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    g = Group("g1", "Admins", "the admins", external_ids=(ExternalId("scim", "x1"),))
    run(s.create_group(g))
    run(s.create_user(user("u1")))
    run(s.create_membership(Membership(membership_id("g1", "u1"), "g1", "u1")))
    assert run(s.get_group("g1")) == g  # members are rows of their own, never loaded with the group
    assert run(s.find_groups("displayname", "Admins")) == [g]
    assert run(s.find_groups("displayname", "admins")) == []  # exact, as the identity store compares them
    assert run(s.find_groups("externalid", external_key(ExternalId("scim", "x1")))) == [g]
    with pytest.raises(AlreadyExists) as exc:
        run(s.create_group(Group("g2", "Admins")))
    assert exc.value.args[0] == "group_name"
    run(s.update_group(dataclasses.replace(g, description="changed")))
    assert run(s.get_group("g1")) == dataclasses.replace(g, description="changed")
    with pytest.raises(Missing):
        run(s.update_group(Group("g9", "nine")))


def test_memberships_need_both_ends_and_are_unique(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_user(user("u1")))
    run(s.create_group(Group("g1", "one")))
    run(s.create_group(Group("g2", "two")))
    m1 = Membership(membership_id("g1", "u1"), "g1", "u1")
    with pytest.raises(Missing) as exc:
        run(s.create_membership(Membership(membership_id("g9", "u1"), "g9", "u1")))
    assert exc.value.kind == "group"
    with pytest.raises(Missing) as exc:
        run(s.create_membership(Membership(membership_id("g1", "u9"), "g1", "u9")))
    assert exc.value.kind == "user"
    run(s.create_membership(m1))
    with pytest.raises(AlreadyExists) as dup:
        run(s.create_membership(m1))
    assert dup.value.args[0] == "membership"
    m2 = Membership(membership_id("g2", "u1"), "g2", "u1")
    run(s.create_membership(m2))
    assert run(s.get_membership(m1.membership_id)) == m1
    assert run(s.find_membership("g1", "u1")) == m1
    assert run(s.find_membership("g1", "u2")) is None
    assert run(s.list_memberships(group_id="g1")) == [m1]
    assert run(s.list_memberships(user_id="u1")) == sorted([m1, m2], key=lambda m: m.membership_id)
    assert run(s.member_groups("u1", ["g2", "g9", "g2"])) == {"g2"}
    assert run(s.delete_membership(m1.membership_id)) is True
    assert run(s.delete_membership(m1.membership_id)) is False
    assert run(s.list_memberships(group_id="g1")) == []


def test_assignments_gate_users_directly_and_through_groups(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_user(user("u1")))
    run(s.create_user(user("u2")))
    run(s.create_group(Group("g1", "one")))
    run(s.create_membership(Membership(membership_id("g1", "u2"), "g1", "u2")))
    direct, via_group = Assignment(APP, "USER", "u1"), Assignment(APP, "GROUP", "g1")
    assert run(s.create_assignment(direct)) is True
    assert run(s.create_assignment(direct)) is False  # exists: nothing written
    assert run(s.create_assignment(via_group)) is True
    assert run(s.is_assigned(APP, "u1")) and run(s.is_assigned(APP, "u2"))
    assert not run(s.is_assigned(OTHER_APP, "u1"))
    for missing, kind in (
        (Assignment(OTHER_APP, "USER", "u1"), "application"),
        (Assignment(APP, "USER", "u9"), "user"),
        (Assignment(APP, "GROUP", "u1"), "group"),  # a user id is not a group
    ):
        with pytest.raises(Missing) as exc:
            run(s.create_assignment(missing))
        assert exc.value.kind == kind
    assert run(s.list_assignments(application_arn=APP)) == [via_group, direct]  # GROUP/... < USER/...
    assert run(s.list_assignments(application_arn=APP, after="GROUP/g1")) == [direct]
    assert run(s.list_assignments(principal=("USER", "u1"))) == [direct]
    assert run(s.has_assignment(direct)) and not run(s.has_assignment(Assignment(APP, "USER", "u2")))
    assert run(s.delete_assignment(direct)) is True
    assert run(s.delete_assignment(direct)) is False
    assert not run(s.is_assigned(APP, "u1"))


def test_deleting_a_user_cascades_and_revokes_only_what_it_was_issued(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    for n in ("u1", "u2"):
        run(s.create_user(user(n)))
        run(s.create_assignment(Assignment(APP, "USER", n)))
    run(s.create_group(Group("g1", "one")))
    run(s.create_membership(Membership(membership_id("g1", "u1"), "g1", "u1")))
    t1, t2 = token(user="u1", issued=1000.0), token(user="u2", issued=1000.0)
    run(s.issue([t1, t2]))
    assert run(s.delete_user("u1", now=1500.0)) is True
    assert run(s.delete_user("u1", now=1500.0)) is False
    assert run(s.get_user("u1")) is None
    assert run(s.find_users("emails.value", "u1@example.com")) == []
    assert run(s.list_memberships(group_id="g1")) == []
    assert run(s.list_assignments(application_arn=APP)) == [Assignment(APP, "USER", "u2")]
    found1, found2 = run(s.find_token(t1.token_hash)), run(s.find_token(t2.token_hash))
    assert found1 is not None and found1.revoked_at == 1500.0
    assert found2 is not None and found2.revoked_at is None


def test_deleting_a_group_takes_its_memberships_and_assignments(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_user(user("u1")))
    run(s.create_group(Group("g1", "one")))
    run(s.create_membership(Membership(membership_id("g1", "u1"), "g1", "u1")))
    run(s.create_assignment(Assignment(APP, "GROUP", "g1")))
    assert run(s.is_assigned(APP, "u1"))
    assert run(s.delete_group("g1")) is True
    assert not run(s.is_assigned(APP, "u1"))
    assert run(s.list_memberships(user_id="u1")) == []
    assert run(s.list_assignments(principal=("GROUP", "g1"))) == []
    assert run(s.get_user("u1")) is not None


def test_catalogue_writes_leave_the_directory_but_take_a_removed_applications_assignments(
    backend: Backend,
) -> None:
    s, run = setup(backend), backend.run
    run(s.create_user(user("u1")))
    run(s.create_assignment(Assignment(APP, "USER", "u1")))
    catalogue, _ = run(s.load_catalogue())
    assert catalogue is not None and catalogue.users == () and catalogue.assignments == ()
    renamed = dataclasses.replace(catalogue, instance=dataclasses.replace(catalogue.instance, name="renamed"))
    run(put_catalogue(s, renamed))
    assert run(s.is_assigned(APP, "u1"))  # an unrelated catalogue write keeps the assignment
    run(put_catalogue(s, dataclasses.replace(renamed, applications=())))
    assert run(s.list_assignments(principal=("USER", "u1"))) == []
    assert run(s.get_user("u1")) == user("u1")
    full, _ = run(s.load_configuration())
    assert full is not None and full.users == (user("u1"),) and full.instance.name == "renamed"


def test_a_deleted_instance_takes_the_directory_and_revokes_its_users(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    run(s.create_user(user("u1")))
    t = token(user="u1", issued=1000.0)
    run(s.issue([t]))
    catalogue, _ = run(s.load_catalogue())
    assert catalogue is not None
    gone = dataclasses.replace(
        catalogue, instance=dataclasses.replace(catalogue.instance, status="DELETED"), applications=()
    )
    run(put_catalogue(s, gone, now=1500.0))
    assert run(s.list_users()) == []
    found = run(s.find_token(t.token_hash))
    assert found is not None and found.revoked_at == 1500.0


def test_the_whole_configuration_round_trips_through_the_directory_tables(backend: Backend) -> None:
    s, run = backend.store, backend.run
    c = configuration(users=3)
    run(s.replace_configuration(c))
    assert run(s.load_configuration())[0] == c  # order kept: users, groups' members, assignments as written
    assert run(s.get_user("u1")) == c.users[1]
    assert run(s.is_assigned(APP, "u0"))
    run(s.create_user(user("u9")))
    c2, _ = run(s.load_configuration())
    assert c2 is not None and c2.users[-1] == user("u9")  # a new user comes last
    run(s.replace_configuration(c))
    assert run(s.get_user("u9")) is None  # a whole replacement (ssoidc apply) is declarative


def test_every_write_records_what_it_changed(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    start = run(s.config_version())
    run(s.create_user(user("u1")))
    run(s.create_group(Group("g1", "one")))
    run(s.create_membership(Membership(membership_id("g1", "u1"), "g1", "u1")))
    run(s.create_assignment(Assignment(APP, "USER", "u1")))
    run(s.delete_user("u1", now=1.0))
    catalogue, _ = run(s.load_catalogue())
    assert catalogue is not None
    run(put_catalogue(s, catalogue))
    changes = run(s.changes_since(start))
    assert changes == [
        Change(start + 1, "user", "u1"),
        Change(start + 2, "group", "g1"),
        Change(start + 3, "membership", "g1|u1"),
        Change(start + 4, "assignment", f"{APP}|USER|u1"),
        Change(start + 5, "user", "u1"),
        Change(start + 6, "catalogue", ""),
    ]
    assert run(s.changes_since(start + 6)) == []
    assert run(s.changes_since(start, limit=3)) is None  # more than the reader takes: it reloads instead
    assert run(backend.open().changes_since(start + 5)) == [Change(start + 6, "catalogue", "")]


def test_purge_keeps_the_last_versions_of_the_feed(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    s, run = setup(backend), backend.run
    for module in ("memory", "sqlite", "postgres"):
        monkeypatch.setattr(f"ssoidc.storage.{module}.CHANGE_RETENTION", 2)
    start = run(s.config_version())
    for i in range(4):
        run(s.create_user(user(f"p{i}")))
    run(s.purge_expired(0.0))
    assert run(s.changes_since(start + 2)) == [
        Change(start + 3, "user", "p2"),
        Change(start + 4, "user", "p3"),
    ]
    assert run(s.changes_since(start)) is None  # purged: a reader this far behind reloads everything
    assert run(s.changes_since(start + 1)) is None


# -- races ----------------------------------------------------------------------------------------------------
def test_independent_creates_through_many_nodes_never_conflict(backend: Backend) -> None:
    setup(backend)
    stores = nodes(backend)
    outcomes = backend.run(
        gather(*[s.create_user(user(f"r{i}")) for i, s in enumerate(spread(stores, RACERS))])
    )
    assert all(isinstance(o, int) for o in outcomes), outcomes  # each its first revision, all different
    assert len(set(outcomes)) == RACERS
    outcomes = backend.run(
        gather(
            *[
                s.create_membership(Membership(membership_id("g-race", f"r{i}"), "g-race", f"r{i}"))
                for i, s in enumerate(spread(stores, RACERS))
            ]
        )
    )
    assert Counter(type(o).__name__ for o in outcomes) == {"Missing": RACERS}  # no group yet: all refused
    backend.run(backend.store.create_group(Group("g-race", "race")))
    outcomes = backend.run(
        gather(
            *[
                s.create_membership(Membership(membership_id("g-race", f"r{i}"), "g-race", f"r{i}"))
                for i, s in enumerate(spread(stores, RACERS))
            ]
        )
    )
    assert outcomes == [None] * RACERS
    assert len(backend.run(backend.store.list_users(limit=1000))) == RACERS
    assert len(backend.run(backend.store.list_memberships(group_id="g-race", limit=1000))) == RACERS


def test_conflicting_creates_through_many_nodes_have_exactly_one_winner(backend: Backend) -> None:
    setup(backend)
    stores = nodes(backend)
    outcomes = backend.run(
        gather(
            *[s.create_user(user(f"c{i}", user_name="Same")) for i, s in enumerate(spread(stores, RACERS))]
        )
    )
    won = [i for i, o in enumerate(outcomes) if isinstance(o, int)]
    assert len(won) == 1, outcomes
    assert all(
        isinstance(o, AlreadyExists) and o.args[0] == "user_name" for o in outcomes if not isinstance(o, int)
    )
    winners = backend.run(backend.store.find_users("username", "same", limit=10))
    assert len(winners) == 1 and winners[0].user_id == f"c{won[0]}"
    assert winners[0].revision == outcomes[won[0]]
    backend.run(backend.store.create_user(user("a1")))
    outcomes = backend.run(
        gather(*[s.create_assignment(Assignment(APP, "USER", "a1")) for s in spread(stores, RACERS)])
    )
    assert outcomes.count(True) == 1 and outcomes.count(False) == RACERS - 1, outcomes


def test_a_membership_racing_its_users_deletion_never_outlives_the_user(backend: Backend) -> None:
    setup(backend)
    stores = nodes(backend)
    s, run = backend.store, backend.run
    run(s.create_group(Group("g1", "one")))
    for i in range(RACERS):
        run(s.create_user(user(f"d{i}")))
    calls: list[Coroutine[Any, Any, object]] = []
    for i, node in enumerate(spread(stores, RACERS)):
        calls.append(node.create_membership(Membership(membership_id("g1", f"d{i}"), "g1", f"d{i}")))
        calls.append(node.delete_user(f"d{i}", now=1.0))
    outcomes = run(gather(*calls))
    assert all(o is None or o is True or isinstance(o, Missing) for o in outcomes), outcomes
    assert run(s.list_memberships(group_id="g1", limit=1000)) == []
    assert run(s.list_users(limit=1000)) == []


def test_lookups_of_a_value_no_store_can_hold_find_nothing(backend: Backend) -> None:
    """PostgreSQL text cannot hold NUL: a lookup with one matches nothing (and is never a storage error)."""
    s, run = setup(backend), backend.run
    run(s.create_user(user("u1")))
    assert run(s.find_users("username", "name-u1\x00")) == []
    assert run(s.find_users("emails.value", "\x00")) == []
    assert run(s.get_user("u1\x00")) is None
    assert run(s.get_group("\x00")) is None
    assert run(s.find_groups("displayname", "a\x00")) == []
    assert run(s.get_membership("\x00")) is None
    assert run(s.find_membership("g\x00", "u1")) is None


# -- the catalogue: edits in the store's transaction ----------------------------------------------------------
def _add_application(n: int) -> Callable[[Configuration | None], CatalogueWrite]:
    def change(stored: Configuration | None) -> CatalogueWrite:
        assert stored is not None
        app = dataclasses.replace(stored.applications[0], arn=f"{APP[:-16]}{n:016d}", name=f"app-{n}")
        return CatalogueWrite(dataclasses.replace(stored, applications=(*stored.applications, app)))

    return change


def test_concurrent_catalogue_edits_through_many_nodes_all_land(backend: Backend) -> None:
    setup(backend)
    stores = nodes(backend)
    outcomes = backend.run(
        gather(*[s.edit_catalogue(_add_application(i)) for i, s in enumerate(spread(stores, RACERS))])
    )
    assert all(isinstance(o, int) for o in outcomes), outcomes  # no conflict, no retry: they queued
    catalogue, version = backend.run(backend.store.load_catalogue())
    assert catalogue is not None and len(catalogue.applications) == RACERS + 1
    assert version == max(outcomes)


def _remove_application(arn: str) -> Callable[[Configuration | None], CatalogueWrite]:
    def change(stored: Configuration | None) -> CatalogueWrite:
        assert stored is not None
        apps = tuple(a for a in stored.applications if a.arn != arn)
        return CatalogueWrite(dataclasses.replace(stored, applications=apps))

    return change


def test_catalogue_edits_racing_directory_writes_on_their_rows_all_finish_in_version_order(
    backend: Backend,
) -> None:
    """Directory writes take their version at commit (PostgreSQL migration 0009), catalogue edits first; an edit
    deleting the application that concurrent assignments name must neither deadlock with them nor leave a gap or
    a disorder in the change feed."""
    s, run = setup(backend), backend.run
    stores = nodes(backend)
    apps = [f"{APP[:-16]}{n:016d}" for n in range(1, 6)]
    for n in range(1, 6):
        run(s.edit_catalogue(_add_application(n)))
    for i in range(RACERS):
        run(s.create_user(user(f"x{i}")))
    start = run(s.config_version())
    calls: list[Coroutine[Any, Any, object]] = []
    for i, node in enumerate(spread(stores, RACERS)):
        calls.append(node.create_assignment(Assignment(apps[i % len(apps)], "USER", f"x{i}")))
        calls.append(node.create_user(user(f"y{i}")))
        if i % 6 == 0:
            calls.append(node.edit_catalogue(_remove_application(apps[(i // 6) % len(apps)])))
    outcomes = run(gather(*calls))
    unexpected = [o for o in outcomes if not (o is None or isinstance(o, bool | int | Missing))]
    assert unexpected == []
    changes = run(s.changes_since(start, limit=10_000))
    assert changes is not None
    versions = sorted({c.version for c in changes})
    # every version from the start to the current one changed something: no gap, nothing lost
    assert versions == list(range(start + 1, run(s.config_version()) + 1))
    written = sum(o is None or o is True or isinstance(o, int) for o in outcomes)
    assert len(versions) == written
    catalogue, _ = run(s.load_catalogue())
    assert catalogue is not None
    left = {a.arn for a in catalogue.applications}
    assert all(run(s.list_assignments(application_arn=a, limit=1000)) == [] for a in apps if a not in left)


def test_a_catalogue_edit_that_raises_or_reuses_an_idempotency_key_writes_nothing(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    before = run(s.load_configuration())

    def boom(stored: Configuration | None) -> CatalogueWrite:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        run(s.edit_catalogue(boom))
    record = IdempotencyRecord("op/caller/token", b"\x01" * 32, "{}", 1.0)

    def with_record(n: int) -> Callable[[Configuration | None], CatalogueWrite]:
        def change(stored: Configuration | None) -> CatalogueWrite:
            return dataclasses.replace(_add_application(n)(stored), idempotency=record)

        return change

    run(s.edit_catalogue(with_record(1)))
    middle = run(s.load_configuration())
    with pytest.raises(VersionConflict):
        run(s.edit_catalogue(with_record(2)))
    assert run(s.load_configuration()) == middle != before


# -- revisions (identitystore Revision, migration 0014) ---------------------------------------------------------
def test_every_read_returns_the_revision_the_last_write_gave(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    first = run(s.create_user(user("u1")))
    assert isinstance(first, int) and first > 0
    for found in (
        run(s.get_user("u1")),
        *run(s.find_users("username", "name-u1")),
        *run(s.find_users("emails.value", "u1@example.com")),
        *run(s.list_users()),
    ):
        assert found is not None and found.revision == first
    second = run(s.update_user(user("u1", display_name="changed")))
    assert second != first
    got = run(s.get_user("u1"))
    assert got is not None and got.revision == second and got.display_name == "changed"
    g1 = run(s.create_group(Group("g1", "one")))
    assert g1 not in (first, second)  # one counter for every row
    g2 = run(s.update_group(Group("g1", "one", "described")))
    for found_g in (run(s.get_group("g1")), *run(s.find_groups("displayname", "one")), *run(s.list_groups())):
        assert found_g is not None and found_g.revision == g2


def test_a_stale_revision_refuses_the_update_and_changes_nothing(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    first = run(s.create_user(user("u1", display_name="before")))
    second = run(s.update_user(user("u1", display_name="second"), expected_revision=first))
    version = run(s.config_version())
    with pytest.raises(StaleRevision):
        run(s.update_user(user("u1", display_name="lost", user_name="renamed"), expected_revision=first))
    got = run(s.get_user("u1"))
    assert got is not None and got.display_name == "second" and got.revision == second
    assert run(s.find_users("username", "renamed")) == []  # the lookup rows are untouched too
    assert run(s.config_version()) == version and run(s.changes_since(version)) == []
    with pytest.raises(Missing):
        run(s.update_user(user("nobody"), expected_revision=second))
    third = run(s.update_user(user("u1", display_name="third"), expected_revision=second))
    assert third not in (first, second)
    # groups alike
    g1 = run(s.create_group(Group("g1", "one")))
    g2 = run(s.update_group(Group("g1", "one", "two"), expected_revision=g1))
    with pytest.raises(StaleRevision):
        run(s.update_group(Group("g1", "renamed", "lost"), expected_revision=g1))
    got_g = run(s.get_group("g1"))
    assert got_g is not None and (got_g.display_name, got_g.description, got_g.revision) == ("one", "two", g2)
    with pytest.raises(Missing):
        run(s.update_group(Group("g9", "nine"), expected_revision=g2))


def test_a_stale_revision_refuses_the_delete_and_changes_nothing(backend: Backend) -> None:
    s, run = setup(backend), backend.run
    first = run(s.create_user(user("u1")))
    second = run(s.update_user(user("u1", display_name="x")))
    g = run(s.create_group(Group("g1", "one")))
    run(s.create_membership(Membership(membership_id("g1", "u1"), "g1", "u1")))
    run(s.create_assignment(Assignment(APP, "USER", "u1")))
    version = run(s.config_version())
    with pytest.raises(StaleRevision):
        run(s.delete_user("u1", now=5.0, expected_revision=first))
    with pytest.raises(StaleRevision):
        run(s.delete_group("g1", expected_revision=g + 1000))
    assert run(s.config_version()) == version
    assert run(s.get_user("u1")) is not None and run(s.get_group("g1")) is not None
    assert run(s.find_membership("g1", "u1")) is not None  # no cascade ran
    assert run(s.has_assignment(Assignment(APP, "USER", "u1")))
    assert run(s.delete_user("nobody", now=5.0, expected_revision=second)) is False
    assert run(s.delete_group("nobody", expected_revision=g)) is False
    assert run(s.delete_group("g1", expected_revision=g)) is True
    assert run(s.delete_user("u1", now=5.0, expected_revision=second)) is True
    assert run(s.get_user("u1")) is None and run(s.get_group("g1")) is None


def test_a_rewritten_directory_never_repeats_a_revision(backend: Backend) -> None:
    """``ssoidc apply`` (replace_configuration) rewrites every row: each gets a new revision, so a revision read
    before cannot make a later conditional write succeed."""
    s, run = setup(backend), backend.run
    before = run(s.create_user(user("u1")))
    group_before = run(s.create_group(Group("g1", "one")))
    c = configuration()
    run(
        s.replace_configuration(
            dataclasses.replace(c, users=(user("u1"),), groups=(Group("g1", "one"),), assignments=())
        )
    )
    got, got_g = run(s.get_user("u1")), run(s.get_group("g1"))
    assert got is not None and got_g is not None
    assert got.revision not in (before, group_before) and got_g.revision not in (before, group_before)
    assert got.revision != got_g.revision
    with pytest.raises(StaleRevision):
        run(s.update_user(user("u1", display_name="stale"), expected_revision=before))
    with pytest.raises(StaleRevision):
        run(s.delete_group("g1", expected_revision=group_before))


def test_conditional_updates_racing_through_many_nodes_have_exactly_one_winner(backend: Backend) -> None:
    setup(backend)
    stores = nodes(backend)
    first = backend.run(backend.store.create_user(user("u1")))
    outcomes = backend.run(
        gather(
            *[
                s.update_user(user("u1", display_name=f"writer {i}"), expected_revision=first)
                for i, s in enumerate(spread(stores, RACERS))
            ]
        )
    )
    won = [i for i, o in enumerate(outcomes) if isinstance(o, int)]
    assert len(won) == 1, outcomes
    assert all(isinstance(o, StaleRevision) for o in outcomes if not isinstance(o, int)), outcomes
    got = backend.run(backend.store.get_user("u1"))
    assert got is not None and got.display_name == f"writer {won[0]}" and got.revision == outcomes[won[0]]

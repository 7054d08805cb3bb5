"""The identity store's users, groups and group memberships: one store write per entity.

Serves identitystore CreateUser, UpdateUser, DeleteUser, CreateGroup, UpdateGroup, DeleteGroup,
CreateGroupMembership and DeleteGroupMembership, and the lookups behind DescribeUser, DescribeGroup,
DescribeGroupMembership, GetUserId, GetGroupId, GetGroupMembershipId, List* and IsMemberInGroups
(``ssoidc.aws.identitystore`` maps the wire shapes). Every function reads or writes the rows it names through
``ssoidc.storage.base.DirectoryStore``: its cost does not depend on how many users the directory holds, and two
writes to different entities never conflict.

* Ids: users and groups get ``new_directory_id()`` (``<10 hex>-<uuid4>``, the identity store's ResourceId
  pattern). A membership's id is derived from the pair (``ssoidc.ids.membership_id``), so it survives
  ``ssoidc export`` / ``ssoidc apply`` round trips.
* Uniqueness, enforced by the store in the write's own transaction: ``UserName`` is unique case-insensitively,
  a group's ``DisplayName`` exactly; a duplicate is ``Conflict`` with reason UNIQUENESS_CONSTRAINT_VIOLATION and a
  message that does not repeat the (sensitive) name. ``Administrator`` and ``AWSAdministrators`` are reserved,
  and a user's extensions are checked (``ssoidc.admin.rules``).
* References: a membership needs its group and its user; a write that finds either gone is ``ResourceNotFound``,
  also when the other end is deleted concurrently (the store's foreign keys decide).
* Revisions (identitystore ``Revision``): every user and group has one (``User.revision``), new at each write of
  it. A write given a revision (``expected``) happens only if the stored one is still that, else ``Conflict``
  with reason CONCURRENT_MODIFICATION and nothing written. UpdateUser/UpdateGroup read, apply their operations
  and write back conditionally on the revision they read, also without a given revision, so a concurrent write
  in between is never overwritten: it is the same CONCURRENT_MODIFICATION (retry), not a lost update. A revision
  is compared as the opaque string the store gave (``"01"`` is not ``"1"``). Memberships have no revision and do
  not change their group's.
* Cascades: deleting a user removes it from every group, removes its application and account assignments and
  revokes every token issued to it, in the same transaction. Deleting a group removes its memberships and its
  application and account assignments; members' tokens are not revoked: a member who thereby loses access to an application fails the
  assignment check at the next refresh or exchange, and already issued access tokens live until they expire.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ssoidc.admin.rules import check_extensions, check_name
from ssoidc.errors import Conflict, ResourceNotFound, ValidationFailed
from ssoidc.ids import membership_id, new_directory_id
from ssoidc.model import Configuration, ExternalId, Group, Instance, Membership, User
from ssoidc.storage.base import AlreadyExists, DirectoryStore, Missing, StaleRevision, external_key

MAX_REVISION = 2**63 - 1
"""The largest revision a store can hold (a signed 64-bit column)."""

MAX_MATCHES = 2
"""Lookups by attribute read at most this many matches: callers need to know only "none, one or several"."""


# -- revisions ----------------------------------------------------------------------------------------------------
def expected_revision(given: str | None) -> int | None:
    """The revision a write is conditional on: None without one; a given string that no store ever hands out (not
    the canonical decimal of a revision, e.g. ``"01"``, or too large) is -1, which no row has."""
    if given is None:
        return None
    if given.isascii() and given.isdigit() and given == str(int(given)) and 0 < int(given) <= MAX_REVISION:
        return int(given)
    return -1


def _stale(kind: str, resource_id: str) -> Conflict:
    return Conflict(
        f"The {kind} {resource_id} was modified concurrently: its current revision is not the expected one",
        "CONCURRENT_MODIFICATION",
    )


# -- lookups ------------------------------------------------------------------------------------------------------
def identity_store(config: Configuration, identity_store_id: str) -> Instance:
    """The instance whose (ACTIVE) identity store is ``identity_store_id`` (its id, or its ARN)."""
    inst = config.instance
    if inst.status != "ACTIVE" or identity_store_id not in (inst.identity_store_id, inst.identity_store_arn):
        raise ResourceNotFound(
            f"Identity store {identity_store_id} does not exist", "IDENTITY_STORE", identity_store_id
        )
    return inst


def _no_user(user_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"User {user_id} does not exist", "USER", user_id)


def _no_group(group_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"Group {group_id} does not exist", "GROUP", group_id)


async def get_user(store: DirectoryStore, user_id: str) -> User:
    user = await store.get_user(user_id)
    if user is None:
        raise _no_user(user_id)
    return user


async def get_group(store: DirectoryStore, group_id: str) -> Group:
    """The group, without its members (``list_memberships`` pages through them)."""
    group = await store.get_group(group_id)
    if group is None:
        raise _no_group(group_id)
    return group


async def get_membership(store: DirectoryStore, mid: str) -> Membership:
    m = await store.get_membership(mid.lower())
    if m is None:
        raise ResourceNotFound(f"Group membership {mid} does not exist", "GROUP_MEMBERSHIP", mid)
    return m


async def find_membership(store: DirectoryStore, group_id: str, user_id: str) -> Membership:
    await get_group(store, group_id)
    m = await store.find_membership(group_id, user_id)
    if m is None:
        raise ResourceNotFound(
            f"User {user_id} is not a member of group {group_id}",
            "GROUP_MEMBERSHIP",
            membership_id(group_id, user_id),
        )
    return m


async def users_named(store: DirectoryStore, user_name: str) -> list[User]:
    """Users whose UserName equals ``user_name`` case-insensitively (at most one: names are unique)."""
    return await store.find_users("username", user_name, limit=MAX_MATCHES)


async def users_with_email(store: DirectoryStore, email: str) -> list[User]:
    return await store.find_users("emails.value", email, limit=MAX_MATCHES)


async def users_with_external_id(store: DirectoryStore, external_id: ExternalId) -> list[User]:
    return await store.find_users("externalid", external_key(external_id), limit=MAX_MATCHES)


async def groups_named(store: DirectoryStore, display_name: str) -> list[Group]:
    return await store.find_groups("displayname", display_name, limit=MAX_MATCHES)


async def groups_with_external_id(store: DirectoryStore, external_id: ExternalId) -> list[Group]:
    return await store.find_groups("externalid", external_key(external_id), limit=MAX_MATCHES)


def only(found: Iterable[User | Group], resource_type: str) -> str:
    """The id of the single user or group found, else ``ResourceNotFound`` (none) or ``ValidationFailed`` (many)."""
    ids = [x.user_id if isinstance(x, User) else x.group_id for x in found]
    if not ids:
        what = "user" if resource_type == "USER" else "group"
        raise ResourceNotFound(f"No {what} matches the given identifier", resource_type)
    if len(ids) > 1:
        raise ValidationFailed(
            "More than one resource matches the given attribute; it does not identify a single resource",
            "AlternateIdentifier",
        )
    return ids[0]


# -- the rules of one entity (``rules.check`` holds the same for a whole file) -----------------------------------
def check_user(user: User) -> None:
    check_name(user.user_name, "UserName")
    if "Extensions" in user.profile:
        check_extensions(user.profile["Extensions"])


def check_group(group: Group) -> None:
    check_name(group.display_name, "DisplayName")


def _duplicate(exc: AlreadyExists) -> Conflict:
    what = {"user_name": "UserName", "group_name": "GroupDisplayName"}.get(str(exc.args[0]), "identifier")
    return Conflict(f"Duplicate {what}", "UNIQUENESS_CONSTRAINT_VIOLATION")


# -- users --------------------------------------------------------------------------------------------------------
async def create_user(store: DirectoryStore, user: User) -> User:
    """Add ``user`` under a new id (``user.user_id`` is ignored); returned with its first revision."""
    new = replace(user, user_id=new_directory_id())
    check_user(new)
    try:
        revision = await store.create_user(new)
    except AlreadyExists as exc:
        raise _duplicate(exc) from None
    return replace(new, revision=revision)


def check_revision(current: User | Group, given: str | None) -> None:
    """``Conflict`` (CONCURRENT_MODIFICATION) if a revision is given and ``current`` is not at it."""
    if given is not None and str(current.revision) != given:
        if isinstance(current, User):
            raise _stale("user", current.user_id)
        raise _stale("group", current.group_id)


async def replace_user(store: DirectoryStore, user: User, *, read: User) -> User:
    """Replace the stored user ``read`` (as read, at its revision) with ``user`` (UpdateUser): written only if
    the row is still at ``read.revision``. Returned with its new revision."""
    check_user(user)
    try:
        revision = await store.update_user(user, expected_revision=read.revision)
    except AlreadyExists as exc:
        raise _duplicate(exc) from None
    except Missing:
        raise _no_user(user.user_id) from None
    except StaleRevision:
        raise _stale("user", user.user_id) from None
    return replace(user, revision=revision)


async def delete_user(
    store: DirectoryStore, user_id: str, *, now: float, revision: str | None = None
) -> None:
    """DeleteUser; with ``revision``, only if the user is still at it."""
    try:
        deleted = await store.delete_user(user_id, now=now, expected_revision=expected_revision(revision))
    except StaleRevision:
        raise _stale("user", user_id) from None
    if not deleted:
        raise _no_user(user_id)


# -- groups -------------------------------------------------------------------------------------------------------
async def create_group(store: DirectoryStore, *, display_name: str, description: str) -> Group:
    group = Group(group_id=new_directory_id(), display_name=display_name, description=description)
    check_group(group)
    try:
        revision = await store.create_group(group)
    except AlreadyExists as exc:
        raise _duplicate(exc) from None
    return replace(group, revision=revision)


async def replace_group(store: DirectoryStore, group: Group, *, read: Group) -> Group:
    """Replace the stored group ``read`` (as read, at its revision) with ``group`` (UpdateGroup), as
    ``replace_user`` does."""
    check_group(group)
    try:
        revision = await store.update_group(group, expected_revision=read.revision)
    except AlreadyExists as exc:
        raise _duplicate(exc) from None
    except Missing:
        raise _no_group(group.group_id) from None
    except StaleRevision:
        raise _stale("group", group.group_id) from None
    return replace(group, revision=revision)


async def delete_group(store: DirectoryStore, group_id: str, *, revision: str | None = None) -> None:
    """DeleteGroup; with ``revision``, only if the group is still at it."""
    try:
        deleted = await store.delete_group(group_id, expected_revision=expected_revision(revision))
    except StaleRevision:
        raise _stale("group", group_id) from None
    if not deleted:
        raise _no_group(group_id)


# -- memberships --------------------------------------------------------------------------------------------------
async def create_membership(store: DirectoryStore, group_id: str, user_id: str) -> Membership:
    m = Membership(membership_id(group_id, user_id), group_id, user_id)
    try:
        await store.create_membership(m)
    except Missing as exc:
        raise (_no_group(group_id) if exc.kind == "group" else _no_user(user_id)) from None
    except AlreadyExists:
        raise Conflict(
            "Member and Group relationship already exists", "UNIQUENESS_CONSTRAINT_VIOLATION"
        ) from None
    return m


async def delete_membership(store: DirectoryStore, mid: str) -> None:
    m = await get_membership(store, mid)
    if not await store.delete_membership(m.membership_id):
        raise ResourceNotFound(f"Group membership {mid} does not exist", "GROUP_MEMBERSHIP", mid)

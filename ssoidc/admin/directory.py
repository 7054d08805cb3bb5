"""The identity store's users, groups and group memberships: pure functions ``Configuration -> Edit``.

Serves identitystore CreateUser, UpdateUser, DeleteUser, CreateGroup, UpdateGroup, DeleteGroup,
CreateGroupMembership and DeleteGroupMembership, and the lookups behind DescribeUser, DescribeGroup,
DescribeGroupMembership, GetUserId, GetGroupId, GetGroupMembershipId, List* and IsMemberInGroups
(``ssoidc.aws.identitystore`` maps the wire shapes).

* Ids: users and groups get ``new_directory_id()`` (``<10 hex>-<uuid4>``, the identity store's ResourceId
  pattern). A membership has no stored id: ``membership_id(group, user)`` derives a uuid5 from the pair, so it
  survives ``ssoidc export`` / ``ssoidc apply`` round trips without being stored.
* Uniqueness: ``UserName`` is unique case-insensitively, a group's ``DisplayName`` exactly (as
  ``ssoidc.admin.rules`` enforces); a duplicate is ``Conflict`` with reason UNIQUENESS_CONSTRAINT_VIOLATION and a
  message that does not repeat the (sensitive) name. ``Administrator`` and ``AWSAdministrators`` are reserved
  (``rules.check``, as is the shape of a user's extensions).
* Cascades: deleting a user removes it from every group, removes its application assignments and revokes every
  token issued to it (``revoke=["user:<id>"]``). Deleting a group removes its memberships and its application
  assignments; members' tokens are not revoked: a member who thereby loses access to an application fails the
  assignment check at the next refresh or exchange, and already issued access tokens live until they expire.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ssoidc.admin.editor import Edit
from ssoidc.errors import Conflict, ResourceNotFound, ValidationFailed
from ssoidc.ids import membership_id, new_directory_id
from ssoidc.model import Configuration, ExternalId, Group, Instance, Membership, User


# -- lookups ------------------------------------------------------------------------------------------------------
def identity_store(config: Configuration, identity_store_id: str) -> Instance:
    """The instance whose (ACTIVE) identity store is ``identity_store_id``."""
    inst = config.instance
    if inst.status != "ACTIVE" or inst.identity_store_id != identity_store_id:
        raise ResourceNotFound(
            f"Identity store {identity_store_id} does not exist", "IDENTITY_STORE", identity_store_id
        )
    return inst


def get_user(config: Configuration, user_id: str) -> User:
    for u in config.users:
        if u.user_id == user_id:
            return u
    raise ResourceNotFound(f"User {user_id} does not exist", "USER", user_id)


def get_group(config: Configuration, group_id: str) -> Group:
    for g in config.groups:
        if g.group_id == group_id:
            return g
    raise ResourceNotFound(f"Group {group_id} does not exist", "GROUP", group_id)


def memberships(config: Configuration) -> list[Membership]:
    return [
        Membership(membership_id(g.group_id, uid), g.group_id, uid)
        for g in config.groups
        for uid in g.member_user_ids
    ]


def get_membership(config: Configuration, mid: str) -> Membership:
    for m in memberships(config):
        if m.membership_id == mid.lower():
            return m
    raise ResourceNotFound(f"Group membership {mid} does not exist", "GROUP_MEMBERSHIP", mid)


def find_membership(config: Configuration, group_id: str, user_id: str) -> Membership:
    group = get_group(config, group_id)
    if user_id not in group.member_user_ids:
        raise ResourceNotFound(
            f"User {user_id} is not a member of group {group_id}",
            "GROUP_MEMBERSHIP",
            membership_id(group_id, user_id),
        )
    return Membership(membership_id(group_id, user_id), group_id, user_id)


def users_named(config: Configuration, user_name: str) -> list[User]:
    """Users whose UserName equals ``user_name`` case-insensitively (at most one: names are unique)."""
    key = user_name.lower()
    return [u for u in config.users if u.user_name.lower() == key]


def users_with_email(config: Configuration, email: str) -> list[User]:
    return [u for u in config.users if any(e.value == email for e in u.emails)]


def users_with_external_id(config: Configuration, external_id: ExternalId) -> list[User]:
    return [u for u in config.users if external_id in u.external_ids]


def groups_named(config: Configuration, display_name: str) -> list[Group]:
    return [g for g in config.groups if g.display_name == display_name]


def groups_with_external_id(config: Configuration, external_id: ExternalId) -> list[Group]:
    return [g for g in config.groups if external_id in g.external_ids]


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


# -- uniqueness, in messages that do not repeat the name (``rules.check`` holds the other rules) -----------------
def _check_user(config: Configuration, user: User) -> None:
    if any(u.user_id != user.user_id for u in users_named(config, user.user_name)):
        raise Conflict("Duplicate UserName", "UNIQUENESS_CONSTRAINT_VIOLATION")


def _check_group(config: Configuration, group: Group) -> None:
    if any(g.group_id != group.group_id for g in groups_named(config, group.display_name)):
        raise Conflict("Duplicate GroupDisplayName", "UNIQUENESS_CONSTRAINT_VIOLATION")


# -- users --------------------------------------------------------------------------------------------------------
def create_user(config: Configuration, user: User) -> Edit[User]:
    """Add ``user`` under a new id (``user.user_id`` is ignored)."""
    new = replace(user, user_id=new_directory_id())
    _check_user(config, new)
    return Edit(replace(config, users=(*config.users, new)), new)


def replace_user(config: Configuration, user: User) -> Edit[User]:
    """Replace the stored user of the same id with ``user`` (UpdateUser)."""
    get_user(config, user.user_id)
    _check_user(config, user)
    return Edit(
        replace(config, users=tuple(user if u.user_id == user.user_id else u for u in config.users)), user
    )


def delete_user(config: Configuration, user_id: str) -> Edit[None]:
    get_user(config, user_id)
    return Edit(
        replace(
            config,
            users=tuple(u for u in config.users if u.user_id != user_id),
            groups=tuple(
                replace(g, member_user_ids=tuple(m for m in g.member_user_ids if m != user_id))
                for g in config.groups
            ),
            assignments=tuple(
                a
                for a in config.assignments
                if not (a.principal_type == "USER" and a.principal_id == user_id)
            ),
        ),
        None,
        [f"user:{user_id}"],
    )


# -- groups -------------------------------------------------------------------------------------------------------
def create_group(config: Configuration, *, display_name: str, description: str) -> Edit[Group]:
    group = Group(group_id=new_directory_id(), display_name=display_name, description=description)
    _check_group(config, group)
    return Edit(replace(config, groups=(*config.groups, group)), group)


def replace_group(config: Configuration, group: Group) -> Edit[Group]:
    """Replace the stored group of the same id with ``group`` (UpdateGroup)."""
    get_group(config, group.group_id)
    _check_group(config, group)
    return Edit(
        replace(config, groups=tuple(group if g.group_id == group.group_id else g for g in config.groups)),
        group,
    )


def delete_group(config: Configuration, group_id: str) -> Edit[None]:
    get_group(config, group_id)
    return Edit(
        replace(
            config,
            groups=tuple(g for g in config.groups if g.group_id != group_id),
            assignments=tuple(
                a
                for a in config.assignments
                if not (a.principal_type == "GROUP" and a.principal_id == group_id)
            ),
        ),
        None,
    )


# -- memberships --------------------------------------------------------------------------------------------------
def create_membership(config: Configuration, group_id: str, user_id: str) -> Edit[Membership]:
    group = get_group(config, group_id)
    get_user(config, user_id)
    if user_id in group.member_user_ids:
        raise Conflict("Member and Group relationship already exists", "UNIQUENESS_CONSTRAINT_VIOLATION")
    new = replace(group, member_user_ids=(*group.member_user_ids, user_id))
    return Edit(
        replace(config, groups=tuple(new if g.group_id == group_id else g for g in config.groups)),
        Membership(membership_id(group_id, user_id), group_id, user_id),
    )


def delete_membership(config: Configuration, mid: str) -> Edit[None]:
    m = get_membership(config, mid)
    groups = tuple(
        replace(g, member_user_ids=tuple(u for u in g.member_user_ids if u != m.user_id))
        if g.group_id == m.group_id
        else g
        for g in config.groups
    )
    return Edit(replace(config, groups=groups), None)


def groups_of(config: Configuration, user_id: str) -> list[Membership]:
    return [m for m in memberships(config) if m.user_id == user_id]

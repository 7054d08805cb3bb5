"""identitystore (JSON 1.1, ``AWSIdentityStore.<Op>``, SigV4 ``identitystore``): wire shapes <-> ``ssoidc.admin``.

Operations served (all 22 of the model): CreateUser, DescribeUser, UpdateUser, DeleteUser, ListUsers, GetUserId,
CreateGroup, DescribeGroup, UpdateGroup, DeleteGroup, ListGroups, GetGroupId, CreateGroupMembership,
DescribeGroupMembership, DeleteGroupMembership, GetGroupMembershipId, ListGroupMemberships,
ListGroupMembershipsForMember, IsMemberInGroups; DescribeIdentityStore, ListIdentityStores, UpdateIdentityStore
(the instance's one identity store; its network configuration is a catalogue write, ``ssoidc.admin.instance``).

Every call names the instance's identity store (``IdentityStoreId``, its id or its ARN), else
ResourceNotFoundException with ResourceType IDENTITY_STORE (checked against the node's snapshot of the
catalogue); answers name it by id. Users, groups and memberships are rows of the store's directory: each call
reads or writes the rows it names (identitystore has no ClientToken). The domain functions, revisions and the
cascades are in ``ssoidc.admin.directory``.

ARNs: every user, group and membership is returned with its ARN (``UserArn`` ``arn:aws:identitystore:::user/<id>``,
``GroupArn``, ``MembershipArn``: ``ssoidc.ids``), and every id member the model lets name one by ARN
(``UserId``, ``GroupId``, ``MembershipId``, ``MemberId.UserId``, ``GroupIds``) takes either; an ARN of another
kind (a group ARN as ``UserId``) is a ValidationException naming the member, an ARN of another partition is not
found. ``Revision``: users and groups answer their current revision; UpdateUser/UpdateGroup/DeleteUser/
DeleteGroup given a stale one are ConflictException with Reason CONCURRENT_MODIFICATION and change nothing.

Handlers take and return the operations' input and output shapes (``ssoidc.aws.shapes.identitystore``, generated
from the botocore ``identitystore`` model); users, groups and memberships are converted by ``ssoidc.aws.mapping``.
Wire mapping of a user: ``UserName``, ``DisplayName``, ``Name.GivenName``/``Name.FamilyName`` and ``Emails`` map
to the domain ``User`` fields; every other modelled attribute (``NickName``, ``Addresses``, ``PhoneNumbers``,
``Photos``, ``Roles``, ``Name.MiddleName``..., ``Extensions``) is kept verbatim in ``User.profile`` and returned as
stored. Empty values are never stored: an absent email ``Type`` is ``""`` and an absent ``Primary`` is false, so
``Primary`` is returned only when true. ``CreatedAt``/``UpdatedAt``/``CreatedBy``/``UpdatedBy`` and
``UserStatus`` are not kept and not returned.

``UpdateUser``/``UpdateGroup`` apply ``Operations`` in order, all or nothing. An ``AttributePath`` names a
CreateUser/CreateGroup member in camelCase (matched case-insensitively): ``userName``, ``displayName``, ``name``,
``name.givenName`` (and the other ``Name`` members), ``nickName``, ``emails``, ``addresses``, ``phoneNumbers``,
``photos``, ``roles``, ``title``..., ``aws:identitystore:enterprise[.<attribute>]``; ``displayName`` and
``description`` for groups. The value is checked against the member's modelled shape; multi-value attributes are
replaced whole. A null or absent ``AttributeValue`` removes the attribute, except ``userName``, ``displayName``,
``name``, ``name.givenName`` and ``name.familyName``, which IAM Identity Center requires. Sensitive members
(names, emails, attribute values) never appear in messages or logs.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from botocore.model import Shape, StructureShape

from ssoidc.admin import directory as d
from ssoidc.admin import instance as inst
from ssoidc.admin.editor import ConfigEditor, empty_answer
from ssoidc.admin.paging import PageTokens, fetch_page, next_page, page
from ssoidc.admin.rules import ENTERPRISE, ENTERPRISE_ATTRIBUTES, check_enterprise_value, check_extension
from ssoidc.aws import mapping as m
from ssoidc.aws.models import ShapeError, service_model, validate
from ssoidc.aws.shapes import identitystore as ids
from ssoidc.aws.skeleton import Call
from ssoidc.errors import ResourceNotFound, ValidationFailed
from ssoidc.ids import identitystore_arn
from ssoidc.model import ConfigSnapshot, Group, Instance, Membership, User
from ssoidc.storage.base import DirectoryStore

SERVICE = "identitystore"

#: Attributes IAM Identity Center requires on a user: CreateUser must set them and UpdateUser cannot remove them.
REQUIRED_USER_PATHS = ("UserName", "DisplayName", "Name", "Name.GivenName", "Name.FamilyName")

Out = dict[str, Any]
R = TypeVar("R", bound=Mapping[str, Any])


def _shape(name: str) -> StructureShape:
    shape = service_model(SERVICE).shape_for(name)
    assert isinstance(shape, StructureShape)
    return shape


def _check(shape: Shape, value: Any, path: str) -> Any:
    try:
        return validate(shape, value, path, constraints=True)
    except ShapeError as exc:
        raise ValidationFailed.at(exc.path, exc.message) from None


# -- wire <-> domain (the entity mappings are ssoidc.aws.mapping's) ---------------------------------------------
def user_out(user: User, store_id: str, extensions: list[str] | None) -> ids.User:
    """DescribeUser's / ListUsers' user: the stored extensions only when requested by name."""
    out = m.user_to_shape(user, store_id)
    stored = out.pop("Extensions", {})
    wanted = {n: stored[n] for n in (extensions or []) if n in stored}
    if wanted:
        out["Extensions"] = wanted
    return out


def _requested_extensions(inp: ids.DescribeUserRequest | ids.ListUsersRequest) -> list[str]:
    names = inp.get("Extensions", [])
    for i, n in enumerate(names):
        if n != ENTERPRISE:
            raise ValidationFailed(
                f"Extension {n} is not supported; {ENTERPRISE} is the only supported extension",
                f"Extensions[{i}]",
            )
    return names


# -- UpdateUser / UpdateGroup operations --------------------------------------------------------------------------
def _member(shape: StructureShape, segment: str) -> str | None:
    key = segment.lower()
    for member in shape.members:
        if str(member).lower() == key:
            return str(member)
    return None


def _unsupported(path: str, where: str, i: int) -> ValidationFailed:
    return ValidationFailed(
        f"Unsupported attribute path {path} for a {where}", f"Operations[{i}].AttributePath"
    )


def apply_user_operations(user: User, operations: Sequence[ids.AttributeOperation]) -> User:
    """``user`` with UpdateUser's ``Operations`` applied in order (raises ``ValidationFailed`` naming the path)."""
    attrs: Out = dict(m.user_to_shape(user, ""))  # members named at run time by the operations' paths
    request = _shape("CreateUserRequest")
    for i, op in enumerate(operations):
        path: str = op["AttributePath"]
        value = op.get("AttributeValue")
        at = f"Operations[{i}].AttributeValue"
        if path.lower() == ENTERPRISE or path.lower().startswith(ENTERPRISE + "."):
            _apply_extension(attrs, path, value, at, i)
            continue
        segments = path.split(".")
        top = _member(request, segments[0])
        if top is None or top in ("IdentityStoreId", "Extensions") or len(segments) > 2:
            raise _unsupported(path, "user", i)
        shape = request.members[top]
        if len(segments) == 2:
            if shape.type_name == "list":
                raise ValidationFailed(
                    f"Unsupported update operation on multi-value attribute {segments[0]}, please provide full"
                    " replacement of Multi-Value attribute types",
                    f"Operations[{i}].AttributePath",
                )
            sub = _member(shape, segments[1]) if isinstance(shape, StructureShape) else None
            if sub is None or not isinstance(shape, StructureShape):
                raise _unsupported(path, "user", i)
            container = dict(attrs.get(top, {}))
            if value is None:
                _not_required(f"{top}.{sub}", path, i)
                container.pop(sub, None)
            else:
                container[sub] = _check(shape.members[sub], value, at)
            if container:
                attrs[top] = container
            else:
                attrs.pop(top, None)
            continue
        if value is None:
            _not_required(top, path, i)
            attrs.pop(top, None)
        else:
            checked = _check(shape, value, at)
            if top == "Name":
                for req in ("GivenName", "FamilyName"):
                    if req not in checked:
                        raise ValidationFailed(f"Value at '{at}.{req}' is required", f"{at}.{req}")
            attrs[top] = checked
    return m.user_from_shape(attrs)


def _not_required(member: str, path: str, i: int) -> None:
    if member in REQUIRED_USER_PATHS:
        raise ValidationFailed(
            f"The attribute {path} is required and cannot be removed", f"Operations[{i}].AttributeValue"
        )


def _apply_extension(attrs: Out, path: str, value: Any, at: str, i: int) -> None:
    """Apply one operation on the enterprise extension (the value is checked as ``rules.check`` would, but named
    by the operation). A stored value that is not an object is replaced, never trusted."""
    stored = attrs.get("Extensions")
    exts = dict(stored) if isinstance(stored, dict) else {}
    rest = path[len(ENTERPRISE) :].lstrip(".").split(".") if len(path) > len(ENTERPRISE) else []
    if not rest:
        if value is None:
            exts.pop(ENTERPRISE, None)
        else:
            exts[ENTERPRISE] = check_extension(ENTERPRISE, value, at)
    else:
        attr = next((a for a in ENTERPRISE_ATTRIBUTES if a.lower() == rest[0].lower()), None)
        if (
            attr is None
            or len(rest) > 2
            or (len(rest) == 2 and (attr != "manager" or rest[1].lower() != "value"))
        ):
            raise _unsupported(path, "user", i)
        current = exts.get(ENTERPRISE)
        ext = dict(current) if isinstance(current, dict) else {}
        if value is None:
            ext.pop(attr, None)
        else:
            ext[attr] = {"value": value} if len(rest) == 2 else value
            check_enterprise_value(attr, ext[attr], at)
        if ext:
            exts[ENTERPRISE] = ext
        else:
            exts.pop(ENTERPRISE, None)
    if exts:
        attrs["Extensions"] = exts
    else:
        attrs.pop("Extensions", None)


def apply_group_operations(group: Group, operations: Sequence[ids.AttributeOperation]) -> Group:
    """``group`` with UpdateGroup's ``Operations`` applied in order: ``displayName`` and ``description``."""
    request = _shape("CreateGroupRequest")
    for i, op in enumerate(operations):
        path: str = op["AttributePath"]
        value = op.get("AttributeValue")
        at = f"Operations[{i}].AttributeValue"
        key = path.lower()
        if key == "displayname":
            if value is None:
                raise ValidationFailed(f"The attribute {path} is required and cannot be removed", at)
            group = dataclasses.replace(group, display_name=_check(request.members["DisplayName"], value, at))
        elif key == "description":
            desc = "" if value is None else _check(request.members["Description"], value, at)
            group = dataclasses.replace(group, description=desc)
        else:
            raise _unsupported(path, "group", i)
    return group


def _unique_attribute(alt: ids.AlternateIdentifier) -> tuple[str, str]:
    """(lower-cased path, string value) of ``AlternateIdentifier.UniqueAttribute``."""
    ua = alt["UniqueAttribute"]
    value = ua["AttributeValue"]
    if not isinstance(value, str) or not value:
        raise ValidationFailed(
            "Value at 'AlternateIdentifier.UniqueAttribute.AttributeValue' must be a non-empty string",
            "AlternateIdentifier.UniqueAttribute.AttributeValue",
        )
    return str(ua["AttributePath"]).lower(), value


def _one_filter(inp: ids.ListUsersRequest | ids.ListGroupsRequest, supported: str) -> str | None:
    """The value of the single ``Filters`` entry (whose path must be ``supported``), or None without filters."""
    filters = inp.get("Filters") or []
    if not filters:
        return None
    f = filters[0]
    if str(f["AttributePath"]).lower() != supported.lower():
        raise ValidationFailed(
            f"Unsupported filter attribute path {f['AttributePath']}; the supported path is {supported}",
            "Filters[0].AttributePath",
        )
    return str(f["AttributeValue"])


_RESOURCE_ARN = re.compile(r"arn:(aws[a-z-]*):identitystore:::(user|group|membership)/(.+)", re.ASCII)
_RESOURCE_NAMES = {"user": "USER", "group": "GROUP", "membership": "GROUP_MEMBERSHIP"}


def resource_id(value: str, kind: str, member: str) -> str:
    """The id a ``ResourceId`` member names: itself, or the id of the ``kind`` ARN it is (the model's pattern
    admits ``arn:aws[a-z-]*:identitystore:::(user|group|membership)/<id>``). An ARN of another kind is a
    ValidationException naming ``member``; one of another partition names nothing here (ResourceNotFound)."""
    found = _RESOURCE_ARN.fullmatch(value)
    if found is None:
        return value
    partition, named, rid = found.groups()
    if named != kind:
        raise ValidationFailed(f"{member} must name a {kind}, not a {named}", member)
    if partition != "aws":
        raise ResourceNotFound(f"The {kind} {value} does not exist", _RESOURCE_NAMES[kind], value)
    return rid


class IdentityStoreApi:
    """The identitystore handlers, bound to one node's snapshot (the instance), store (the directory) and editor
    (the instance's identity-store settings, a catalogue write)."""

    def __init__(
        self,
        snapshot: Callable[[], Awaitable[ConfigSnapshot]],
        store: DirectoryStore,
        *,
        pages: PageTokens,
        editor: ConfigEditor,
    ) -> None:
        self._snapshot = snapshot
        self._store = store
        self._pages = pages
        self._editor = editor

    async def _check_store(self, inp: Mapping[str, Any]) -> str:
        """The request's ``IdentityStoreId`` (an id or an ARN) is the ACTIVE instance's identity store; its id."""
        return d.identity_store((await self._snapshot()).config, inp["IdentityStoreId"]).identity_store_id

    # -- the identity store ---------------------------------------------------------------------------------------
    @staticmethod
    def _identity_store_out(i: Instance) -> ids.DescribeIdentityStoreResponse:
        network: ids.NetworkConfigurationDetails = {"VpceAccessRequired": False}
        if i.identity_store_api_allow_ips:
            network["ApiAllowSourceIps"] = list(i.identity_store_api_allow_ips)
        if i.identity_store_scim_allow_ips:
            network["ScimAllowSourceIps"] = list(i.identity_store_scim_allow_ips)
        return {
            "IdentityStoreId": i.identity_store_id,
            "IdentityStoreArn": i.identity_store_arn,
            "NetworkConfiguration": network,
        }

    async def describe_identity_store(
        self, inp: ids.DescribeIdentityStoreRequest, call: Call
    ) -> ids.DescribeIdentityStoreResponse:
        config = (await self._snapshot()).config
        return self._identity_store_out(d.identity_store(config, inp["IdentityStoreId"]))

    async def list_identity_stores(
        self, inp: ids.ListIdentityStoresRequest, call: Call
    ) -> ids.ListIdentityStoresResponse:
        i = (await self._snapshot()).config.instance
        items = [i] if i.status == "ACTIVE" else []
        chunk, nxt = page(
            items,
            lambda x: x.identity_store_id,
            self._pages.cursor(call.operation, inp),
            inp.get("MaxResults"),
        )
        stores: list[ids.IdentityStore] = [
            {"IdentityStoreId": x.identity_store_id, "IdentityStoreArn": x.identity_store_arn} for x in chunk
        ]
        return {"IdentityStores": stores, **next_page(nxt)}

    async def update_identity_store(
        self, inp: ids.UpdateIdentityStoreRequest, call: Call
    ) -> ids.UpdateIdentityStoreResponse:
        network = inp.get("NetworkConfiguration")
        if network is not None:
            if network["VpceAccessRequired"]:
                raise ValidationFailed(
                    "ssoidc has no VPC endpoints: VpceAccessRequired must be false",
                    "NetworkConfiguration.VpceAccessRequired",
                )
            if "ApiRestrictSourceVpcs" in network:
                raise ValidationFailed(
                    "ssoidc has no VPC endpoints: a request never originates from a VPC it could allow",
                    "NetworkConfiguration.ApiRestrictSourceVpcs",
                )
        store_id = inp["IdentityStoreId"]
        if network is not None:  # a full replacement: omitted lists are cleared
            api_ips = tuple(dict.fromkeys(network.get("ApiAllowSourceIps", [])))
            scim_ips = tuple(dict.fromkeys(network.get("ScimAllowSourceIps", [])))
            await self._editor.run(
                empty_answer(lambda c: inst.set_identity_store_network(c, store_id, api_ips, scim_ips)),
                now=call.now,
            )
        config = (await self._editor.current()).config
        out = self._identity_store_out(d.identity_store(config, store_id))
        return {"IdentityStoreId": out["IdentityStoreId"], "IdentityStoreArn": out["IdentityStoreArn"]}

    # -- users ----------------------------------------------------------------------------------------------------
    async def create_user(self, inp: ids.CreateUserRequest, call: Call) -> ids.CreateUserResponse:
        for member in ("UserName", "DisplayName"):
            if member not in inp:
                raise ValidationFailed(f"{member} is required when used in IAM Identity Center", member)
        for member in ("GivenName", "FamilyName"):
            if member not in inp.get("Name", {}):
                raise ValidationFailed(
                    f"Name.{member} is required when used in IAM Identity Center", f"Name.{member}"
                )
        store_id = await self._check_store(inp)
        # the extensions are checked by d.check_user (the same member paths: Extensions.<name>[.<attribute>])
        user = await d.create_user(self._store, m.user_from_shape({**inp, "IdentityStoreId": store_id}))
        return {
            "IdentityStoreId": store_id,
            "UserId": user.user_id,
            "UserArn": identitystore_arn("user", user.user_id),
            "Revision": str(user.revision),
        }

    async def describe_user(self, inp: ids.DescribeUserRequest, call: Call) -> ids.DescribeUserResponse:
        extensions = _requested_extensions(inp)
        store_id = await self._check_store(inp)
        user = await d.get_user(self._store, resource_id(inp["UserId"], "user", "UserId"))
        return user_out(user, store_id, extensions)

    async def update_user(self, inp: ids.UpdateUserRequest, call: Call) -> ids.UpdateUserResponse:
        store_id = await self._check_store(inp)
        user = await d.get_user(self._store, resource_id(inp["UserId"], "user", "UserId"))
        d.check_revision(user, inp.get("Revision"))
        saved = await d.replace_user(self._store, apply_user_operations(user, inp["Operations"]), read=user)
        return {
            "IdentityStoreId": store_id,
            "UserId": saved.user_id,
            "UserArn": identitystore_arn("user", saved.user_id),
            "Revision": str(saved.revision),
        }

    async def delete_user(self, inp: ids.DeleteUserRequest, call: Call) -> ids.DeleteUserResponse:
        await self._check_store(inp)
        user_id = resource_id(inp["UserId"], "user", "UserId")
        await d.delete_user(self._store, user_id, now=call.now, revision=inp.get("Revision"))
        return {}

    async def list_users(self, inp: ids.ListUsersRequest, call: Call) -> ids.ListUsersResponse:
        extensions = _requested_extensions(inp)
        store_id = await self._check_store(inp)
        wanted = _one_filter(inp, "UserName")
        if wanted is None:

            async def fetch(after: str, limit: int) -> list[User]:
                return await self._store.list_users(after=after, limit=limit)

        else:
            named = await d.users_named(self._store, wanted)

            async def fetch(after: str, limit: int) -> list[User]:
                return [u for u in named if u.user_id > after][:limit]

        chunk, nxt = await fetch_page(
            fetch, lambda u: u.user_id, self._pages.cursor(call.operation, inp), inp.get("MaxResults")
        )
        return {"Users": [user_out(u, store_id, extensions) for u in chunk], **next_page(nxt)}

    async def get_user_id(self, inp: ids.GetUserIdRequest, call: Call) -> ids.GetUserIdResponse:
        store_id = await self._check_store(inp)
        alt = inp["AlternateIdentifier"]
        if "ExternalId" in alt:
            found = await d.users_with_external_id(self._store, m.external_id_from_shape(alt["ExternalId"]))
        else:
            path, value = _unique_attribute(alt)
            if path == "username":
                found = await d.users_named(self._store, value)
            elif path == "emails.value":
                found = await d.users_with_email(self._store, value)
            else:
                raise ValidationFailed(
                    "Unsupported unique attribute path for a user; use userName or emails.value",
                    "AlternateIdentifier.UniqueAttribute.AttributePath",
                )
        user_id = d.only(found, "USER")
        return {"IdentityStoreId": store_id, "UserId": user_id, "UserArn": identitystore_arn("user", user_id)}

    # -- groups ---------------------------------------------------------------------------------------------------
    async def create_group(self, inp: ids.CreateGroupRequest, call: Call) -> ids.CreateGroupResponse:
        if "DisplayName" not in inp:
            raise ValidationFailed("DisplayName is required", "DisplayName")
        store_id = await self._check_store(inp)
        shape = m.group_from_shape(inp)
        group = await d.create_group(
            self._store, display_name=shape.display_name, description=shape.description
        )
        return {
            "IdentityStoreId": store_id,
            "GroupId": group.group_id,
            "GroupArn": identitystore_arn("group", group.group_id),
            "Revision": str(group.revision),
        }

    async def describe_group(self, inp: ids.DescribeGroupRequest, call: Call) -> ids.DescribeGroupResponse:
        store_id = await self._check_store(inp)
        group = await d.get_group(self._store, resource_id(inp["GroupId"], "group", "GroupId"))
        return m.group_to_shape(group, store_id)

    async def update_group(self, inp: ids.UpdateGroupRequest, call: Call) -> ids.UpdateGroupResponse:
        store_id = await self._check_store(inp)
        group = await d.get_group(self._store, resource_id(inp["GroupId"], "group", "GroupId"))
        d.check_revision(group, inp.get("Revision"))
        saved = await d.replace_group(
            self._store, apply_group_operations(group, inp["Operations"]), read=group
        )
        return {
            "IdentityStoreId": store_id,
            "GroupId": saved.group_id,
            "GroupArn": identitystore_arn("group", saved.group_id),
            "Revision": str(saved.revision),
        }

    async def delete_group(self, inp: ids.DeleteGroupRequest, call: Call) -> ids.DeleteGroupResponse:
        await self._check_store(inp)
        group_id = resource_id(inp["GroupId"], "group", "GroupId")
        await d.delete_group(self._store, group_id, revision=inp.get("Revision"))
        return {}

    async def list_groups(self, inp: ids.ListGroupsRequest, call: Call) -> ids.ListGroupsResponse:
        store_id = await self._check_store(inp)
        wanted = _one_filter(inp, "DisplayName")
        if wanted is None:

            async def fetch(after: str, limit: int) -> list[Group]:
                return await self._store.list_groups(after=after, limit=limit)

        else:
            named = await d.groups_named(self._store, wanted)

            async def fetch(after: str, limit: int) -> list[Group]:
                return [g for g in named if g.group_id > after][:limit]

        chunk, nxt = await fetch_page(
            fetch, lambda g: g.group_id, self._pages.cursor(call.operation, inp), inp.get("MaxResults")
        )
        return {"Groups": [m.group_to_shape(g, store_id) for g in chunk], **next_page(nxt)}

    async def get_group_id(self, inp: ids.GetGroupIdRequest, call: Call) -> ids.GetGroupIdResponse:
        store_id = await self._check_store(inp)
        alt = inp["AlternateIdentifier"]
        if "ExternalId" in alt:
            found = await d.groups_with_external_id(self._store, m.external_id_from_shape(alt["ExternalId"]))
        else:
            path, value = _unique_attribute(alt)
            if path != "displayname":
                raise ValidationFailed(
                    "Unsupported unique attribute path for a group; use displayName",
                    "AlternateIdentifier.UniqueAttribute.AttributePath",
                )
            found = await d.groups_named(self._store, value)
        group_id = d.only(found, "GROUP")
        return {
            "IdentityStoreId": store_id,
            "GroupId": group_id,
            "GroupArn": identitystore_arn("group", group_id),
        }

    # -- memberships ----------------------------------------------------------------------------------------------
    async def create_group_membership(
        self, inp: ids.CreateGroupMembershipRequest, call: Call
    ) -> ids.CreateGroupMembershipResponse:
        store_id = await self._check_store(inp)
        group_id = resource_id(inp["GroupId"], "group", "GroupId")
        user_id = resource_id(inp["MemberId"]["UserId"], "user", "MemberId.UserId")
        ms = await d.create_membership(self._store, group_id, user_id)
        return {
            "IdentityStoreId": store_id,
            "MembershipId": ms.membership_id,
            "MembershipArn": identitystore_arn("membership", ms.membership_id),
        }

    async def describe_group_membership(
        self, inp: ids.DescribeGroupMembershipRequest, call: Call
    ) -> ids.DescribeGroupMembershipResponse:
        store_id = await self._check_store(inp)
        mid = resource_id(inp["MembershipId"], "membership", "MembershipId")
        return m.membership_to_shape(await d.get_membership(self._store, mid), store_id)

    async def delete_group_membership(
        self, inp: ids.DeleteGroupMembershipRequest, call: Call
    ) -> ids.DeleteGroupMembershipResponse:
        await self._check_store(inp)
        mid = resource_id(inp["MembershipId"], "membership", "MembershipId")
        await d.delete_membership(self._store, mid)
        return {}

    async def get_group_membership_id(
        self, inp: ids.GetGroupMembershipIdRequest, call: Call
    ) -> ids.GetGroupMembershipIdResponse:
        store_id = await self._check_store(inp)
        group_id = resource_id(inp["GroupId"], "group", "GroupId")
        user_id = resource_id(inp["MemberId"]["UserId"], "user", "MemberId.UserId")
        ms = await d.find_membership(self._store, group_id, user_id)
        return {
            "IdentityStoreId": store_id,
            "MembershipId": ms.membership_id,
            "MembershipArn": identitystore_arn("membership", ms.membership_id),
        }

    async def list_group_memberships(
        self, inp: ids.ListGroupMembershipsRequest, call: Call
    ) -> ids.ListGroupMembershipsResponse:
        store_id = await self._check_store(inp)
        group = await d.get_group(self._store, resource_id(inp["GroupId"], "group", "GroupId"))

        async def fetch(after: str, limit: int) -> list[Membership]:
            return await self._store.list_memberships(group_id=group.group_id, after=after, limit=limit)

        return await self._memberships_page(fetch, inp, call, store_id)

    async def list_group_memberships_for_member(
        self, inp: ids.ListGroupMembershipsForMemberRequest, call: Call
    ) -> ids.ListGroupMembershipsForMemberResponse:
        store_id = await self._check_store(inp)
        user_id = resource_id(inp["MemberId"]["UserId"], "user", "MemberId.UserId")
        user = await d.get_user(self._store, user_id)

        async def fetch(after: str, limit: int) -> list[Membership]:
            return await self._store.list_memberships(user_id=user.user_id, after=after, limit=limit)

        return await self._memberships_page(fetch, inp, call, store_id)

    async def _memberships_page(
        self,
        fetch: Callable[[str, int], Awaitable[list[Membership]]],
        inp: ids.ListGroupMembershipsRequest | ids.ListGroupMembershipsForMemberRequest,
        call: Call,
        store_id: str,
    ) -> ids.ListGroupMembershipsResponse:
        chunk, nxt = await fetch_page(
            fetch, lambda ms: ms.membership_id, self._pages.cursor(call.operation, inp), inp.get("MaxResults")
        )
        return {
            "GroupMemberships": [{**m.membership_to_shape(ms, store_id)} for ms in chunk],
            **next_page(nxt),
        }

    async def is_member_in_groups(
        self, inp: ids.IsMemberInGroupsRequest, call: Call
    ) -> ids.IsMemberInGroupsResponse:
        await self._check_store(inp)
        user_id = resource_id(inp["MemberId"]["UserId"], "user", "MemberId.UserId")
        user = await d.get_user(self._store, user_id)
        group_ids = [resource_id(g, "group", f"GroupIds[{i}]") for i, g in enumerate(inp["GroupIds"])]
        member_of = await self._store.member_groups(user.user_id, group_ids)
        return {
            "Results": [
                {"GroupId": gid, "MemberId": {"UserId": user.user_id}, "MembershipExists": gid in member_of}
                for gid in group_ids
            ]
        }

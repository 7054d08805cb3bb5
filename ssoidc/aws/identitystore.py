"""identitystore (JSON 1.1, ``AWSIdentityStore.<Op>``, SigV4 ``identitystore``): wire shapes <-> ``ssoidc.admin``.

Operations served (all of the model): CreateUser, DescribeUser, UpdateUser, DeleteUser, ListUsers, GetUserId,
CreateGroup, DescribeGroup, UpdateGroup, DeleteGroup, ListGroups, GetGroupId, CreateGroupMembership,
DescribeGroupMembership, DeleteGroupMembership, GetGroupMembershipId, ListGroupMemberships,
ListGroupMembershipsForMember, IsMemberInGroups.

Every call names the instance's identity store (``IdentityStoreId``), else ResourceNotFoundException with
ResourceType IDENTITY_STORE. Reads use the node's configuration snapshot; writes go through ``ConfigEditor.run``
(identitystore has no ClientToken). The domain functions and the cascades are in ``ssoidc.admin.directory``.

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

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from botocore.model import Shape, StructureShape

from ssoidc.admin import directory as d
from ssoidc.admin.editor import ConfigEditor, Edit, empty_answer
from ssoidc.admin.paging import next_page, page
from ssoidc.admin.rules import ENTERPRISE, ENTERPRISE_ATTRIBUTES, check_enterprise_value, check_extension
from ssoidc.aws import mapping as m
from ssoidc.aws.models import ShapeError, service_model, validate
from ssoidc.aws.shapes import identitystore as ids
from ssoidc.aws.skeleton import Call
from ssoidc.errors import ValidationFailed
from ssoidc.ids import membership_id
from ssoidc.model import Configuration, Group, Membership, User

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
            group = Group(
                group.group_id,
                _check(request.members["DisplayName"], value, at),
                group.description,
                group.member_user_ids,
                group.external_ids,
            )
        elif key == "description":
            desc = "" if value is None else _check(request.members["Description"], value, at)
            group = Group(group.group_id, group.display_name, desc, group.member_user_ids, group.external_ids)
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


class IdentityStoreApi:
    """The identitystore handlers, bound to one node's editor."""

    def __init__(self, editor: ConfigEditor) -> None:
        self.editor = editor

    async def _config(self, inp: Mapping[str, Any]) -> Configuration:
        config = (await self.editor.current()).config
        d.identity_store(config, inp["IdentityStoreId"])
        return config

    async def _write(
        self, call: Call, inp: Mapping[str, Any], change: Callable[[Configuration], Edit[R]]
    ) -> R:
        store_id = inp["IdentityStoreId"]

        def guarded(c: Configuration) -> Edit[R]:
            d.identity_store(c, store_id)
            return change(c)

        return await self.editor.run(guarded, now=call.now)

    async def _edit(
        self, call: Call, inp: Mapping[str, Any], edit: Callable[[Configuration], Edit[Any]]
    ) -> None:
        """A write whose answer is the empty output shape (the caller answers ``{}``)."""
        await self._write(call, inp, empty_answer(edit))

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
        # the extensions are rules.check's (the same member paths: Extensions.<name>[.<attribute>])
        user = m.user_from_shape(inp)

        def change(c: Configuration) -> Edit[ids.CreateUserResponse]:
            e = d.create_user(c, user)
            return Edit(
                e.config, {"IdentityStoreId": inp["IdentityStoreId"], "UserId": e.result.user_id}, e.revoke
            )

        return await self._write(call, inp, change)

    async def describe_user(self, inp: ids.DescribeUserRequest, call: Call) -> ids.DescribeUserResponse:
        extensions = _requested_extensions(inp)
        config = await self._config(inp)
        return user_out(d.get_user(config, inp["UserId"]), inp["IdentityStoreId"], extensions)

    async def update_user(self, inp: ids.UpdateUserRequest, call: Call) -> ids.UpdateUserResponse:
        def change(c: Configuration) -> Edit[User]:
            return d.replace_user(c, apply_user_operations(d.get_user(c, inp["UserId"]), inp["Operations"]))

        await self._edit(call, inp, change)
        return {}

    async def delete_user(self, inp: ids.DeleteUserRequest, call: Call) -> ids.DeleteUserResponse:
        await self._edit(call, inp, lambda c: d.delete_user(c, inp["UserId"]))
        return {}

    async def list_users(self, inp: ids.ListUsersRequest, call: Call) -> ids.ListUsersResponse:
        extensions = _requested_extensions(inp)
        config = await self._config(inp)
        wanted = _one_filter(inp, "UserName")
        items = list(config.users) if wanted is None else d.users_named(config, wanted)
        chunk, nxt = page(items, lambda u: u.user_id, inp.get("NextToken"), inp.get("MaxResults"))
        return {"Users": [user_out(u, inp["IdentityStoreId"], extensions) for u in chunk], **next_page(nxt)}

    async def get_user_id(self, inp: ids.GetUserIdRequest, call: Call) -> ids.GetUserIdResponse:
        config = await self._config(inp)
        alt = inp["AlternateIdentifier"]
        if "ExternalId" in alt:
            found = d.users_with_external_id(config, m.external_id_from_shape(alt["ExternalId"]))
        else:
            path, value = _unique_attribute(alt)
            if path == "username":
                found = d.users_named(config, value)
            elif path == "emails.value":
                found = d.users_with_email(config, value)
            else:
                raise ValidationFailed(
                    "Unsupported unique attribute path for a user; use userName or emails.value",
                    "AlternateIdentifier.UniqueAttribute.AttributePath",
                )
        return {"IdentityStoreId": inp["IdentityStoreId"], "UserId": d.only(found, "USER")}

    # -- groups ---------------------------------------------------------------------------------------------------
    async def create_group(self, inp: ids.CreateGroupRequest, call: Call) -> ids.CreateGroupResponse:
        if "DisplayName" not in inp:
            raise ValidationFailed("DisplayName is required", "DisplayName")
        group = m.group_from_shape(inp)

        def change(c: Configuration) -> Edit[ids.CreateGroupResponse]:
            e = d.create_group(c, display_name=group.display_name, description=group.description)
            return Edit(
                e.config, {"GroupId": e.result.group_id, "IdentityStoreId": inp["IdentityStoreId"]}, e.revoke
            )

        return await self._write(call, inp, change)

    async def describe_group(self, inp: ids.DescribeGroupRequest, call: Call) -> ids.DescribeGroupResponse:
        config = await self._config(inp)
        return m.group_to_shape(d.get_group(config, inp["GroupId"]), inp["IdentityStoreId"])

    async def update_group(self, inp: ids.UpdateGroupRequest, call: Call) -> ids.UpdateGroupResponse:
        def change(c: Configuration) -> Edit[Group]:
            return d.replace_group(
                c, apply_group_operations(d.get_group(c, inp["GroupId"]), inp["Operations"])
            )

        await self._edit(call, inp, change)
        return {}

    async def delete_group(self, inp: ids.DeleteGroupRequest, call: Call) -> ids.DeleteGroupResponse:
        await self._edit(call, inp, lambda c: d.delete_group(c, inp["GroupId"]))
        return {}

    async def list_groups(self, inp: ids.ListGroupsRequest, call: Call) -> ids.ListGroupsResponse:
        config = await self._config(inp)
        wanted = _one_filter(inp, "DisplayName")
        items = list(config.groups) if wanted is None else d.groups_named(config, wanted)
        chunk, nxt = page(items, lambda g: g.group_id, inp.get("NextToken"), inp.get("MaxResults"))
        return {"Groups": [m.group_to_shape(g, inp["IdentityStoreId"]) for g in chunk], **next_page(nxt)}

    async def get_group_id(self, inp: ids.GetGroupIdRequest, call: Call) -> ids.GetGroupIdResponse:
        config = await self._config(inp)
        alt = inp["AlternateIdentifier"]
        if "ExternalId" in alt:
            found = d.groups_with_external_id(config, m.external_id_from_shape(alt["ExternalId"]))
        else:
            path, value = _unique_attribute(alt)
            if path != "displayname":
                raise ValidationFailed(
                    "Unsupported unique attribute path for a group; use displayName",
                    "AlternateIdentifier.UniqueAttribute.AttributePath",
                )
            found = d.groups_named(config, value)
        return {"GroupId": d.only(found, "GROUP"), "IdentityStoreId": inp["IdentityStoreId"]}

    # -- memberships ----------------------------------------------------------------------------------------------
    async def create_group_membership(
        self, inp: ids.CreateGroupMembershipRequest, call: Call
    ) -> ids.CreateGroupMembershipResponse:
        def change(c: Configuration) -> Edit[ids.CreateGroupMembershipResponse]:
            e = d.create_membership(c, inp["GroupId"], inp["MemberId"]["UserId"])
            return Edit(
                e.config, {"MembershipId": e.result.membership_id, "IdentityStoreId": inp["IdentityStoreId"]}
            )

        return await self._write(call, inp, change)

    async def describe_group_membership(
        self, inp: ids.DescribeGroupMembershipRequest, call: Call
    ) -> ids.DescribeGroupMembershipResponse:
        config = await self._config(inp)
        return m.membership_to_shape(d.get_membership(config, inp["MembershipId"]), inp["IdentityStoreId"])

    async def delete_group_membership(
        self, inp: ids.DeleteGroupMembershipRequest, call: Call
    ) -> ids.DeleteGroupMembershipResponse:
        await self._edit(call, inp, lambda c: d.delete_membership(c, inp["MembershipId"]))
        return {}

    async def get_group_membership_id(
        self, inp: ids.GetGroupMembershipIdRequest, call: Call
    ) -> ids.GetGroupMembershipIdResponse:
        config = await self._config(inp)
        ms = d.find_membership(config, inp["GroupId"], inp["MemberId"]["UserId"])
        return {"MembershipId": ms.membership_id, "IdentityStoreId": inp["IdentityStoreId"]}

    async def list_group_memberships(
        self, inp: ids.ListGroupMembershipsRequest, call: Call
    ) -> ids.ListGroupMembershipsResponse:
        config = await self._config(inp)
        group = d.get_group(config, inp["GroupId"])
        items = [
            Membership(membership_id(group.group_id, u), group.group_id, u) for u in group.member_user_ids
        ]
        return self._memberships_page(items, inp)

    async def list_group_memberships_for_member(
        self, inp: ids.ListGroupMembershipsForMemberRequest, call: Call
    ) -> ids.ListGroupMembershipsForMemberResponse:
        config = await self._config(inp)
        user = d.get_user(config, inp["MemberId"]["UserId"])
        return self._memberships_page(d.groups_of(config, user.user_id), inp)

    def _memberships_page(
        self,
        items: list[Membership],
        inp: ids.ListGroupMembershipsRequest | ids.ListGroupMembershipsForMemberRequest,
    ) -> ids.ListGroupMembershipsResponse:
        chunk, nxt = page(items, lambda ms: ms.membership_id, inp.get("NextToken"), inp.get("MaxResults"))
        return {
            "GroupMemberships": [{**m.membership_to_shape(ms, inp["IdentityStoreId"])} for ms in chunk],
            **next_page(nxt),
        }

    async def is_member_in_groups(
        self, inp: ids.IsMemberInGroupsRequest, call: Call
    ) -> ids.IsMemberInGroupsResponse:
        config = await self._config(inp)
        user = d.get_user(config, inp["MemberId"]["UserId"])
        member_of = {g.group_id for g in config.groups if user.user_id in g.member_user_ids}
        return {
            "Results": [
                {"GroupId": gid, "MemberId": {"UserId": user.user_id}, "MembershipExists": gid in member_of}
                for gid in inp["GroupIds"]
            ]
        }

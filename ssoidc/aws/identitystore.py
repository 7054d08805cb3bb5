"""identitystore (JSON 1.1, ``AWSIdentityStore.<Op>``, SigV4 ``identitystore``): wire shapes <-> ``ssoidc.admin``.

Operations served (all of the model): CreateUser, DescribeUser, UpdateUser, DeleteUser, ListUsers, GetUserId,
CreateGroup, DescribeGroup, UpdateGroup, DeleteGroup, ListGroups, GetGroupId, CreateGroupMembership,
DescribeGroupMembership, DeleteGroupMembership, GetGroupMembershipId, ListGroupMemberships,
ListGroupMembershipsForMember, IsMemberInGroups.

Every call names the instance's identity store (``IdentityStoreId``), else ResourceNotFoundException with
ResourceType IDENTITY_STORE. Reads use the node's configuration snapshot; writes go through ``ConfigEditor.run``
(identitystore has no ClientToken). The domain functions and the cascades are in ``ssoidc.admin.directory``.

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

from collections.abc import Callable
from typing import Any

from botocore.model import Shape, StructureShape

from ssoidc.admin import directory as d
from ssoidc.admin.editor import ConfigEditor, Edit, empty_answer
from ssoidc.admin.paging import page
from ssoidc.admin.rules import ENTERPRISE, ENTERPRISE_ATTRIBUTES, check_enterprise_value, check_extension
from ssoidc.aws.models import ShapeError, service_model, validate
from ssoidc.aws.skeleton import Call
from ssoidc.errors import ValidationFailed
from ssoidc.model import Configuration, Email, ExternalId, Group, User

SERVICE = "identitystore"
TARGET_PREFIX = "AWSIdentityStore"
SIGNING_NAME = "identitystore"

#: Attributes IAM Identity Center requires on a user: CreateUser must set them and UpdateUser cannot remove them.
REQUIRED_USER_PATHS = ("UserName", "DisplayName", "Name", "Name.GivenName", "Name.FamilyName")
#: CreateUser members held by dedicated ``User`` fields; every other attribute member goes to ``User.profile``.
_USER_FIELDS = frozenset({"IdentityStoreId", "UserName", "Name", "DisplayName", "Emails", "Extensions"})

Out = dict[str, Any]


def _shape(name: str) -> StructureShape:
    shape = service_model(SERVICE).shape_for(name)
    assert isinstance(shape, StructureShape)
    return shape


def _profile_members() -> tuple[str, ...]:
    return tuple(m for m in _shape("CreateUserRequest").members if m not in _USER_FIELDS)


PROFILE_MEMBERS = _profile_members()


def _check(shape: Shape, value: Any, path: str) -> Any:
    try:
        return validate(shape, value, path, constraints=True)
    except ShapeError as exc:
        raise ValidationFailed(
            f"1 validation error detected: Value at '{exc.path}' {exc.message}", exc.path
        ) from None


# -- wire <-> domain ----------------------------------------------------------------------------------------------
def user_attributes(user: User) -> Out:
    """The user's attributes in CreateUser's shape (all of them, with every stored extension)."""
    out: Out = {"UserName": user.user_name}
    name: dict[str, Any] = {}
    if user.given_name:
        name["GivenName"] = user.given_name
    if user.family_name:
        name["FamilyName"] = user.family_name
    name.update(user.profile.get("Name", {}))
    if name:
        out["Name"] = name
    if user.display_name:
        out["DisplayName"] = user.display_name
    if user.emails:
        out["Emails"] = [email_out(e) for e in user.emails]
    for m in PROFILE_MEMBERS:
        if m in user.profile:
            out[m] = user.profile[m]
    exts = user.profile.get("Extensions")
    if isinstance(exts, dict) and exts:  # anything else is not an extension map (rules.check refuses it)
        out["Extensions"] = dict(exts)
    return out


def email_out(e: Email) -> Out:
    out: Out = {}
    if e.value:
        out["Value"] = e.value
    if e.type:
        out["Type"] = e.type
    if e.primary:
        out["Primary"] = True
    return out


def user_from_attributes(user_id: str, external_ids: tuple[ExternalId, ...], attrs: Out) -> User:
    """The domain user for attributes in CreateUser's shape (the inverse of ``user_attributes``)."""
    name = dict(attrs.get("Name", {}))
    given = name.pop("GivenName", "")
    family = name.pop("FamilyName", "")
    profile: dict[str, Any] = {m: attrs[m] for m in PROFILE_MEMBERS if m in attrs}
    if name:
        profile["Name"] = name
    if attrs.get("Extensions"):
        profile["Extensions"] = dict(attrs["Extensions"])
    return User(
        user_id=user_id,
        user_name=attrs["UserName"],
        display_name=attrs.get("DisplayName", ""),
        given_name=given,
        family_name=family,
        emails=tuple(
            Email(e.get("Value", ""), e.get("Type", ""), e.get("Primary", False))
            for e in attrs.get("Emails", [])
        ),
        external_ids=external_ids,
        profile=profile,
    )


def external_ids_out(xs: tuple[ExternalId, ...]) -> list[dict[str, str]]:
    return [{"Issuer": x.issuer, "Id": x.id} for x in xs]


def user_out(user: User, store_id: str, extensions: list[str] | None) -> Out:
    attrs = user_attributes(user)
    stored = attrs.pop("Extensions", {})
    out: Out = {"IdentityStoreId": store_id, "UserId": user.user_id, **attrs}
    if user.external_ids:
        out["ExternalIds"] = external_ids_out(user.external_ids)
    wanted = {n: stored[n] for n in (extensions or []) if n in stored}
    if wanted:
        out["Extensions"] = wanted
    return out


def group_out(g: Group, store_id: str) -> Out:
    out: Out = {"GroupId": g.group_id, "DisplayName": g.display_name}
    if g.external_ids:
        out["ExternalIds"] = external_ids_out(g.external_ids)
    if g.description:
        out["Description"] = g.description
    out["IdentityStoreId"] = store_id
    return out


def membership_out(m: d.Membership, store_id: str) -> Out:
    return {
        "IdentityStoreId": store_id,
        "MembershipId": m.membership_id,
        "GroupId": m.group_id,
        "MemberId": {"UserId": m.user_id},
    }


def _requested_extensions(inp: dict[str, Any]) -> list[str]:
    names: list[str] = inp.get("Extensions", [])
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
    for m in shape.members:
        if str(m).lower() == key:
            return str(m)
    return None


def _unsupported(path: str, where: str, i: int) -> ValidationFailed:
    return ValidationFailed(
        f"Unsupported attribute path {path} for a {where}", f"Operations[{i}].AttributePath"
    )


def apply_user_operations(user: User, operations: list[dict[str, Any]]) -> User:
    """``user`` with UpdateUser's ``Operations`` applied in order (raises ``ValidationFailed`` naming the path)."""
    attrs = user_attributes(user)
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
    return user_from_attributes(user.user_id, user.external_ids, attrs)


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


def apply_group_operations(group: Group, operations: list[dict[str, Any]]) -> Group:
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


def _unique_attribute(inp: dict[str, Any]) -> tuple[str, str]:
    """(lower-cased path, string value) of ``AlternateIdentifier.UniqueAttribute``."""
    ua = inp["AlternateIdentifier"]["UniqueAttribute"]
    value = ua["AttributeValue"]
    if not isinstance(value, str) or not value:
        raise ValidationFailed(
            "Value at 'AlternateIdentifier.UniqueAttribute.AttributeValue' must be a non-empty string",
            "AlternateIdentifier.UniqueAttribute.AttributeValue",
        )
    return str(ua["AttributePath"]).lower(), value


def _external_id(inp: dict[str, Any]) -> ExternalId:
    x = inp["AlternateIdentifier"]["ExternalId"]
    return ExternalId(x["Issuer"], x["Id"])


def _one_filter(inp: dict[str, Any], supported: str) -> str | None:
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

    async def _config(self, inp: dict[str, Any]) -> Configuration:
        config = (await self.editor.current()).config
        d.identity_store(config, inp["IdentityStoreId"])
        return config

    async def _write(
        self, call: Call, inp: dict[str, Any], change: Callable[[Configuration], Edit[Out]]
    ) -> Out:
        store_id = inp["IdentityStoreId"]

        def guarded(c: Configuration) -> Edit[Out]:
            d.identity_store(c, store_id)
            return change(c)

        return await self.editor.run(guarded, now=call.now)

    # -- users ----------------------------------------------------------------------------------------------------
    async def create_user(self, inp: dict[str, Any], call: Call) -> Out:
        for member in ("UserName", "DisplayName"):
            if member not in inp:
                raise ValidationFailed(f"{member} is required when used in IAM Identity Center", member)
        for member in ("GivenName", "FamilyName"):
            if member not in inp.get("Name", {}):
                raise ValidationFailed(
                    f"Name.{member} is required when used in IAM Identity Center", f"Name.{member}"
                )
        # the extensions are rules.check's (the same member paths: Extensions.<name>[.<attribute>])
        attrs = {k: v for k, v in inp.items() if k != "IdentityStoreId"}
        user = user_from_attributes("", (), attrs)

        def change(c: Configuration) -> Edit[Out]:
            e = d.create_user(c, user)
            return Edit(
                e.config, {"IdentityStoreId": inp["IdentityStoreId"], "UserId": e.result.user_id}, e.revoke
            )

        return await self._write(call, inp, change)

    async def describe_user(self, inp: dict[str, Any], call: Call) -> Out:
        extensions = _requested_extensions(inp)
        config = await self._config(inp)
        return user_out(d.get_user(config, inp["UserId"]), inp["IdentityStoreId"], extensions)

    async def update_user(self, inp: dict[str, Any], call: Call) -> Out:
        def change(c: Configuration) -> Edit[User]:
            return d.replace_user(c, apply_user_operations(d.get_user(c, inp["UserId"]), inp["Operations"]))

        return await self._write(call, inp, empty_answer(change))

    async def delete_user(self, inp: dict[str, Any], call: Call) -> Out:
        return await self._write(call, inp, empty_answer(lambda c: d.delete_user(c, inp["UserId"])))

    async def list_users(self, inp: dict[str, Any], call: Call) -> Out:
        extensions = _requested_extensions(inp)
        config = await self._config(inp)
        wanted = _one_filter(inp, "UserName")
        items = list(config.users) if wanted is None else d.users_named(config, wanted)
        chunk, nxt = page(items, lambda u: u.user_id, inp.get("NextToken"), inp.get("MaxResults"))
        out: Out = {"Users": [user_out(u, inp["IdentityStoreId"], extensions) for u in chunk]}
        if nxt:
            out["NextToken"] = nxt
        return out

    async def get_user_id(self, inp: dict[str, Any], call: Call) -> Out:
        config = await self._config(inp)
        alt = inp["AlternateIdentifier"]
        if "ExternalId" in alt:
            found = d.users_with_external_id(config, _external_id(inp))
        else:
            path, value = _unique_attribute(inp)
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
    async def create_group(self, inp: dict[str, Any], call: Call) -> Out:
        if "DisplayName" not in inp:
            raise ValidationFailed("DisplayName is required", "DisplayName")

        def change(c: Configuration) -> Edit[Out]:
            e = d.create_group(c, display_name=inp["DisplayName"], description=inp.get("Description", ""))
            return Edit(
                e.config, {"GroupId": e.result.group_id, "IdentityStoreId": inp["IdentityStoreId"]}, e.revoke
            )

        return await self._write(call, inp, change)

    async def describe_group(self, inp: dict[str, Any], call: Call) -> Out:
        config = await self._config(inp)
        return group_out(d.get_group(config, inp["GroupId"]), inp["IdentityStoreId"])

    async def update_group(self, inp: dict[str, Any], call: Call) -> Out:
        def change(c: Configuration) -> Edit[Group]:
            return d.replace_group(
                c, apply_group_operations(d.get_group(c, inp["GroupId"]), inp["Operations"])
            )

        return await self._write(call, inp, empty_answer(change))

    async def delete_group(self, inp: dict[str, Any], call: Call) -> Out:
        return await self._write(call, inp, empty_answer(lambda c: d.delete_group(c, inp["GroupId"])))

    async def list_groups(self, inp: dict[str, Any], call: Call) -> Out:
        config = await self._config(inp)
        wanted = _one_filter(inp, "DisplayName")
        items = list(config.groups) if wanted is None else d.groups_named(config, wanted)
        chunk, nxt = page(items, lambda g: g.group_id, inp.get("NextToken"), inp.get("MaxResults"))
        out: Out = {"Groups": [group_out(g, inp["IdentityStoreId"]) for g in chunk]}
        if nxt:
            out["NextToken"] = nxt
        return out

    async def get_group_id(self, inp: dict[str, Any], call: Call) -> Out:
        config = await self._config(inp)
        alt = inp["AlternateIdentifier"]
        if "ExternalId" in alt:
            found = d.groups_with_external_id(config, _external_id(inp))
        else:
            path, value = _unique_attribute(inp)
            if path != "displayname":
                raise ValidationFailed(
                    "Unsupported unique attribute path for a group; use displayName",
                    "AlternateIdentifier.UniqueAttribute.AttributePath",
                )
            found = d.groups_named(config, value)
        return {"GroupId": d.only(found, "GROUP"), "IdentityStoreId": inp["IdentityStoreId"]}

    # -- memberships ----------------------------------------------------------------------------------------------
    async def create_group_membership(self, inp: dict[str, Any], call: Call) -> Out:
        def change(c: Configuration) -> Edit[Out]:
            e = d.create_membership(c, inp["GroupId"], inp["MemberId"]["UserId"])
            return Edit(
                e.config, {"MembershipId": e.result.membership_id, "IdentityStoreId": inp["IdentityStoreId"]}
            )

        return await self._write(call, inp, change)

    async def describe_group_membership(self, inp: dict[str, Any], call: Call) -> Out:
        config = await self._config(inp)
        return membership_out(d.get_membership(config, inp["MembershipId"]), inp["IdentityStoreId"])

    async def delete_group_membership(self, inp: dict[str, Any], call: Call) -> Out:
        return await self._write(
            call, inp, empty_answer(lambda c: d.delete_membership(c, inp["MembershipId"]))
        )

    async def get_group_membership_id(self, inp: dict[str, Any], call: Call) -> Out:
        config = await self._config(inp)
        m = d.find_membership(config, inp["GroupId"], inp["MemberId"]["UserId"])
        return {"MembershipId": m.membership_id, "IdentityStoreId": inp["IdentityStoreId"]}

    async def list_group_memberships(self, inp: dict[str, Any], call: Call) -> Out:
        config = await self._config(inp)
        group = d.get_group(config, inp["GroupId"])
        items = [
            d.Membership(d.membership_id(group.group_id, u), group.group_id, u) for u in group.member_user_ids
        ]
        return self._memberships_page(items, inp)

    async def list_group_memberships_for_member(self, inp: dict[str, Any], call: Call) -> Out:
        config = await self._config(inp)
        user = d.get_user(config, inp["MemberId"]["UserId"])
        return self._memberships_page(d.groups_of(config, user.user_id), inp)

    def _memberships_page(self, items: list[d.Membership], inp: dict[str, Any]) -> Out:
        chunk, nxt = page(items, lambda m: m.membership_id, inp.get("NextToken"), inp.get("MaxResults"))
        out: Out = {"GroupMemberships": [membership_out(m, inp["IdentityStoreId"]) for m in chunk]}
        if nxt:
            out["NextToken"] = nxt
        return out

    async def is_member_in_groups(self, inp: dict[str, Any], call: Call) -> Out:
        config = await self._config(inp)
        user = d.get_user(config, inp["MemberId"]["UserId"])
        member_of = {g.group_id for g in config.groups if user.user_id in g.member_user_ids}
        return {
            "Results": [
                {"GroupId": gid, "MemberId": {"UserId": user.user_id}, "MembershipExists": gid in member_of}
                for gid in inp["GroupIds"]
            ]
        }

"""One PascalCase <-> domain mapping per entity, for the sso-admin and identitystore wire shapes.

The shapes are the generated TypedDicts of ``ssoidc.aws.shapes`` (from the botocore ``sso-admin`` and
``identitystore`` service models); the domain is ``ssoidc.model``. Each entity has a ``<entity>_to_shape`` and,
where something reads the shape back, a ``<entity>_from_shape``. The admin handlers (``ssoidc.aws.sso_admin``,
``ssoidc.aws.identitystore``) and the configuration file (``ssoidc.config.apply`` / ``export``, whose members
are the same PascalCase names) both use them, so a member is spelled and converted in one place.

The grant union (``Grant``) is mapped elsewhere, with the grant types.

Wire mapping of a user: ``UserName``, ``DisplayName``, ``Name.GivenName``/``Name.FamilyName`` and ``Emails``
map to the domain ``User`` fields; every other modelled attribute (``NickName``, ``Addresses``,
``PhoneNumbers``, ``Photos``, ``Roles``, ``Name.MiddleName``..., ``Extensions``) is kept verbatim in
``User.profile``. Empty values are never stored: an absent email ``Type`` is ``""`` and an absent ``Primary`` is
false, so ``Primary`` is written only when true.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from ssoidc.aws.models import service_model
from ssoidc.aws.shapes import identitystore as ids
from ssoidc.aws.shapes import sso_admin as sa
from ssoidc.errors import ValidationFailed
from ssoidc.ids import identitystore_arn
from ssoidc.model import (
    AccessControlAttribute,
    AccessScope,
    Application,
    Assignment,
    Configuration,
    Email,
    ExternalId,
    Group,
    Instance,
    Membership,
    Region,
    TrustedTokenIssuer,
    User,
)

#: CreateUser members held by dedicated ``User`` fields; every other attribute member goes to ``User.profile``.
_USER_FIELDS = frozenset({"IdentityStoreId", "UserName", "Name", "DisplayName", "Emails", "Extensions"})
#: The CreateUser members kept verbatim in ``User.profile`` (NickName, Addresses, ...), in model order.
PROFILE_MEMBERS = tuple(
    m for m in service_model("identitystore").shape_for("CreateUserRequest").members if m not in _USER_FIELDS
)


# -- tags ---------------------------------------------------------------------------------------------------------
def tags_to_shape(tags: Mapping[str, str]) -> list[sa.Tag]:
    """Tags as a ``Tags`` list, sorted by key."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def tags_from_shape(tags: Iterable[sa.Tag] | None) -> dict[str, str]:
    """A ``Tags`` list as a mapping; a key given twice is refused naming it (the limits: ``rules.check``)."""
    out: dict[str, str] = {}
    for i, t in enumerate(tags or []):
        if t["Key"] in out:
            raise ValidationFailed(f"Tag key {t['Key']!r} is given more than once", f"Tags[{i}].Key")
        out[t["Key"]] = t.get("Value", "")
    return out


# -- instance -----------------------------------------------------------------------------------------------------
def region_to_shape(r: Region, is_primary: bool) -> sa.RegionMetadata:
    """A region of the instance (ListRegions, DescribeRegion, ``Regions``): always ACTIVE (nothing to replicate)."""
    return {"RegionName": r.name, "Status": "ACTIVE", "AddedDate": r.added_at, "IsPrimaryRegion": is_primary}


def instance_metadata_to_shape(i: Instance, regions: Sequence[tuple[Region, bool]]) -> sa.InstanceMetadata:
    """ListInstances' item; ``regions``: the instance's regions, the primary first (``admin.instance.regions``)."""
    return {
        "InstanceArn": i.instance_arn,
        "IdentityStoreId": i.identity_store_id,
        "IdentityStoreArn": i.identity_store_arn,
        "OwnerAccountId": i.owner_account_id,
        "Name": i.name,
        "CreatedDate": i.created_at,
        "Status": cast(sa.InstanceStatus, i.status),  # the domain keeps the modelled values (CreateInstance)
        "PrimaryRegion": regions[0][0].name,
        "Regions": [region_to_shape(r, p) for r, p in regions],
    }


def instance_to_shape(i: Instance, regions: Sequence[tuple[Region, bool]]) -> sa.DescribeInstanceResponse:
    """DescribeInstance's answer: the ``InstanceMetadata`` members, no VPC endpoint requirement (ssoidc has no
    VPC endpoints; UpdateInstance refuses one) and permission sets enabled (they cannot be disabled)."""
    out = cast(sa.DescribeInstanceResponse, dict(instance_metadata_to_shape(i, regions)))  # its members, and:
    out["NetworkConfigurationDetails"] = {"VpceAccessRequired": False}
    out["PermissionSetsEnabled"] = True
    return out


def access_control_attributes_to_shape(
    attributes: Iterable[AccessControlAttribute],
) -> sa.InstanceAccessControlAttributeConfiguration:
    return {"AccessControlAttributes": [{"Key": a.key, "Value": {"Source": [a.source]}} for a in attributes]}


def access_control_attributes_from_shape(
    shape: sa.InstanceAccessControlAttributeConfiguration,
) -> tuple[AccessControlAttribute, ...]:
    """The attributes (the model allows exactly one ``Source`` per attribute)."""
    return tuple(
        AccessControlAttribute(a["Key"], a["Value"]["Source"][0]) for a in shape["AccessControlAttributes"]
    )


# -- applications -------------------------------------------------------------------------------------------------
def portal_options_to_shape(a: Application) -> sa.PortalOptions:
    sign_in: sa.SignInOptions = {"Origin": cast(sa.SignInOrigin, a.sign_in_origin)}
    if a.application_url:
        sign_in["ApplicationUrl"] = a.application_url
    return {"SignInOptions": sign_in, "Visibility": cast(sa.ApplicationVisibility, a.portal_visibility)}


def application_to_shape(a: Application, config: Configuration, region: str) -> sa.Application:
    """DescribeApplication's answer (the grants, scopes and authentication methods have their own operations)."""
    out: sa.Application = {
        "ApplicationArn": a.arn,
        "ApplicationProviderArn": a.provider_arn,
        "Name": a.name,
        "ApplicationAccount": config.instance.owner_account_id,
        "InstanceArn": a.instance_arn,
        "IdentityStoreArn": config.instance.identity_store_arn,
        "Status": cast(sa.ApplicationStatus, a.status),
        "PortalOptions": portal_options_to_shape(a),
        "CreatedDate": a.created_at,
        "CreatedFrom": region,
    }
    if a.description:
        out["Description"] = a.description
    return out


def application_from_shape(
    shape: sa.CreateApplicationRequest, *, arn: str = "", created_at: float = 0.0
) -> Application:
    """The domain application CreateApplication describes (grants, scopes and policy are added separately)."""
    portal = shape.get("PortalOptions", {})
    sign_in = portal.get("SignInOptions", {"Origin": "IDENTITY_CENTER"})
    return Application(
        arn=arn,
        name=shape["Name"],
        instance_arn=shape["InstanceArn"],
        provider_arn=shape["ApplicationProviderArn"],
        status=shape.get("Status", "ENABLED"),
        description=shape.get("Description", ""),
        created_at=created_at,
        tags=tags_from_shape(shape.get("Tags")),
        portal_visibility=portal.get("Visibility", "ENABLED"),
        sign_in_origin=sign_in["Origin"],
        application_url=sign_in.get("ApplicationUrl", ""),
    )


# -- authentication methods ---------------------------------------------------------------------------------------
def authentication_method_to_shape(policy: Mapping[str, Any]) -> sa.AuthenticationMethod:
    """The IAM authentication method: the ActorPolicy travels as an embedded JSON document, never a string."""
    return {"Iam": {"ActorPolicy": policy}}


def authentication_method_from_shape(shape: sa.AuthenticationMethod) -> Mapping[str, Any]:
    """The ActorPolicy of an IAM authentication method (the only type; the union requires its member)."""
    policy: Mapping[str, Any] = shape["Iam"]["ActorPolicy"]
    return policy


# -- access scopes ------------------------------------------------------------------------------------------------
def access_scope_to_shape(s: AccessScope) -> sa.ScopeDetails:
    out: sa.ScopeDetails = {"Scope": s.scope}
    if s.authorized_targets:
        out["AuthorizedTargets"] = list(s.authorized_targets)
    return out


def access_scope_from_shape(shape: sa.ScopeDetails) -> AccessScope:
    return AccessScope(shape["Scope"], tuple(shape.get("AuthorizedTargets", ())))


# -- assignments --------------------------------------------------------------------------------------------------
def assignment_to_shape(a: Assignment) -> sa.ApplicationAssignment:
    return {
        "ApplicationArn": a.application_arn,
        "PrincipalId": a.principal_id,
        "PrincipalType": a.principal_type,
    }


def principal_assignment_to_shape(a: Assignment) -> sa.ApplicationAssignmentForPrincipal:
    """ListApplicationAssignmentsForPrincipal's item (the same members as an ``ApplicationAssignment``)."""
    return {
        "ApplicationArn": a.application_arn,
        "PrincipalId": a.principal_id,
        "PrincipalType": a.principal_type,
    }


def assignment_from_shape(shape: sa.ApplicationAssignment) -> Assignment:
    return Assignment(shape["ApplicationArn"], shape["PrincipalType"], shape["PrincipalId"])


# -- trusted token issuers ----------------------------------------------------------------------------------------
def oidc_jwt_configuration_to_shape(t: TrustedTokenIssuer) -> sa.OidcJwtConfiguration:
    return {
        "IssuerUrl": t.issuer_url,
        "ClaimAttributePath": t.claim_attribute_path,
        "IdentityStoreAttributePath": t.identity_store_attribute_path,
        "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
    }


def trusted_token_issuer_to_shape(t: TrustedTokenIssuer) -> sa.DescribeTrustedTokenIssuerResponse:
    return {
        "TrustedTokenIssuerArn": t.arn,
        "Name": t.name,
        "TrustedTokenIssuerType": "OIDC_JWT",
        "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": oidc_jwt_configuration_to_shape(t)},
    }


def trusted_token_issuer_metadata(t: TrustedTokenIssuer) -> sa.TrustedTokenIssuerMetadata:
    """ListTrustedTokenIssuers' summary of an issuer."""
    return {"TrustedTokenIssuerArn": t.arn, "Name": t.name, "TrustedTokenIssuerType": "OIDC_JWT"}


def trusted_token_issuer_from_shape(
    name: str, configuration: sa.TrustedTokenIssuerConfiguration, *, arn: str = ""
) -> TrustedTokenIssuer:
    """The domain issuer a ``TrustedTokenIssuerConfiguration`` (OIDC_JWT, the one type) describes."""
    oidc = configuration["OidcJwtConfiguration"]
    return TrustedTokenIssuer(
        arn=arn,
        name=name,
        issuer_url=oidc["IssuerUrl"],
        claim_attribute_path=oidc["ClaimAttributePath"],
        identity_store_attribute_path=oidc["IdentityStoreAttributePath"],
    )


# -- identitystore: external ids, users, groups, memberships ------------------------------------------------------
def external_ids_to_shape(xs: Iterable[ExternalId]) -> list[ids.ExternalId]:
    return [{"Issuer": x.issuer, "Id": x.id} for x in xs]


def external_id_from_shape(x: ids.ExternalId) -> ExternalId:
    return ExternalId(x["Issuer"], x["Id"])


def external_ids_from_shape(xs: Iterable[ids.ExternalId] | None) -> tuple[ExternalId, ...]:
    return tuple(external_id_from_shape(x) for x in xs or ())


def email_to_shape(e: Email) -> ids.Email:
    out: ids.Email = {}
    if e.value:
        out["Value"] = e.value
    if e.type:
        out["Type"] = e.type
    if e.primary:
        out["Primary"] = True
    return out


def email_from_shape(e: ids.Email) -> Email:
    return Email(e.get("Value", ""), e.get("Type", ""), e.get("Primary", False))


def user_to_shape(user: User, store_id: str) -> ids.User:
    """The user with all its attributes (every stored extension) in identitystore's ``User`` shape."""
    out: ids.User = {
        "IdentityStoreId": store_id,
        "UserId": user.user_id,
        "UserArn": identitystore_arn("user", user.user_id),
        "Revision": str(user.revision),
        "UserName": user.user_name,
    }
    name: ids.Name = {}
    if user.given_name:
        name["GivenName"] = user.given_name
    if user.family_name:
        name["FamilyName"] = user.family_name
    name.update(user.profile.get("Name", {}))  # the other Name members, stored verbatim
    if name:
        out["Name"] = name
    if user.display_name:
        out["DisplayName"] = user.display_name
    if user.emails:
        out["Emails"] = [email_to_shape(e) for e in user.emails]
    free: dict[str, Any] = cast(dict[str, Any], out)  # the profile members are named by the model at run time
    for m in PROFILE_MEMBERS:
        if m in user.profile:
            free[m] = user.profile[m]
    if user.external_ids:
        out["ExternalIds"] = external_ids_to_shape(user.external_ids)
    exts = user.profile.get("Extensions")
    if isinstance(exts, dict) and exts:  # anything else is not an extension map (rules.check refuses it)
        out["Extensions"] = dict(exts)
    return out


def user_from_shape(shape: Mapping[str, Any]) -> User:
    """The domain user for a ``User`` / ``CreateUserRequest``-shaped mapping (the inverse of ``user_to_shape``;
    ``UserId`` and ``ExternalIds`` default to none, as CreateUser has neither)."""
    name = dict(shape.get("Name", {}))
    given = name.pop("GivenName", "")
    family = name.pop("FamilyName", "")
    profile: dict[str, Any] = {m: shape[m] for m in PROFILE_MEMBERS if m in shape}
    if name:
        profile["Name"] = name
    if shape.get("Extensions"):
        profile["Extensions"] = dict(shape["Extensions"])
    return User(
        user_id=shape.get("UserId", ""),
        user_name=shape["UserName"],
        display_name=shape.get("DisplayName", ""),
        given_name=given,
        family_name=family,
        emails=tuple(email_from_shape(e) for e in shape.get("Emails", [])),
        external_ids=external_ids_from_shape(shape.get("ExternalIds")),
        profile=profile,
    )


def group_to_shape(g: Group, store_id: str) -> ids.Group:
    out: ids.Group = {
        "GroupId": g.group_id,
        "GroupArn": identitystore_arn("group", g.group_id),
        "Revision": str(g.revision),
        "DisplayName": g.display_name,
        "IdentityStoreId": store_id,
    }
    if g.external_ids:
        out["ExternalIds"] = external_ids_to_shape(g.external_ids)
    if g.description:
        out["Description"] = g.description
    return out


def group_from_shape(shape: Mapping[str, Any], member_user_ids: Iterable[str] = ()) -> Group:
    """The domain group for a ``Group`` / ``CreateGroupRequest``-shaped mapping (CreateGroup has no ``GroupId``)."""
    return Group(
        group_id=shape.get("GroupId", ""),
        display_name=shape.get("DisplayName", ""),
        description=shape.get("Description", ""),
        member_user_ids=tuple(dict.fromkeys(member_user_ids)),
        external_ids=external_ids_from_shape(shape.get("ExternalIds")),
    )


def membership_to_shape(m: Membership, store_id: str) -> ids.DescribeGroupMembershipResponse:
    return {
        "IdentityStoreId": store_id,
        "MembershipId": m.membership_id,
        "MembershipArn": identitystore_arn("membership", m.membership_id),
        "GroupId": m.group_id,
        "MemberId": {"UserId": m.user_id},
    }

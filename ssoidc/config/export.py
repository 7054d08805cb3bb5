"""``ssoidc export``: the live configuration as a declarative file that ``ssoidc apply`` turns back into it.

The exact inverse of ``ssoidc.config.apply.resolve``: for every valid configuration ``c`` with an ACTIVE instance,
``resolve(parse_file(export_configuration(c)), anything, c.instance.owner_account_id) == c`` (dataclass equality)
and exporting that result gives the same text again. To get there the file:

* pins every identifier (``InstanceArn``, ``IdentityStoreId``, ``TrustedTokenIssuerArn``, ``ApplicationArn``,
  ``UserId``, ``GroupId``) and every ``CreatedDate``;
* writes references as ARNs and ids (grant issuers, access-scope targets, assignments, group members), so
  renaming an entity in the file later never re-points a reference;
* lists assignments under their application, in the order they are stored;
* omits members equal to the file's defaults (``Status: ENABLED``, ``RefreshToken: {}`` has no members,
  ``AllowedAlgorithms: [RS256]``, ``Type: work``...), so the file stays readable;
* writes ``CreatedDate`` as an ISO 8601 timestamp when that is exact, else as epoch seconds.

A DELETED instance (sso-admin DeleteInstance) holds nothing and is not exported: the document is empty apart
from a comment, and applying it creates a new, empty instance with new identifiers, as CreateInstance would.
A profile attribute the file cannot express makes the export fail (``ConfigError``) rather than lose it.
Every entity is first mapped to its sso-admin / identitystore wire shape by ``ssoidc.aws.mapping`` (the one
PascalCase mapping the admin APIs use); this module only orders the members as the schema does, drops the
members the file does not hold (``IdentityStoreId``, ``CreatedFrom``...) or defaults, and adds the file's own
(``Members`` of a group, ``Assignments`` of an application, ``AllowedAlgorithms`` of an issuer). The file's
defaults differ from the wire's in one place: an email's ``Type`` defaults to ``work`` and ``Primary`` to true.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import yaml
from pydantic import BaseModel

from ssoidc.admin.applications import CUSTOM_PROVIDER
from ssoidc.aws.mapping import (
    access_control_attributes_to_shape,
    access_scope_to_shape,
    application_to_shape,
    assignment_to_shape,
    authentication_method_to_shape,
    email_to_shape,
    group_to_shape,
    oidc_jwt_configuration_to_shape,
    tags_to_shape,
    user_to_shape,
)
from ssoidc.config.schema import (
    NAME_PROFILE_MEMBERS,
    PROFILE_MEMBERS,
    AddressSpec,
    PhoneNumberSpec,
    PhotoSpec,
)
from ssoidc.errors import ConfigError
from ssoidc.model import (
    Account,
    AccountAssignment,
    Application,
    Configuration,
    Email,
    Group,
    Instance,
    PermissionSet,
    Role,
    TrustedTokenIssuer,
    User,
)
from ssoidc.oauth.grants.registry import GRANTS

_RECORDS: dict[str, type[BaseModel]] = {
    "Addresses": AddressSpec,
    "PhoneNumbers": PhoneNumberSpec,
    "Roles": PhoneNumberSpec,
    "Photos": PhotoSpec,
}


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]  # libyaml when present
    """PyYAML's safe dumper, but strings holding a line separator other than ``\\n`` are double-quoted: in the
    other styles PyYAML folds NEL, U+2028 and U+2029 into spaces or line feeds, which would change the value.
    It never writes anchors and aliases: a value shared by two members is written out twice, so the text does not
    depend on which objects happen to be shared in memory."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if any(ch in "\x85\u2028\u2029\r" for ch in data):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
    return dumper.represent_str(data)


_Dumper.add_representer(str, _represent_str)


def _timestamp(value: float) -> datetime | float:
    """An aware UTC date-time if it converts back to exactly ``value``, else the epoch seconds themselves."""
    try:
        dt = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return value
    return dt if dt.timestamp() == value else value


def _with_tags(out: dict[str, Any], tags: Mapping[str, str]) -> dict[str, Any]:
    if tags:
        out["Tags"] = tags_to_shape(tags)
    return out


def _instance(i: Instance) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Name": i.name,
        "InstanceArn": i.instance_arn,
        "IdentityStoreId": i.identity_store_id,
        "CreatedDate": _timestamp(i.created_at),
    }
    _with_tags(out, i.tags)
    if i.regions:
        out["Regions"] = [{"RegionName": r.name, "AddedDate": _timestamp(r.added_at)} for r in i.regions]
    if i.access_control_attributes is not None:
        out["InstanceAccessControlAttributeConfiguration"] = access_control_attributes_to_shape(
            i.access_control_attributes
        )
    if i.identity_store_api_allow_ips or i.identity_store_scim_allow_ips:
        network: dict[str, Any] = {}
        if i.identity_store_api_allow_ips:
            network["ApiAllowSourceIps"] = list(i.identity_store_api_allow_ips)
        if i.identity_store_scim_allow_ips:
            network["ScimAllowSourceIps"] = list(i.identity_store_scim_allow_ips)
        out["IdentityStoreNetworkConfiguration"] = network
    return out


def _issuer(t: TrustedTokenIssuer) -> dict[str, Any]:
    oidc: dict[str, Any] = {**oidc_jwt_configuration_to_shape(t)}
    del oidc["JwksRetrievalOption"]  # OPEN_ID_DISCOVERY, the only value and the file's default
    out: dict[str, Any] = {
        "Name": t.name,
        "TrustedTokenIssuerArn": t.arn,
        "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": oidc},
    }
    if tuple(t.allowed_algorithms) != ("RS256",):
        out["AllowedAlgorithms"] = list(t.allowed_algorithms)
    if t.accept_unverified_email:
        out["AcceptUnverifiedEmail"] = True
    return _with_tags(out, t.tags)


def _application(a: Application, config: Configuration) -> dict[str, Any]:
    shape = application_to_shape(a, config, region="")  # the wire's mapping; the file omits its defaults
    out: dict[str, Any] = {"Name": a.name, "ApplicationArn": a.arn}
    if shape["ApplicationProviderArn"] != CUSTOM_PROVIDER:
        out["ApplicationProviderArn"] = shape["ApplicationProviderArn"]
    if "Description" in shape:
        out["Description"] = shape["Description"]
    if shape["Status"] != "ENABLED":
        out["Status"] = shape["Status"]
    out["CreatedDate"] = _timestamp(a.created_at)
    portal: dict[str, Any] = {}
    sign_in: dict[str, Any] = dict(shape["PortalOptions"]["SignInOptions"])
    if sign_in["Origin"] == "IDENTITY_CENTER":
        del sign_in["Origin"]
    if sign_in:
        portal["SignInOptions"] = sign_in
    if shape["PortalOptions"]["Visibility"] != "ENABLED":
        portal["Visibility"] = shape["PortalOptions"]["Visibility"]
    if portal:
        out["PortalOptions"] = portal
    if a.user_background_sessions:
        out["UserBackgroundSessionApplicationStatus"] = "ENABLED"
    out["AssignmentRequired"] = a.assignment_required
    if a.grants:
        order = {gt: i for i, gt in enumerate(GRANTS.uris)}
        out["Grants"] = {
            gt: GRANTS.union_of(a.grants[gt])
            for gt in sorted(a.grants, key=lambda k: order.get(k, len(order)))
        }
    if a.actor_policy is not None:
        out["AuthenticationMethods"] = {"IAM": authentication_method_to_shape(a.actor_policy)}
    if a.access_scopes:
        out["AccessScopes"] = [access_scope_to_shape(s) for s in a.access_scopes]
    assigned = [
        {"PrincipalType": x["PrincipalType"], "PrincipalId": x["PrincipalId"]}
        for x in map(assignment_to_shape, config.assignments)
        if x["ApplicationArn"] == a.arn
    ]
    if assigned:
        out["Assignments"] = assigned
    return _with_tags(out, a.tags)


def _email(e: Email) -> dict[str, Any]:
    """An email as the file writes it: the wire's members, less the file's defaults (``Type: work``,
    ``Primary: true``), plus what the wire leaves out but the file does not default to (no type, not primary)."""
    item: dict[str, Any] = dict(email_to_shape(e))
    if item.get("Type") == "work":
        del item["Type"]
    elif "Type" not in item:
        item["Type"] = ""
    if not item.pop("Primary", False):
        item["Primary"] = False
    return item


#: The order of a user's members in the file (the schema's), and of the members of its ``Name``.
_USER_ORDER = ("UserName", "UserId", "DisplayName", "Name", "Emails", "ExternalIds", *PROFILE_MEMBERS)
_NAME_ORDER = ("GivenName", "FamilyName", *NAME_PROFILE_MEMBERS)


def _user(u: User) -> dict[str, Any]:
    profile = u.profile
    unknown = sorted(set(profile) - {"Name", *PROFILE_MEMBERS})
    extra_name = profile.get("Name") or {}
    unknown += [f"Name.{k}" for k in sorted(set(extra_name) - set(NAME_PROFILE_MEMBERS))]
    for member, model in _RECORDS.items():
        for i, rec in enumerate(profile.get(member) or ()):
            unknown += [f"{member}[{i}].{k}" for k in sorted(set(rec) - set(model.model_fields))]
    if unknown:
        raise ConfigError(
            f"user {u.user_name!r}: profile attributes {', '.join(unknown)} cannot be written to a configuration"
            " file"
        )
    shape: dict[str, Any] = dict(user_to_shape(u, ""))  # the wire's mapping, in the file's order and defaults
    if "Name" in shape:
        shape["Name"] = {k: shape["Name"][k] for k in _NAME_ORDER if k in shape["Name"]}
    if "Emails" in shape:
        shape["Emails"] = [_email(e) for e in u.emails]
    for member, model in _RECORDS.items():  # record members in the schema's order, so the text is canonical
        if member in shape:
            shape[member] = [{k: rec[k] for k in model.model_fields if k in rec} for rec in shape[member]]
    return {k: shape[k] for k in _USER_ORDER if k in shape}


_GROUP_ORDER = ("DisplayName", "GroupId", "Description", "Members", "ExternalIds")


def _group(g: Group) -> dict[str, Any]:
    shape: dict[str, Any] = dict(group_to_shape(g, ""))  # the wire's mapping, plus the file's Members
    if g.member_user_ids:
        shape["Members"] = list(g.member_user_ids)
    return {k: shape[k] for k in _GROUP_ORDER if k in shape}


def _account(a: Account) -> dict[str, Any]:
    return {"AccountId": a.account_id, "Name": a.name, "Email": a.email}


def _permission_set(p: PermissionSet) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": p.name, "PermissionSetArn": p.arn}
    if p.description:
        out["Description"] = p.description
    if p.session_duration != "PT1H":
        out["SessionDuration"] = p.session_duration
    if p.relay_state:
        out["RelayState"] = p.relay_state
    out["CreatedDate"] = _timestamp(p.created_at)
    if p.inline_policy is not None:
        out["InlinePolicy"] = dict(p.inline_policy)
    if p.managed_policy_arns:
        out["ManagedPolicyArns"] = list(p.managed_policy_arns)
    if p.customer_managed_policies:
        out["CustomerManagedPolicyReferences"] = [
            {"Name": r.name, "Path": r.path} for r in p.customer_managed_policies
        ]
    b = p.permissions_boundary
    if b is not None:
        ref = b.customer_managed_policy_reference
        out["PermissionsBoundary"] = (
            {"ManagedPolicyArn": b.managed_policy_arn}
            if ref is None
            else {"CustomerManagedPolicyReference": {"Name": ref.name, "Path": ref.path}}
        )
    return _with_tags(out, p.tags)


def _account_assignment(a: AccountAssignment) -> dict[str, Any]:
    return {
        "TargetId": a.account_id,
        "PermissionSetArn": a.permission_set_arn,
        "PrincipalType": a.principal_type,
        "PrincipalId": a.principal_id,
    }


def _role(r: Role) -> dict[str, Any]:
    """A role as IAM CreateRole names its members (documents as mappings), less the file's defaults."""
    out: dict[str, Any] = {"RoleName": r.role_name}
    if r.path != "/":
        out["Path"] = r.path
    out["AssumeRolePolicyDocument"] = dict(r.trust_policy)
    if r.max_session_duration != 3600:
        out["MaxSessionDuration"] = r.max_session_duration
    if r.description:
        out["Description"] = r.description
    if r.policies:
        out["Policies"] = [{"PolicyName": k, "PolicyDocument": dict(v)} for k, v in r.policies.items()]
    out["CreatedDate"] = _timestamp(r.created_at)
    return out


def export_document(config: Configuration) -> dict[str, Any]:
    """The configuration file as a plain document (empty for a DELETED instance)."""
    if config.instance.status != "ACTIVE":
        return {}
    doc: dict[str, Any] = {"Instance": _instance(config.instance)}
    if config.trusted_token_issuers:
        doc["TrustedTokenIssuers"] = [_issuer(t) for t in config.trusted_token_issuers]
    if config.applications:
        doc["Applications"] = [_application(a, config) for a in config.applications]
    if config.users:
        doc["Users"] = [_user(u) for u in config.users]
    if config.groups:
        doc["Groups"] = [_group(g) for g in config.groups]
    if config.accounts:
        doc["Accounts"] = [_account(a) for a in config.accounts]
    if config.permission_sets:
        doc["PermissionSets"] = [_permission_set(p) for p in config.permission_sets]
    if config.account_assignments:
        doc["AccountAssignments"] = [_account_assignment(a) for a in config.account_assignments]
    if config.roles:
        doc["Roles"] = [_role(r) for r in config.roles]
    return doc


def export_configuration(config: Configuration) -> str:
    """The live configuration as YAML for ``ssoidc apply``; see the module docstring for the guarantees."""
    inst = config.instance
    if inst.status != "ACTIVE":
        return (
            f"# The instance {inst.instance_arn} was deleted (sso-admin DeleteInstance): there is nothing to export.\n"
            "# Applying this file creates a new, empty instance with new identifiers.\n"
            "{}\n"
        )
    header = (
        f"# ssoidc configuration of instance {inst.instance_arn} (account {inst.owner_account_id}),\n"
        "# written by `ssoidc export`; `ssoidc apply` turns it back into exactly this configuration.\n"
    )
    body = yaml.dump(
        export_document(config),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return header + body

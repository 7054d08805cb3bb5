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
Members written exactly as on the sso-admin / identitystore wire (tags, external ids, access scopes, the IAM
authentication method, the OIDC JWT configuration) come from ``ssoidc.aws.mapping``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import yaml
from pydantic import BaseModel

from ssoidc.admin.applications import CUSTOM_PROVIDER
from ssoidc.aws.mapping import (
    access_scope_to_shape,
    authentication_method_to_shape,
    external_ids_to_shape,
    oidc_jwt_configuration_to_shape,
    tags_to_shape,
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
    Application,
    Configuration,
    Group,
    Instance,
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


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, but strings holding a line separator other than ``\\n`` are double-quoted: in the
    other styles PyYAML folds NEL, U+2028 and U+2029 into spaces or line feeds, which would change the value."""


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
    return _with_tags(out, i.tags)


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
    return _with_tags(out, t.tags)


def _application(a: Application, config: Configuration) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": a.name, "ApplicationArn": a.arn}
    if a.provider_arn != CUSTOM_PROVIDER:
        out["ApplicationProviderArn"] = a.provider_arn
    if a.description:
        out["Description"] = a.description
    if a.status != "ENABLED":
        out["Status"] = a.status
    out["CreatedDate"] = _timestamp(a.created_at)
    portal: dict[str, Any] = {}
    sign_in: dict[str, Any] = {}
    if a.sign_in_origin != "IDENTITY_CENTER":
        sign_in["Origin"] = a.sign_in_origin
    if a.application_url:
        sign_in["ApplicationUrl"] = a.application_url
    if sign_in:
        portal["SignInOptions"] = sign_in
    if a.portal_visibility != "ENABLED":
        portal["Visibility"] = a.portal_visibility
    if portal:
        out["PortalOptions"] = portal
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
        {"PrincipalType": x.principal_type, "PrincipalId": x.principal_id}
        for x in config.assignments
        if x.application_arn == a.arn
    ]
    if assigned:
        out["Assignments"] = assigned
    return _with_tags(out, a.tags)


def _user(u: User) -> dict[str, Any]:
    out: dict[str, Any] = {"UserName": u.user_name, "UserId": u.user_id}
    if u.display_name:
        out["DisplayName"] = u.display_name
    profile = dict(u.profile)
    unknown = sorted(set(profile) - {"Name", *PROFILE_MEMBERS})
    extra_name = dict(profile.pop("Name", None) or {})
    unknown += [f"Name.{k}" for k in sorted(set(extra_name) - set(NAME_PROFILE_MEMBERS))]
    for member, model in _RECORDS.items():
        for i, rec in enumerate(profile.get(member) or ()):
            unknown += [f"{member}[{i}].{k}" for k in sorted(set(rec) - set(model.model_fields))]
    if unknown:
        raise ConfigError(
            f"user {u.user_name!r}: profile attributes {', '.join(unknown)} cannot be written to a configuration"
            " file"
        )
    for member, model in _RECORDS.items():  # members in the schema's order, so the text is canonical
        if member in profile:
            profile[member] = [{k: rec[k] for k in model.model_fields if k in rec} for rec in profile[member]]
    name: dict[str, Any] = {}
    if u.given_name:
        name["GivenName"] = u.given_name
    if u.family_name:
        name["FamilyName"] = u.family_name
    name.update((k, extra_name[k]) for k in NAME_PROFILE_MEMBERS if k in extra_name)
    if name:
        out["Name"] = name
    if u.emails:
        emails = []
        for e in u.emails:
            item: dict[str, Any] = {"Value": e.value} if e.value else {}
            if e.type != "work":
                item["Type"] = e.type
            if not e.primary:
                item["Primary"] = False
            emails.append(item)
        out["Emails"] = emails
    if u.external_ids:
        out["ExternalIds"] = external_ids_to_shape(u.external_ids)
    out.update((k, profile[k]) for k in PROFILE_MEMBERS if k in profile)
    return out


def _group(g: Group) -> dict[str, Any]:
    out: dict[str, Any] = {"DisplayName": g.display_name, "GroupId": g.group_id}
    if g.description:
        out["Description"] = g.description
    if g.member_user_ids:
        out["Members"] = list(g.member_user_ids)
    if g.external_ids:
        out["ExternalIds"] = external_ids_to_shape(g.external_ids)
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

"""Domain configuration objects <-> JSON documents stored in ``config_resources``. Storage-internal format."""

from __future__ import annotations

from typing import Any

from ssoidc.model import (
    AccessControlAttribute,
    AccessScope,
    Account,
    Application,
    Assignment,
    CustomerManagedPolicyReference,
    Email,
    ExternalId,
    GrantConfig,
    Group,
    Instance,
    PermissionsBoundary,
    PermissionSet,
    Region,
    Role,
    TrustedTokenIssuer,
    User,
)
from ssoidc.oauth.grants.registry import GRANTS


def grant_to_doc(g: GrantConfig) -> dict[str, Any]:
    """A grant config as stored: ``{"type": <the row's store_tag>, ...the row's stored members}``."""
    kind = GRANTS.of(g)
    return {"type": kind.store_tag, **kind.to_store(g)}


def grant_from_doc(d: dict[str, Any]) -> GrantConfig:
    config: GrantConfig = GRANTS.by_store_tag(d["type"]).from_store(d)
    return config


def to_doc(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Instance):
        return {
            "instance_arn": obj.instance_arn,
            "identity_store_id": obj.identity_store_id,
            "owner_account_id": obj.owner_account_id,
            "name": obj.name,
            "status": obj.status,
            "created_at": obj.created_at,
            "tags": dict(obj.tags),
            "regions": [{"name": r.name, "added_at": r.added_at} for r in obj.regions],
            "access_control_attributes": None
            if obj.access_control_attributes is None
            else [{"key": a.key, "source": a.source} for a in obj.access_control_attributes],
            "identity_store_api_allow_ips": list(obj.identity_store_api_allow_ips),
            "identity_store_scim_allow_ips": list(obj.identity_store_scim_allow_ips),
        }
    if isinstance(obj, TrustedTokenIssuer):
        return {
            "arn": obj.arn,
            "name": obj.name,
            "issuer_url": obj.issuer_url,
            "claim_attribute_path": obj.claim_attribute_path,
            "identity_store_attribute_path": obj.identity_store_attribute_path,
            "allowed_algorithms": list(obj.allowed_algorithms),
            "tags": dict(obj.tags),
            "accept_unverified_email": obj.accept_unverified_email,
            "revision": obj.revision,
        }
    if isinstance(obj, Application):
        return {
            "arn": obj.arn,
            "name": obj.name,
            "instance_arn": obj.instance_arn,
            "provider_arn": obj.provider_arn,
            "status": obj.status,
            "description": obj.description,
            "grants": {k: grant_to_doc(v) for k, v in obj.grants.items()},
            "actor_policy": obj.actor_policy,
            "access_scopes": [
                {"scope": s.scope, "targets": list(s.authorized_targets)} for s in obj.access_scopes
            ],
            "assignment_required": obj.assignment_required,
            "created_at": obj.created_at,
            "tags": dict(obj.tags),
            "portal_visibility": obj.portal_visibility,
            "sign_in_origin": obj.sign_in_origin,
            "application_url": obj.application_url,
            "user_background_sessions": obj.user_background_sessions,
        }
    if isinstance(obj, User):
        return {
            "user_id": obj.user_id,
            "user_name": obj.user_name,
            "display_name": obj.display_name,
            "given_name": obj.given_name,
            "family_name": obj.family_name,
            "emails": [{"value": e.value, "type": e.type, "primary": e.primary} for e in obj.emails],
            "external_ids": [{"issuer": x.issuer, "id": x.id} for x in obj.external_ids],
            "profile": dict(obj.profile),
        }
    if isinstance(obj, Group):
        return {
            "group_id": obj.group_id,
            "display_name": obj.display_name,
            "description": obj.description,
            "members": list(obj.member_user_ids),
            "external_ids": [{"issuer": x.issuer, "id": x.id} for x in obj.external_ids],
        }
    if isinstance(obj, Assignment):
        return {
            "application_arn": obj.application_arn,
            "principal_type": obj.principal_type,
            "principal_id": obj.principal_id,
        }
    if isinstance(obj, Account):
        return {"account_id": obj.account_id, "name": obj.name, "email": obj.email}
    if isinstance(obj, PermissionSet):
        b = obj.permissions_boundary
        return {
            "arn": obj.arn,
            "name": obj.name,
            "instance_arn": obj.instance_arn,
            "description": obj.description,
            "session_duration": obj.session_duration,
            "relay_state": obj.relay_state,
            "inline_policy": None if obj.inline_policy is None else dict(obj.inline_policy),
            "managed_policy_arns": list(obj.managed_policy_arns),
            "customer_managed_policies": [
                {"name": c.name, "path": c.path} for c in obj.customer_managed_policies
            ],
            "permissions_boundary": None
            if b is None
            else {
                "managed_policy_arn": b.managed_policy_arn,
                "customer_managed_policy_reference": None
                if b.customer_managed_policy_reference is None
                else {
                    "name": b.customer_managed_policy_reference.name,
                    "path": b.customer_managed_policy_reference.path,
                },
            },
            "created_at": obj.created_at,
            "tags": dict(obj.tags),
        }
    if isinstance(obj, Role):
        return {
            "arn": obj.arn,
            "role_name": obj.role_name,
            "role_id": obj.role_id,
            "trust_policy": obj.trust_policy,
            "path": obj.path,
            "max_session_duration": obj.max_session_duration,
            "description": obj.description,
            "policies": {k: v for k, v in obj.policies.items()},
            "created_at": obj.created_at,
        }
    raise TypeError(f"cannot encode {type(obj).__name__}")


def instance_from_doc(d: dict[str, Any]) -> Instance:
    return Instance(
        d["instance_arn"],
        d["identity_store_id"],
        d["owner_account_id"],
        d["name"],
        status=d.get("status", "ACTIVE"),
        created_at=d.get("created_at", 0.0),
        tags=d.get("tags", {}),
        # absent: stored before these fields existed (nothing configured)
        regions=tuple(Region(r["name"], r["added_at"]) for r in d.get("regions", [])),
        access_control_attributes=None
        if d.get("access_control_attributes") is None
        else tuple(AccessControlAttribute(a["key"], a["source"]) for a in d["access_control_attributes"]),
        identity_store_api_allow_ips=tuple(d.get("identity_store_api_allow_ips", [])),
        identity_store_scim_allow_ips=tuple(d.get("identity_store_scim_allow_ips", [])),
    )


def issuer_from_doc(d: dict[str, Any]) -> TrustedTokenIssuer:
    return TrustedTokenIssuer(
        d["arn"],
        d["name"],
        d["issuer_url"],
        d["claim_attribute_path"],
        d["identity_store_attribute_path"],
        tuple(d["allowed_algorithms"]),
        tags=d.get("tags", {}),
        # absent: stored before these fields existed
        accept_unverified_email=bool(d.get("accept_unverified_email", False)),
        revision=int(d.get("revision", 0)),
    )


def application_from_doc(d: dict[str, Any]) -> Application:
    return Application(
        arn=d["arn"],
        name=d["name"],
        instance_arn=d["instance_arn"],
        provider_arn=d["provider_arn"],
        status=d["status"],
        description=d["description"],
        grants={k: grant_from_doc(v) for k, v in d["grants"].items()},
        actor_policy=d["actor_policy"],
        access_scopes=tuple(AccessScope(s["scope"], tuple(s["targets"])) for s in d["access_scopes"]),
        assignment_required=d["assignment_required"],
        created_at=d.get("created_at", 0.0),
        tags=d.get("tags", {}),
        portal_visibility=d.get("portal_visibility", "ENABLED"),
        sign_in_origin=d.get("sign_in_origin", "IDENTITY_CENTER"),
        application_url=d.get("application_url", ""),
        user_background_sessions=bool(d.get("user_background_sessions", False)),
    )


def user_from_doc(d: dict[str, Any]) -> User:
    return User(
        user_id=d["user_id"],
        user_name=d["user_name"],
        display_name=d["display_name"],
        given_name=d["given_name"],
        family_name=d["family_name"],
        emails=tuple(Email(e["value"], e["type"], e["primary"]) for e in d["emails"]),
        external_ids=tuple(ExternalId(x["issuer"], x["id"]) for x in d["external_ids"]),
        profile=d.get("profile", {}),
    )


def group_from_doc(d: dict[str, Any]) -> Group:
    return Group(
        d["group_id"],
        d["display_name"],
        d["description"],
        tuple(d["members"]),
        tuple(ExternalId(x["issuer"], x["id"]) for x in d.get("external_ids", [])),
    )


def assignment_from_doc(d: dict[str, Any]) -> Assignment:
    return Assignment(d["application_arn"], d["principal_type"], d["principal_id"])


def account_from_doc(d: dict[str, Any]) -> Account:
    return Account(d["account_id"], d["name"], d["email"])


def _policy_reference(d: dict[str, Any] | None) -> CustomerManagedPolicyReference | None:
    return None if d is None else CustomerManagedPolicyReference(d["name"], d["path"])


def permission_set_from_doc(d: dict[str, Any]) -> PermissionSet:
    b = d["permissions_boundary"]
    return PermissionSet(
        arn=d["arn"],
        name=d["name"],
        instance_arn=d["instance_arn"],
        description=d["description"],
        session_duration=d["session_duration"],
        relay_state=d["relay_state"],
        inline_policy=d["inline_policy"],
        managed_policy_arns=tuple(d["managed_policy_arns"]),
        customer_managed_policies=tuple(
            CustomerManagedPolicyReference(c["name"], c["path"]) for c in d["customer_managed_policies"]
        ),
        permissions_boundary=None
        if b is None
        else PermissionsBoundary(
            b["managed_policy_arn"], _policy_reference(b["customer_managed_policy_reference"])
        ),
        created_at=d["created_at"],
        tags=d["tags"],
    )


def role_from_doc(d: dict[str, Any]) -> Role:
    return Role(
        arn=d["arn"],
        role_name=d["role_name"],
        role_id=d["role_id"],
        trust_policy=d["trust_policy"],
        path=d["path"],
        max_session_duration=int(d["max_session_duration"]),
        description=d["description"],
        policies=d["policies"],
        created_at=d.get("created_at", 0.0),
    )

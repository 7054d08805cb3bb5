"""sso-admin instances: ssoidc serves one account instance (spec 8.2: one account instance per account).

``CreateInstance`` succeeds only while no instance is ACTIVE; ``DeleteInstance`` deletes the instance with
everything in it (applications, trusted token issuers, assignments and the identity store's users and groups)
and revokes every token issued for its applications; a later ``CreateInstance`` starts afresh with new ids.

The instance also holds its settings, each a catalogue write: additional regions (AddRegion..., recorded and
listed only: ssoidc serves one region, the primary ``Settings.region``), the attribute-based access control
attributes (Create/Update/DeleteInstanceAccessControlAttributeConfiguration) and the identity store's network
exemption lists (identitystore UpdateIdentityStore). docs/admin-api.md says what each means for ssoidc.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from ssoidc.admin.directory import identity_store
from ssoidc.admin.editor import Edit
from ssoidc.errors import Conflict, ResourceNotFound, ServiceQuotaExceeded, ValidationFailed
from ssoidc.ids import new_identity_store_id, new_instance_arn
from ssoidc.model import AccessControlAttribute, Configuration, Instance, Region


def active_instance(config: Configuration, instance_arn: str | None = None) -> Instance:
    """The ACTIVE instance, checked against ``instance_arn`` when given."""
    inst = config.instance
    if inst.status != "ACTIVE" or (instance_arn is not None and instance_arn != inst.instance_arn):
        raise ResourceNotFound(f"Instance {instance_arn or ''} does not exist".replace("  ", " "), "INSTANCE")
    return inst


def create_instance(
    config: Configuration, *, name: str, tags: Mapping[str, str], account_id: str, now: float
) -> Edit[Instance]:
    if config.instance.status == "ACTIVE":
        raise Conflict("An account instance of IAM Identity Center already exists in this account")
    inst = Instance(new_instance_arn(), new_identity_store_id(), account_id, name, "ACTIVE", now, dict(tags))
    return Edit(Configuration(instance=inst), inst)


def update_instance(config: Configuration, instance_arn: str, *, name: str | None) -> Edit[Instance]:
    inst = active_instance(config, instance_arn)
    new = replace(inst, name=name if name is not None else inst.name)
    return Edit(replace(config, instance=new), new)


def delete_instance(config: Configuration, instance_arn: str) -> Edit[None]:
    inst = active_instance(config, instance_arn)
    revoke = [f"application:{a.arn}" for a in config.applications] + [
        f"user:{u.user_id}" for u in config.users
    ]
    return Edit(Configuration(instance=replace(inst, status="DELETED", tags={})), None, revoke)


# -- the instance's settings (sso-admin UpdateInstance members, regions, ABAC; identitystore UpdateIdentityStore) --
MAX_REGIONS = 16
"""Additional regions an instance may record (AddRegion's ServiceQuotaExceededException beyond)."""


def check_update(
    *, permission_sets_enabled: bool | None, vpce_access_required: bool | None, encryption: bool
) -> None:
    """UpdateInstance's rules for its newer members: at most one of EncryptionConfiguration,
    PermissionSetsEnabled and NetworkConfiguration per request; PermissionSetsEnabled only true (permission sets
    cannot be disabled, and ssoidc has them on); NetworkConfiguration only without a VPC endpoint requirement
    (ssoidc has no VPC endpoints)."""
    given = [
        name
        for name, present in (
            ("EncryptionConfiguration", encryption),
            ("PermissionSetsEnabled", permission_sets_enabled is not None),
            ("NetworkConfiguration", vpce_access_required is not None),
        )
        if present
    ]
    if len(given) > 1:
        raise ValidationFailed(
            f"Specify only one of EncryptionConfiguration, PermissionSetsEnabled and NetworkConfiguration, not {', '.join(given)}",
            given[1],
        )
    if permission_sets_enabled is False:
        raise ValidationFailed(
            "PermissionSetsEnabled accepts only true: permission sets cannot be disabled",
            "PermissionSetsEnabled",
        )
    if vpce_access_required:
        raise ValidationFailed(
            "ssoidc has no VPC endpoints: VpceAccessRequired must be false",
            "NetworkConfiguration.VpceAccessRequired",
        )


def regions(inst: Instance, primary: str) -> list[tuple[Region, bool]]:
    """The instance's regions with whether each is the primary one: the primary (``Settings.region``, added when
    the instance was created) first, then the additional ones in the order added."""
    return [(Region(primary, inst.created_at), True)] + [
        (r, False) for r in inst.regions if r.name != primary
    ]


def add_region(
    config: Configuration, instance_arn: str, name: str, *, primary: str, now: float
) -> Edit[Region]:
    inst = active_instance(config, instance_arn)
    if any(r.name == name for r, _ in regions(inst, primary)):
        raise Conflict(f"The Region {name} is already enabled for the instance")
    if len(inst.regions) >= MAX_REGIONS:
        raise ServiceQuotaExceeded(f"An instance can have at most {MAX_REGIONS} additional Regions")
    region = Region(name, now)
    new = replace(inst, regions=(*inst.regions, region))
    return Edit(replace(config, instance=new), region)


def get_region(config: Configuration, instance_arn: str, name: str, *, primary: str) -> tuple[Region, bool]:
    inst = active_instance(config, instance_arn)
    for r, is_primary in regions(inst, primary):
        if r.name == name:
            return r, is_primary
    raise ResourceNotFound(f"The Region {name} is not enabled for the instance", "REGION", name)


def remove_region(config: Configuration, instance_arn: str, name: str, *, primary: str) -> Edit[None]:
    inst = active_instance(config, instance_arn)
    if name == primary:
        raise ValidationFailed("The primary Region cannot be removed", "RegionName")
    get_region(config, instance_arn, name, primary=primary)
    new = replace(inst, regions=tuple(r for r in inst.regions if r.name != name))
    return Edit(replace(config, instance=new), None)


def _check_attributes(attributes: Sequence[AccessControlAttribute]) -> None:
    seen: set[str] = set()
    for i, a in enumerate(attributes):
        if a.key in seen:
            raise ValidationFailed(
                "An attribute key is given more than once",
                f"InstanceAccessControlAttributeConfiguration.AccessControlAttributes[{i}].Key",
            )
        seen.add(a.key)


def _no_attributes(inst: Instance) -> ResourceNotFound:
    return ResourceNotFound(
        f"The instance {inst.instance_arn} has no access control attribute configuration",
        "INSTANCE_ACCESS_CONTROL_ATTRIBUTE_CONFIGURATION",
    )


def access_control_attributes(config: Configuration, instance_arn: str) -> tuple[AccessControlAttribute, ...]:
    inst = active_instance(config, instance_arn)
    if inst.access_control_attributes is None:
        raise _no_attributes(inst)
    return inst.access_control_attributes


def put_access_control_attributes(
    config: Configuration,
    instance_arn: str,
    attributes: Sequence[AccessControlAttribute],
    *,
    create: bool,
) -> Edit[None]:
    """Create (``Conflict`` if there is a configuration) or replace (``ResourceNotFound`` if there is none) the
    instance's access control attributes."""
    inst = active_instance(config, instance_arn)
    _check_attributes(attributes)
    if create and inst.access_control_attributes is not None:
        raise Conflict("The instance already has an access control attribute configuration")
    if not create and inst.access_control_attributes is None:
        raise _no_attributes(inst)
    new = replace(inst, access_control_attributes=tuple(attributes))
    return Edit(replace(config, instance=new), None)


def delete_access_control_attributes(config: Configuration, instance_arn: str) -> Edit[None]:
    access_control_attributes(config, instance_arn)
    inst = config.instance
    return Edit(replace(config, instance=replace(inst, access_control_attributes=None)), None)


def set_identity_store_network(
    config: Configuration, identity_store_id: str, api_allow_ips: Sequence[str], scim_allow_ips: Sequence[str]
) -> Edit[None]:
    """identitystore UpdateIdentityStore's network configuration (a full replacement): the CIDR ranges exempt
    from network controls, recorded and returned (ssoidc has no VPC endpoint controls to exempt them from)."""
    inst = identity_store(config, identity_store_id)
    new = replace(
        inst,
        identity_store_api_allow_ips=tuple(api_allow_ips),
        identity_store_scim_allow_ips=tuple(scim_allow_ips),
    )
    return Edit(replace(config, instance=new), None)

"""sso-admin instances: ssoidc serves one account instance (spec 8.2: one account instance per account).

``CreateInstance`` succeeds only while no instance is ACTIVE; ``DeleteInstance`` deletes the instance with
everything in it (applications, trusted token issuers, assignments and the identity store's users and groups)
and revokes every token issued for its applications; a later ``CreateInstance`` starts afresh with new ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ssoidc.admin.editor import Edit
from ssoidc.errors import Conflict, ResourceNotFound
from ssoidc.ids import new_identity_store_id, new_instance_arn
from ssoidc.model import Configuration, Instance


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

"""sso-admin applications and their settings: grants, authentication methods (the IAM ActorPolicy), access
scopes, assignments, assignment configuration and tags (of applications, the instance and trusted token issuers).
Pure functions ``Configuration -> Edit`` behind CreateApplication, UpdateApplication, DeleteApplication,
Put/Delete ApplicationGrant, Put/Delete ApplicationAuthenticationMethod, Put/Delete ApplicationAccessScope,
Create/Delete ApplicationAssignment, PutApplicationAssignmentConfiguration, TagResource and UntagResource, and the
lookups behind their Get/Describe/List counterparts.

Choices where AWS is undocumented (docs/admin-api.md):

* Put* operations are upserts (a grant type, an authentication method type or a scope is set or replaced); the
  matching Get/Delete of something not set is ``ResourceNotFound``.
* Creating an assignment that exists succeeds and changes nothing; deleting one that does not exist is
  ``ResourceNotFound``. The principal must exist in the identity store (``ResourceNotFound`` otherwise).
* Changing grants, policies or assignments revokes nothing: every redemption re-checks the application's grants,
  ActorPolicy and the assignment gate, so a removed permission takes effect at the next token request.
* A resource holds at most ``rules.MAX_TAGS`` (50) tags (``ServiceQuotaExceeded``); keys starting with ``aws:``
  are reserved (``ValidationFailed``). ``rules.check`` enforces both, for every write and for ``ssoidc apply``.

Assignments are rows of the store's directory (``DirectoryStore``), one write each; the rest is the catalogue.
Cascades: deleting an application removes its assignments (the store's foreign key), removes it from other applications' access-scope
``AuthorizedTargets`` and revokes every token issued for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ssoidc import ids
from ssoidc.admin.editor import Edit
from ssoidc.admin.instance import active_instance
from ssoidc.admin.rules import MAX_ACCESS_SCOPES
from ssoidc.errors import ResourceNotFound, ServiceQuotaExceeded, ValidationFailed
from ssoidc.iam.policy import Policy
from ssoidc.model import (
    AccessScope,
    Application,
    Assignment,
    Configuration,
    GrantConfig,
    PrincipalType,
)
from ssoidc.storage.base import DirectoryStore, Missing

CUSTOM_PROVIDER = "arn:aws:sso::aws:applicationProvider/custom"


def new_application_arn(config: Configuration) -> str:
    return ids.new_application_arn(config.instance.owner_account_id, config.instance.instance_id)


def get_application(config: Configuration, arn: str) -> Application:
    for a in config.applications:
        if a.arn == arn:
            return a
    raise ResourceNotFound(f"Application {arn} does not exist", "APPLICATION", arn)


def put_application(config: Configuration, app: Application) -> Configuration:
    """``config`` with ``app`` replacing the application of the same ARN (or appended)."""
    apps = [app if a.arn == app.arn else a for a in config.applications]
    if not any(a.arn == app.arn for a in config.applications):
        apps.append(app)
    return replace(config, applications=tuple(apps))


def create_application(
    config: Configuration,
    *,
    instance_arn: str,
    provider_arn: str,
    name: str,
    description: str,
    status: str,
    tags: Mapping[str, str],
    portal_visibility: str,
    sign_in_origin: str,
    application_url: str,
    now: float,
) -> Edit[Application]:
    active_instance(config, instance_arn)
    _check_sign_in(sign_in_origin, application_url)
    if provider_arn != CUSTOM_PROVIDER:
        raise ResourceNotFound(
            f"Application provider {provider_arn} does not exist (ssoidc serves the custom provider)",
            "APPLICATION_PROVIDER",
            provider_arn,
        )
    app = Application(
        arn=new_application_arn(config),
        name=name,
        instance_arn=instance_arn,
        provider_arn=provider_arn,
        status=status,
        description=description,
        created_at=now,
        tags=dict(tags),
        portal_visibility=portal_visibility,
        sign_in_origin=sign_in_origin,
        application_url=application_url,
    )
    return Edit(put_application(config, app), app)


def _check_sign_in(origin: str, application_url: str) -> None:
    """An application that users sign in to from its own page (origin APPLICATION) needs that page's URL."""
    if origin == "APPLICATION" and not application_url:
        raise ValidationFailed(
            "ApplicationUrl is required when the sign-in Origin is APPLICATION",
            "PortalOptions.SignInOptions.ApplicationUrl",
        )


def update_application(
    config: Configuration,
    arn: str,
    *,
    name: str | None = None,
    description: str | None = None,
    status: str | None = None,
    sign_in_origin: str | None = None,
    application_url: str | None = None,
) -> Edit[Application]:
    """Change the given fields. Sign-in options are replaced as a whole: ``sign_in_origin`` with its URL (or "")."""
    app = get_application(config, arn)
    new = replace(
        app,
        name=app.name if name is None else name,
        description=app.description if description is None else description,
        status=app.status if status is None else status,
    )
    if sign_in_origin is not None:
        _check_sign_in(sign_in_origin, application_url or "")
        new = replace(new, sign_in_origin=sign_in_origin, application_url=application_url or "")
    return Edit(put_application(config, new), new)


def delete_application(config: Configuration, arn: str) -> Edit[None]:
    get_application(config, arn)
    apps = []
    for a in config.applications:
        if a.arn == arn:
            continue
        scopes = tuple(
            replace(s, authorized_targets=tuple(t for t in s.authorized_targets if t != arn))
            for s in a.access_scopes
        )
        apps.append(replace(a, access_scopes=scopes))
    return Edit(
        replace(
            config,
            applications=tuple(apps),
            assignments=tuple(x for x in config.assignments if x.application_arn != arn),
        ),
        None,
        [f"application:{arn}"],
    )


def _change(config: Configuration, arn: str, **changes: Any) -> Edit[Application]:
    new = replace(get_application(config, arn), **changes)
    return Edit(put_application(config, new), new)


# -- grants ---------------------------------------------------------------------------------------------------


def get_grant(config: Configuration, arn: str, grant_type: str) -> GrantConfig:
    app = get_application(config, arn)
    grant = app.grants.get(grant_type)
    if grant is None:
        raise ResourceNotFound(f"Application {arn} has no {grant_type} grant", "GRANT", grant_type)
    return grant


def put_grant(config: Configuration, arn: str, grant_type: str, grant: GrantConfig) -> Edit[Application]:
    """Set or replace the application's grant of ``grant_type`` (its rules, such as the JWT-bearer issuers
    existing: the grant type's row, through ``rules.check``)."""
    app = get_application(config, arn)
    return _change(config, arn, grants={**app.grants, grant_type: grant})


def delete_grant(config: Configuration, arn: str, grant_type: str) -> Edit[Application]:
    app = get_application(config, arn)
    get_grant(config, arn, grant_type)
    return _change(config, arn, grants={k: v for k, v in app.grants.items() if k != grant_type})


# -- authentication method (IAM ActorPolicy) -------------------------------------------------------------------


def get_actor_policy(config: Configuration, arn: str) -> Mapping[str, Any]:
    app = get_application(config, arn)
    if app.actor_policy is None:
        raise ResourceNotFound(
            f"Application {arn} has no IAM authentication method", "AUTHENTICATION_METHOD", "IAM"
        )
    return app.actor_policy


def put_actor_policy(config: Configuration, arn: str, policy: Mapping[str, Any]) -> Edit[Application]:
    """Set the ActorPolicy (an IAM resource policy). Raises ``PolicyError`` if the document is not valid."""
    get_application(config, arn)
    Policy.parse(policy, kind="resource")
    return _change(config, arn, actor_policy=dict(policy))


def delete_actor_policy(config: Configuration, arn: str) -> Edit[Application]:
    get_actor_policy(config, arn)
    return _change(config, arn, actor_policy=None)


# -- access scopes --------------------------------------------------------------------------------------------


def get_access_scope(config: Configuration, arn: str, scope: str) -> AccessScope:
    for s in get_application(config, arn).access_scopes:
        if s.scope == scope:
            return s
    raise ResourceNotFound(f"Application {arn} has no access scope {scope!r}", "ACCESS_SCOPE", scope)


def put_access_scope(
    config: Configuration, arn: str, scope: str, targets: Iterable[str]
) -> Edit[Application]:
    """Set or replace a scope and its authorized targets (applications of the instance, or the instance)."""
    app = get_application(config, arn)
    apps = {a.arn for a in config.applications}
    clean: list[str] = []
    for i, t in enumerate(targets):
        if t not in apps and t != config.instance.instance_arn:
            raise ValidationFailed(
                f"Authorized target {t} is neither an application of the instance nor the instance",
                f"AuthorizedTargets[{i}]",
            )
        if t not in clean:
            clean.append(t)
    new_scope = AccessScope(scope, tuple(clean))
    scopes = [new_scope if s.scope == scope else s for s in app.access_scopes]
    if not any(s.scope == scope for s in app.access_scopes):
        if len(scopes) >= MAX_ACCESS_SCOPES:
            raise ServiceQuotaExceeded(f"An application can have at most {MAX_ACCESS_SCOPES} access scopes")
        scopes.append(new_scope)
    return _change(config, arn, access_scopes=tuple(scopes))


def delete_access_scope(config: Configuration, arn: str, scope: str) -> Edit[Application]:
    app = get_application(config, arn)
    get_access_scope(config, arn, scope)
    return _change(config, arn, access_scopes=tuple(s for s in app.access_scopes if s.scope != scope))


# -- assignments ----------------------------------------------------------------------------------------------


def _no_principal(principal_type: str, principal_id: str) -> ResourceNotFound:
    return ResourceNotFound(
        f"{principal_type.capitalize()} {principal_id} does not exist in the identity store",
        principal_type,
        principal_id,
    )


async def check_principal(store: DirectoryStore, principal_type: PrincipalType, principal_id: str) -> None:
    found = (
        await store.get_user(principal_id)
        if principal_type == "USER"
        else await store.get_group(principal_id)
    )
    if found is None:
        raise _no_principal(principal_type, principal_id)


def _not_assigned(arn: str, principal_type: str, principal_id: str) -> ResourceNotFound:
    return ResourceNotFound(
        f"{principal_type.capitalize()} {principal_id} is not assigned to application {arn}",
        "APPLICATION_ASSIGNMENT",
        principal_id,
    )


async def get_assignment(
    store: DirectoryStore, config: Configuration, arn: str, principal_type: PrincipalType, principal_id: str
) -> Assignment:
    get_application(config, arn)
    wanted = Assignment(arn, principal_type, principal_id)
    if not await store.has_assignment(wanted):
        raise _not_assigned(arn, principal_type, principal_id)
    return wanted


async def create_assignment(
    store: DirectoryStore, config: Configuration, arn: str, principal_type: PrincipalType, principal_id: str
) -> Assignment:
    """Assign a user or group, one row; assigning again succeeds and changes nothing."""
    get_application(config, arn)
    asg = Assignment(arn, principal_type, principal_id)
    try:
        await store.create_assignment(asg)
    except Missing as exc:
        if exc.kind == "application":  # deleted since this node's snapshot was taken
            raise ResourceNotFound(f"Application {arn} does not exist", "APPLICATION", arn) from None
        raise _no_principal(principal_type, principal_id) from None
    return asg


async def delete_assignment(
    store: DirectoryStore, config: Configuration, arn: str, principal_type: PrincipalType, principal_id: str
) -> None:
    get_application(config, arn)
    if not await store.delete_assignment(Assignment(arn, principal_type, principal_id)):
        raise _not_assigned(arn, principal_type, principal_id)


def set_assignment_required(config: Configuration, arn: str, required: bool) -> Edit[Application]:
    get_application(config, arn)
    return _change(config, arn, assignment_required=required)


def set_background_sessions(config: Configuration, arn: str, enabled: bool) -> Edit[Application]:
    """PutApplicationSessionConfiguration: whether user background sessions are enabled for the application
    (recorded and returned; ssoidc starts no background sessions)."""
    get_application(config, arn)
    return _change(config, arn, user_background_sessions=enabled)


# -- tags (instance, applications, trusted token issuers) -----------------------------------------------------


def resource_tags(
    config: Configuration, resource_arn: str, instance_arn: str | None = None
) -> Mapping[str, str]:
    """The tags of the instance, an application or a trusted token issuer (``ResourceNotFound`` otherwise)."""
    inst = active_instance(config, instance_arn)
    if resource_arn == inst.instance_arn:
        return inst.tags
    for a in config.applications:
        if a.arn == resource_arn:
            return a.tags
    for t in config.trusted_token_issuers:
        if t.arn == resource_arn:
            return t.tags
    raise ResourceNotFound(f"Resource {resource_arn} does not exist", "RESOURCE", resource_arn)


def _set_tags(config: Configuration, resource_arn: str, tags: Mapping[str, str]) -> Configuration:
    """``config`` with the resource's tags replaced (their limits: ``rules.check``)."""
    if resource_arn == config.instance.instance_arn:
        return replace(config, instance=replace(config.instance, tags=dict(tags)))
    if any(a.arn == resource_arn for a in config.applications):
        return _change(config, resource_arn, tags=dict(tags)).config
    return replace(
        config,
        trusted_token_issuers=tuple(
            replace(t, tags=dict(tags)) if t.arn == resource_arn else t for t in config.trusted_token_issuers
        ),
    )


def tag_resource(
    config: Configuration, resource_arn: str, tags: Mapping[str, str], instance_arn: str | None = None
) -> Edit[None]:
    current = resource_tags(config, resource_arn, instance_arn)
    return Edit(_set_tags(config, resource_arn, {**current, **tags}), None)


def untag_resource(
    config: Configuration, resource_arn: str, keys: Iterable[str], instance_arn: str | None = None
) -> Edit[None]:
    current = resource_tags(config, resource_arn, instance_arn)
    drop = set(keys)
    return Edit(_set_tags(config, resource_arn, {k: v for k, v in current.items() if k not in drop}), None)

"""Permission sets, account assignments and their provisioning: one store write per entity.

Serves sso-admin's permission-set operations (CreatePermissionSet ... DeletePermissionsBoundaryFromPermissionSet),
ProvisionPermissionSet with its status operations, CreateAccountAssignment / DeleteAccountAssignment with theirs,
the account-assignment lists and the tags of permission sets (``ssoidc.aws.sso_admin_accounts`` maps the wire
shapes). Every function reads or writes what it names through ``ssoidc.storage.base.AccountAccessStore``
(migration 0013), so its cost does not depend on how many assignments there are. docs/permission-sets.md says
what AWS leaves open and what ssoidc chose:

* The asynchronous requests complete at once: CreateAccountAssignment, DeleteAccountAssignment and
  ProvisionPermissionSet answer SUCCEEDED, and their status records (request id, status, created date) stay, so
  the Describe...Status and List...Status operations answer them.
* CreateAccountAssignment provisions the permission set to the account (as AWS does); deleting the last
  assignment of a permission set on an account deprovisions it there. DeletePermissionSet is refused
  (ConflictException) while an account assignment names it; what is only provisioned goes with it.
* Changing what a permission set grants (policies, boundary, session duration, relay state, description) leaves
  its provisionings outdated (``LATEST_PERMISSION_SET_NOT_PROVISIONED``) until ProvisionPermissionSet; tags do not.
* Quotas (``ServiceQuotaExceeded``): 2,000 permission sets per instance, 20 managed policies (AWS managed and
  customer managed references together, the IAM role's limit) per permission set, 50 tags.
* The inline policy is an IAM identity policy, parsed strictly (one value per member name) and checked by the
  policy engine: a malformed one is ``ValidationFailed`` and nothing is stored.
* Session durations are ISO 8601 durations from 1 to 12 hours.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Literal, Protocol

import orjson

from ssoidc import strict_json
from ssoidc.admin.applications import check_principal
from ssoidc.admin.instance import active_instance
from ssoidc.admin.rules import check_tags
from ssoidc.errors import Conflict, ResourceNotFound, ServiceQuotaExceeded, ValidationFailed
from ssoidc.iam.policy import Policy, PolicyError
from ssoidc.ids import new_permission_set_arn, new_request_id
from ssoidc.model import (
    ACCESS_CREATE_ASSIGNMENT,
    ACCESS_DELETE_ASSIGNMENT,
    ACCESS_PROVISION,
    AccessRequest,
    AccessRequestKind,
    AccountAssignment,
    Configuration,
    CustomerManagedPolicyReference,
    PermissionsBoundary,
    PermissionSet,
)
from ssoidc.storage.base import (
    AccountAccessStore,
    AlreadyExists,
    DirectoryStore,
    InUse,
    Missing,
    QuotaReached,
)

MAX_PERMISSION_SETS = 2000
MAX_MANAGED_POLICIES = 20
MIN_SESSION_SECONDS = 3600
MAX_SESSION_SECONDS = 12 * 3600
SUCCEEDED = "SUCCEEDED"
ACCOUNT_ID = re.compile(r"\d{12}")
_DURATION = re.compile(
    r"P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?"
)
_UNITS = (365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1)


class AccessStore(AccountAccessStore, DirectoryStore, Protocol):
    """What these operations use: permission sets and assignments, and the directory for their principals."""


# -- values ------------------------------------------------------------------------------------------------------
def session_seconds(duration: str) -> float:
    """Seconds of an ISO 8601 duration (``PT1H``, ``PT12H``, ``P0DT90M``...); years and months count 365 and 30
    days. ``ValidationFailed`` (naming ``SessionDuration``) if it is not one."""
    found = _DURATION.fullmatch(duration)
    if found is None:
        raise ValidationFailed(
            "SessionDuration must be an ISO 8601 duration, such as PT1H", "SessionDuration"
        )
    return sum(float(v) * unit for v, unit in zip(found.groups(), _UNITS, strict=True) if v)


def check_session_duration(duration: str) -> None:
    """From 1 to 12 hours (IAM Identity Center's range for a permission set's session)."""
    seconds = session_seconds(duration)
    if not MIN_SESSION_SECONDS <= seconds <= MAX_SESSION_SECONDS:
        raise ValidationFailed(
            "SessionDuration must be from 1 hour (PT1H) to 12 hours (PT12H)", "SessionDuration"
        )


def parse_inline_policy(text: str) -> dict[str, Any]:
    """An inline policy document (a JSON string on the wire): one JSON object, no member name repeated, a valid
    IAM identity policy. ``ValidationFailed`` naming ``InlinePolicy`` (and where in it) otherwise."""
    try:
        doc = strict_json.loads(text.encode())
    except ValueError:  # orjson.JSONDecodeError, DuplicateMember, NestedTooDeeply
        raise ValidationFailed("InlinePolicy is not a valid JSON policy document", "InlinePolicy") from None
    if not isinstance(doc, dict):
        raise ValidationFailed("InlinePolicy must be a JSON object", "InlinePolicy")
    try:
        Policy.parse(doc, kind="identity")
    except PolicyError as exc:
        path = f"InlinePolicy.{exc.path}" if exc.path else "InlinePolicy"
        raise ValidationFailed.at(path, exc.message) from None
    return doc


def inline_policy_text(policy: Mapping[str, Any]) -> str:
    """The stored inline policy as a JSON string (compact; the member order kept)."""
    return orjson.dumps(policy).decode()


def check_account_id(account_id: str, member: str = "TargetId") -> None:
    if ACCOUNT_ID.fullmatch(account_id) is None:
        raise ValidationFailed(f"{member} must be a 12-digit AWS account id", member)


def check_boundary(boundary: PermissionsBoundary) -> None:
    if bool(boundary.managed_policy_arn) == (boundary.customer_managed_policy_reference is not None):
        raise ValidationFailed(
            "PermissionsBoundary takes exactly one of ManagedPolicyArn and CustomerManagedPolicyReference",
            "PermissionsBoundary",
        )


# -- permission sets ---------------------------------------------------------------------------------------------
def _no_permission_set(arn: str) -> ResourceNotFound:
    return ResourceNotFound(f"Permission set {arn} does not exist", "PERMISSION_SET", arn)


async def get_permission_set(
    store: AccessStore, config: Configuration, instance_arn: str, arn: str
) -> PermissionSet:
    """The permission set of the ACTIVE instance ``instance_arn``."""
    inst = active_instance(config, instance_arn)
    found = await store.get_permission_set(arn)
    if found is None or found.instance_arn != inst.instance_arn:
        raise _no_permission_set(arn)
    return found


async def create_permission_set(
    store: AccessStore,
    config: Configuration,
    instance_arn: str,
    *,
    name: str,
    description: str = "",
    session_duration: str = "PT1H",
    relay_state: str = "",
    tags: Mapping[str, str] | None = None,
    now: float,
) -> PermissionSet:
    inst = active_instance(config, instance_arn)
    check_session_duration(session_duration)
    check_tags(tags or {})
    ps = PermissionSet(
        new_permission_set_arn(inst.instance_id),
        name,
        inst.instance_arn,
        description=description,
        session_duration=session_duration,
        relay_state=relay_state,
        created_at=now,
        tags=dict(tags or {}),
    )
    try:
        await store.create_permission_set(ps, limit=MAX_PERMISSION_SETS)
    except QuotaReached:
        raise ServiceQuotaExceeded(
            f"An instance can have at most {MAX_PERMISSION_SETS} permission sets"
        ) from None
    except AlreadyExists as exc:
        if exc.args[0] == "permission_set_name":
            raise Conflict(
                f"A permission set named {name!r} already exists", "UNIQUENESS_CONSTRAINT_VIOLATION"
            ) from None
        raise Conflict(
            "The permission set already exists; retry the request", "CONCURRENT_MODIFICATION"
        ) from None
    return ps


Change = Callable[[PermissionSet], PermissionSet]


async def edit(
    store: AccessStore,
    config: Configuration,
    instance_arn: str,
    arn: str,
    change: Change,
    *,
    outdated: bool = True,
) -> PermissionSet:
    """Apply ``change`` to the stored permission set in one transaction (``AccountAccessStore.edit_permission_set``);
    ``outdated``: the change is one of what is provisioned (everything but tags)."""
    await get_permission_set(store, config, instance_arn, arn)

    def run(p: PermissionSet) -> tuple[PermissionSet, bool]:
        new = change(p)
        return replace(new, arn=p.arn, name=p.name, instance_arn=p.instance_arn), outdated and new != p

    try:
        return await store.edit_permission_set(arn, run)
    except Missing:  # deleted since
        raise _no_permission_set(arn) from None


async def update_permission_set(
    store: AccessStore,
    config: Configuration,
    instance_arn: str,
    arn: str,
    *,
    description: str | None = None,
    session_duration: str | None = None,
    relay_state: str | None = None,
) -> PermissionSet:
    """UpdatePermissionSet: the members given replace the stored ones."""
    await get_permission_set(store, config, instance_arn, arn)  # references first, then values
    if session_duration is not None:
        check_session_duration(session_duration)

    def change(p: PermissionSet) -> PermissionSet:
        return replace(
            p,
            description=p.description if description is None else description,
            session_duration=p.session_duration if session_duration is None else session_duration,
            relay_state=p.relay_state if relay_state is None else relay_state,
        )

    return await edit(store, config, instance_arn, arn, change)


async def delete_permission_set(
    store: AccessStore, config: Configuration, instance_arn: str, arn: str
) -> None:
    """Refused (``Conflict``) while an account assignment names it; its provisionings go with it."""
    await get_permission_set(store, config, instance_arn, arn)
    try:
        deleted = await store.delete_permission_set(arn)
    except InUse:
        raise Conflict(
            f"Permission set {arn} has account assignments; delete them (DeleteAccountAssignment) first"
        ) from None
    if not deleted:
        raise _no_permission_set(arn)


def _policy_count(p: PermissionSet) -> int:
    return len(p.managed_policy_arns) + len(p.customer_managed_policies)


async def put_inline_policy(
    store: AccessStore, config: Configuration, instance_arn: str, arn: str, text: str
) -> PermissionSet:
    await get_permission_set(store, config, instance_arn, arn)
    policy = parse_inline_policy(text)
    return await edit(store, config, instance_arn, arn, lambda p: replace(p, inline_policy=policy))


async def delete_inline_policy(
    store: AccessStore, config: Configuration, instance_arn: str, arn: str
) -> None:
    """Deleting an absent inline policy succeeds and changes nothing."""
    await edit(store, config, instance_arn, arn, lambda p: replace(p, inline_policy=None))


async def attach_managed_policy(
    store: AccessStore, config: Configuration, instance_arn: str, arn: str, policy_arn: str
) -> PermissionSet:
    def change(p: PermissionSet) -> PermissionSet:
        if policy_arn in p.managed_policy_arns:
            raise Conflict(f"Managed policy {policy_arn} is already attached to the permission set")
        if _policy_count(p) >= MAX_MANAGED_POLICIES:
            raise ServiceQuotaExceeded(
                f"A permission set can have at most {MAX_MANAGED_POLICIES} managed policies"
            )
        return replace(p, managed_policy_arns=(*p.managed_policy_arns, policy_arn))

    return await edit(store, config, instance_arn, arn, change)


async def detach_managed_policy(
    store: AccessStore, config: Configuration, instance_arn: str, arn: str, policy_arn: str
) -> PermissionSet:
    def change(p: PermissionSet) -> PermissionSet:
        if policy_arn not in p.managed_policy_arns:
            raise ResourceNotFound(
                f"Managed policy {policy_arn} is not attached to the permission set",
                "MANAGED_POLICY",
                policy_arn,
            )
        return replace(p, managed_policy_arns=tuple(a for a in p.managed_policy_arns if a != policy_arn))

    return await edit(store, config, instance_arn, arn, change)


def _reference_name(ref: CustomerManagedPolicyReference) -> str:
    return f"{ref.path}{ref.name}"


async def attach_customer_managed_policy(
    store: AccessStore,
    config: Configuration,
    instance_arn: str,
    arn: str,
    ref: CustomerManagedPolicyReference,
) -> PermissionSet:
    def change(p: PermissionSet) -> PermissionSet:
        if ref in p.customer_managed_policies:
            raise Conflict(
                f"Customer managed policy {_reference_name(ref)} is already attached to the permission set"
            )
        if _policy_count(p) >= MAX_MANAGED_POLICIES:
            raise ServiceQuotaExceeded(
                f"A permission set can have at most {MAX_MANAGED_POLICIES} managed policies"
            )
        return replace(p, customer_managed_policies=(*p.customer_managed_policies, ref))

    return await edit(store, config, instance_arn, arn, change)


async def detach_customer_managed_policy(
    store: AccessStore,
    config: Configuration,
    instance_arn: str,
    arn: str,
    ref: CustomerManagedPolicyReference,
) -> PermissionSet:
    def change(p: PermissionSet) -> PermissionSet:
        if ref not in p.customer_managed_policies:
            raise ResourceNotFound(
                f"Customer managed policy {_reference_name(ref)} is not attached to the permission set",
                "CUSTOMER_MANAGED_POLICY",
                _reference_name(ref),
            )
        return replace(p, customer_managed_policies=tuple(r for r in p.customer_managed_policies if r != ref))

    return await edit(store, config, instance_arn, arn, change)


async def put_permissions_boundary(
    store: AccessStore, config: Configuration, instance_arn: str, arn: str, boundary: PermissionsBoundary
) -> PermissionSet:
    await get_permission_set(store, config, instance_arn, arn)
    check_boundary(boundary)
    return await edit(store, config, instance_arn, arn, lambda p: replace(p, permissions_boundary=boundary))


async def delete_permissions_boundary(
    store: AccessStore, config: Configuration, instance_arn: str, arn: str
) -> None:
    """Deleting an absent boundary succeeds and changes nothing."""
    await edit(store, config, instance_arn, arn, lambda p: replace(p, permissions_boundary=None))


async def tag_permission_set(
    store: AccessStore, config: Configuration, instance_arn: str, arn: str, tags: Mapping[str, str]
) -> None:
    def change(p: PermissionSet) -> PermissionSet:
        merged = {**p.tags, **tags}
        check_tags(merged)
        return replace(p, tags=merged)

    await edit(store, config, instance_arn, arn, change, outdated=False)


async def untag_permission_set(
    store: AccessStore, config: Configuration, instance_arn: str, arn: str, keys: Iterable[str]
) -> None:
    drop = set(keys)
    await edit(
        store,
        config,
        instance_arn,
        arn,
        lambda p: replace(p, tags={k: v for k, v in p.tags.items() if k not in drop}),
        outdated=False,
    )


def is_permission_set_arn(arn: str) -> bool:
    return ":permissionSet/" in arn


# -- provisioning and assignments --------------------------------------------------------------------------------
async def provision(
    store: AccessStore,
    config: Configuration,
    instance_arn: str,
    arn: str,
    *,
    target_type: Literal["AWS_ACCOUNT", "ALL_PROVISIONED_ACCOUNTS"],
    target_id: str | None,
    now: float,
) -> AccessRequest:
    """ProvisionPermissionSet: to one account (``AWS_ACCOUNT``, TargetId required) or again to every account it
    is provisioned to (``ALL_PROVISIONED_ACCOUNTS``, no TargetId)."""
    await get_permission_set(store, config, instance_arn, arn)
    if target_type == "AWS_ACCOUNT":
        if not target_id:
            raise ValidationFailed("TargetId is required when TargetType is AWS_ACCOUNT", "TargetId")
        check_account_id(target_id)
    elif target_id:
        raise ValidationFailed(
            "TargetId must not be given when TargetType is ALL_PROVISIONED_ACCOUNTS", "TargetId"
        )
    request = AccessRequest(
        new_request_id(), ACCESS_PROVISION, SUCCEEDED, now, arn, account_id=target_id or ""
    )
    try:
        await store.provision_permission_set(request)
    except Missing:
        raise _no_permission_set(arn) from None
    return request


async def create_account_assignment(
    store: AccessStore,
    config: Configuration,
    instance_arn: str,
    assignment: AccountAssignment,
    *,
    now: float,
) -> AccessRequest:
    """CreateAccountAssignment: the assignment and the provisioning of its permission set to its account; again
    for an existing assignment succeeds (a new request) and changes nothing else."""
    a = assignment
    await get_permission_set(store, config, instance_arn, a.permission_set_arn)
    await check_principal(store, a.principal_type, a.principal_id)
    check_account_id(a.account_id)
    request = _assignment_request(ACCESS_CREATE_ASSIGNMENT, a, now)
    try:
        await store.create_account_assignment(a, request)
    except Missing as exc:  # deleted since the checks above
        if exc.kind == "permission_set":
            raise _no_permission_set(a.permission_set_arn) from None
        await check_principal(store, a.principal_type, a.principal_id)
        # the principal is back (ids are never reused): the write raced its deletion; a conflict to retry
        raise Conflict("The principal changed while the assignment was made; retry the request") from exc
    return request


async def delete_account_assignment(
    store: AccessStore,
    config: Configuration,
    instance_arn: str,
    assignment: AccountAssignment,
    *,
    now: float,
) -> AccessRequest:
    """DeleteAccountAssignment; an assignment that does not exist is ``ResourceNotFound`` and nothing is stored."""
    a = assignment
    await get_permission_set(store, config, instance_arn, a.permission_set_arn)
    check_account_id(a.account_id)
    request = _assignment_request(ACCESS_DELETE_ASSIGNMENT, a, now)
    if not await store.delete_account_assignment(a, request):
        raise ResourceNotFound(
            f"{a.principal_type.capitalize()} {a.principal_id} has no assignment of permission set"
            f" {a.permission_set_arn} on account {a.account_id}",
            "ACCOUNT_ASSIGNMENT",
            a.principal_id,
        )
    return request


def _assignment_request(kind: AccessRequestKind, a: AccountAssignment, now: float) -> AccessRequest:
    return AccessRequest(
        new_request_id(),
        kind,
        SUCCEEDED,
        now,
        a.permission_set_arn,
        account_id=a.account_id,
        principal_type=a.principal_type,
        principal_id=a.principal_id,
    )


async def get_request(
    store: AccessStore, config: Configuration, instance_arn: str, kind: AccessRequestKind, request_id: str
) -> AccessRequest:
    """The status record of an asynchronous request of ``kind`` (``ResourceNotFound`` for another kind's id)."""
    active_instance(config, instance_arn)
    found = await store.get_access_request(request_id)
    if found is None or found.kind != kind:
        raise ResourceNotFound(f"Request {request_id} does not exist", "REQUEST", request_id)
    return found

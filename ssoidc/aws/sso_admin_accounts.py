"""sso-admin permission sets and account assignments: wire shapes <-> ``ssoidc.admin.permission_sets``.

A mixin of ``ssoidc.aws.sso_admin.SsoAdminApi`` (the skeleton finds each handler as ``xform_name(<Operation>)``,
after SigV4, the same authorization hook as every sso-admin operation, and model validation). Served:

* permission sets: CreatePermissionSet, DescribePermissionSet, ListPermissionSets, UpdatePermissionSet,
  DeletePermissionSet;
* policies: PutInlinePolicyToPermissionSet, GetInlinePolicyForPermissionSet, DeleteInlinePolicyFromPermissionSet
  (the inline policy is a JSON string on the wire), AttachManagedPolicyToPermissionSet,
  DetachManagedPolicyFromPermissionSet, ListManagedPoliciesInPermissionSet,
  AttachCustomerManagedPolicyReferenceToPermissionSet, DetachCustomerManagedPolicyReferenceFromPermissionSet,
  ListCustomerManagedPolicyReferencesInPermissionSet, PutPermissionsBoundaryToPermissionSet,
  GetPermissionsBoundaryForPermissionSet, DeletePermissionsBoundaryFromPermissionSet;
* provisioning: ProvisionPermissionSet, DescribePermissionSetProvisioningStatus,
  ListPermissionSetProvisioningStatus, ListPermissionSetsProvisionedToAccount,
  ListAccountsForProvisionedPermissionSet;
* account assignments: CreateAccountAssignment, DeleteAccountAssignment, DescribeAccountAssignmentCreationStatus,
  DescribeAccountAssignmentDeletionStatus, ListAccountAssignmentCreationStatus,
  ListAccountAssignmentDeletionStatus, ListAccountAssignments, ListAccountAssignmentsForPrincipal;
* the tags of permission sets (``SsoAdminApi``'s TagResource, UntagResource and ListTagsForResource call
  ``tag_permission_set`` and its kin for a permission set ARN).

Lists page with the sealed NextTokens (``ssoidc.admin.paging``) over keyset reads of the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ssoidc.admin import permission_sets as ps
from ssoidc.admin.applications import check_principal
from ssoidc.admin.instance import active_instance
from ssoidc.admin.paging import PageTokens, fetch_page, next_page, page
from ssoidc.aws.mapping import tags_from_shape
from ssoidc.aws.shapes import sso_admin as sa
from ssoidc.aws.skeleton import Call
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
from ssoidc.storage import access_sql

PROVISIONED = "LATEST_PERMISSION_SET_PROVISIONED"


# -- mapping ------------------------------------------------------------------------------------------------------
def permission_set_to_shape(p: PermissionSet) -> sa.PermissionSet:
    out: sa.PermissionSet = {
        "Name": p.name,
        "PermissionSetArn": p.arn,
        "CreatedDate": p.created_at,
        "SessionDuration": p.session_duration,
    }
    if p.description:
        out["Description"] = p.description
    if p.relay_state:
        out["RelayState"] = p.relay_state
    return out


def reference_from_shape(shape: sa.CustomerManagedPolicyReference) -> CustomerManagedPolicyReference:
    return CustomerManagedPolicyReference(shape["Name"], shape.get("Path", "/"))


def reference_to_shape(r: CustomerManagedPolicyReference) -> sa.CustomerManagedPolicyReference:
    return {"Name": r.name, "Path": r.path}


def boundary_from_shape(shape: sa.PermissionsBoundary) -> PermissionsBoundary:
    ref = shape.get("CustomerManagedPolicyReference")
    return PermissionsBoundary(
        shape.get("ManagedPolicyArn", ""), None if ref is None else reference_from_shape(ref)
    )


def boundary_to_shape(b: PermissionsBoundary) -> sa.PermissionsBoundary:
    if b.customer_managed_policy_reference is not None:
        return {"CustomerManagedPolicyReference": reference_to_shape(b.customer_managed_policy_reference)}
    return {"ManagedPolicyArn": b.managed_policy_arn}


def managed_policy_to_shape(arn: str) -> sa.AttachedManagedPolicy:
    return {"Name": arn.rsplit("/", 1)[1], "Arn": arn}


def assignment_from_shape(
    shape: sa.CreateAccountAssignmentRequest | sa.DeleteAccountAssignmentRequest,
) -> AccountAssignment:
    return AccountAssignment(
        shape["TargetId"], shape["PermissionSetArn"], shape["PrincipalType"], shape["PrincipalId"]
    )


def assignment_to_shape(a: AccountAssignment) -> sa.AccountAssignment:
    return {
        "AccountId": a.account_id,
        "PermissionSetArn": a.permission_set_arn,
        "PrincipalType": a.principal_type,
        "PrincipalId": a.principal_id,
    }


def principal_assignment_to_shape(a: AccountAssignment) -> sa.AccountAssignmentForPrincipal:
    return {
        "AccountId": a.account_id,
        "PermissionSetArn": a.permission_set_arn,
        "PrincipalId": a.principal_id,
        "PrincipalType": a.principal_type,
    }


def assignment_status_to_shape(r: AccessRequest) -> sa.AccountAssignmentOperationStatus:
    out: sa.AccountAssignmentOperationStatus = {
        "Status": _status(r),
        "RequestId": r.request_id,
        "TargetId": r.account_id,
        "TargetType": "AWS_ACCOUNT",
        "PermissionSetArn": r.permission_set_arn,
        "PrincipalType": "USER" if r.principal_type == "USER" else "GROUP",
        "PrincipalId": r.principal_id,
        "CreatedDate": r.created_at,
    }
    if r.failure_reason:
        out["FailureReason"] = r.failure_reason
    return out


def provisioning_status_to_shape(r: AccessRequest) -> sa.PermissionSetProvisioningStatus:
    out: sa.PermissionSetProvisioningStatus = {
        "Status": _status(r),
        "RequestId": r.request_id,
        "PermissionSetArn": r.permission_set_arn,
        "CreatedDate": r.created_at,
    }
    if r.account_id:
        out["AccountId"] = r.account_id
    if r.failure_reason:
        out["FailureReason"] = r.failure_reason
    return out


def _status(r: AccessRequest) -> sa.StatusValues:
    return "SUCCEEDED" if r.status == "SUCCEEDED" else "FAILED" if r.status == "FAILED" else "IN_PROGRESS"


def status_metadata(r: AccessRequest) -> sa.AccountAssignmentOperationStatusMetadata:
    return {"Status": _status(r), "RequestId": r.request_id, "CreatedDate": r.created_at}


def _outdated(status: str | None) -> bool | None:
    """The store's ``outdated`` filter of a ``ProvisioningStatus`` member (None: both)."""
    return None if status is None else status != PROVISIONED


class SsoAdminAccounts:
    """The permission-set and account-assignment handlers of ``SsoAdminApi``."""

    if TYPE_CHECKING:
        _store: ps.AccessStore
        _pages: PageTokens

        async def _config(self) -> Configuration: ...

    # -- permission sets ----------------------------------------------------------------------------------------
    async def create_permission_set(
        self, inp: sa.CreatePermissionSetRequest, call: Call
    ) -> sa.CreatePermissionSetResponse:
        p = await ps.create_permission_set(
            self._store,
            await self._config(),
            inp["InstanceArn"],
            name=inp["Name"],
            description=inp.get("Description", ""),
            session_duration=inp.get("SessionDuration", "PT1H"),
            relay_state=inp.get("RelayState", ""),
            tags=tags_from_shape(inp.get("Tags")),
            now=call.now,
        )
        return {"PermissionSet": permission_set_to_shape(p)}

    async def describe_permission_set(
        self, inp: sa.DescribePermissionSetRequest, call: Call
    ) -> sa.DescribePermissionSetResponse:
        p = await ps.get_permission_set(
            self._store, await self._config(), inp["InstanceArn"], inp["PermissionSetArn"]
        )
        return {"PermissionSet": permission_set_to_shape(p)}

    async def list_permission_sets(
        self, inp: sa.ListPermissionSetsRequest, call: Call
    ) -> sa.ListPermissionSetsResponse:
        active_instance(await self._config(), inp["InstanceArn"])

        async def fetch(after: str, limit: int) -> list[PermissionSet]:
            return await self._store.list_permission_sets(after=after, limit=limit)

        chunk, nxt = await fetch_page(
            fetch, lambda p: p.arn, self._pages.cursor(call.operation, inp), inp.get("MaxResults")
        )
        return {"PermissionSets": [p.arn for p in chunk], **next_page(nxt)}

    async def update_permission_set(
        self, inp: sa.UpdatePermissionSetRequest, call: Call
    ) -> sa.UpdatePermissionSetResponse:
        await ps.update_permission_set(
            self._store,
            await self._config(),
            inp["InstanceArn"],
            inp["PermissionSetArn"],
            description=inp.get("Description"),
            session_duration=inp.get("SessionDuration"),
            relay_state=inp.get("RelayState"),
        )
        return {}

    async def delete_permission_set(
        self, inp: sa.DeletePermissionSetRequest, call: Call
    ) -> sa.DeletePermissionSetResponse:
        await ps.delete_permission_set(
            self._store, await self._config(), inp["InstanceArn"], inp["PermissionSetArn"]
        )
        return {}

    # -- inline policy ------------------------------------------------------------------------------------------
    async def put_inline_policy_to_permission_set(
        self, inp: sa.PutInlinePolicyToPermissionSetRequest, call: Call
    ) -> sa.PutInlinePolicyToPermissionSetResponse:
        await ps.put_inline_policy(
            self._store,
            await self._config(),
            inp["InstanceArn"],
            inp["PermissionSetArn"],
            inp["InlinePolicy"],
        )
        return {}

    async def get_inline_policy_for_permission_set(
        self, inp: sa.GetInlinePolicyForPermissionSetRequest, call: Call
    ) -> sa.GetInlinePolicyForPermissionSetResponse:
        p = await ps.get_permission_set(
            self._store, await self._config(), inp["InstanceArn"], inp["PermissionSetArn"]
        )
        return {} if p.inline_policy is None else {"InlinePolicy": ps.inline_policy_text(p.inline_policy)}

    async def delete_inline_policy_from_permission_set(
        self, inp: sa.DeleteInlinePolicyFromPermissionSetRequest, call: Call
    ) -> sa.DeleteInlinePolicyFromPermissionSetResponse:
        await ps.delete_inline_policy(
            self._store, await self._config(), inp["InstanceArn"], inp["PermissionSetArn"]
        )
        return {}

    # -- AWS managed policies -----------------------------------------------------------------------------------
    async def attach_managed_policy_to_permission_set(
        self, inp: sa.AttachManagedPolicyToPermissionSetRequest, call: Call
    ) -> sa.AttachManagedPolicyToPermissionSetResponse:
        await ps.attach_managed_policy(
            self._store,
            await self._config(),
            inp["InstanceArn"],
            inp["PermissionSetArn"],
            inp["ManagedPolicyArn"],
        )
        return {}

    async def detach_managed_policy_from_permission_set(
        self, inp: sa.DetachManagedPolicyFromPermissionSetRequest, call: Call
    ) -> sa.DetachManagedPolicyFromPermissionSetResponse:
        await ps.detach_managed_policy(
            self._store,
            await self._config(),
            inp["InstanceArn"],
            inp["PermissionSetArn"],
            inp["ManagedPolicyArn"],
        )
        return {}

    async def list_managed_policies_in_permission_set(
        self, inp: sa.ListManagedPoliciesInPermissionSetRequest, call: Call
    ) -> sa.ListManagedPoliciesInPermissionSetResponse:
        p = await ps.get_permission_set(
            self._store, await self._config(), inp["InstanceArn"], inp["PermissionSetArn"]
        )
        chunk, nxt = page(
            p.managed_policy_arns, lambda a: a, self._pages.cursor(call.operation, inp), inp.get("MaxResults")
        )
        return {"AttachedManagedPolicies": [managed_policy_to_shape(a) for a in chunk], **next_page(nxt)}

    # -- customer managed policies ------------------------------------------------------------------------------
    async def attach_customer_managed_policy_reference_to_permission_set(
        self, inp: sa.AttachCustomerManagedPolicyReferenceToPermissionSetRequest, call: Call
    ) -> sa.AttachCustomerManagedPolicyReferenceToPermissionSetResponse:
        await ps.attach_customer_managed_policy(
            self._store,
            await self._config(),
            inp["InstanceArn"],
            inp["PermissionSetArn"],
            reference_from_shape(inp["CustomerManagedPolicyReference"]),
        )
        return {}

    async def detach_customer_managed_policy_reference_from_permission_set(
        self, inp: sa.DetachCustomerManagedPolicyReferenceFromPermissionSetRequest, call: Call
    ) -> sa.DetachCustomerManagedPolicyReferenceFromPermissionSetResponse:
        await ps.detach_customer_managed_policy(
            self._store,
            await self._config(),
            inp["InstanceArn"],
            inp["PermissionSetArn"],
            reference_from_shape(inp["CustomerManagedPolicyReference"]),
        )
        return {}

    async def list_customer_managed_policy_references_in_permission_set(
        self, inp: sa.ListCustomerManagedPolicyReferencesInPermissionSetRequest, call: Call
    ) -> sa.ListCustomerManagedPolicyReferencesInPermissionSetResponse:
        p = await ps.get_permission_set(
            self._store, await self._config(), inp["InstanceArn"], inp["PermissionSetArn"]
        )
        chunk, nxt = page(
            p.customer_managed_policies,
            lambda r: f"{r.path}{r.name}",
            self._pages.cursor(call.operation, inp),
            inp.get("MaxResults"),
        )
        return {"CustomerManagedPolicyReferences": [reference_to_shape(r) for r in chunk], **next_page(nxt)}

    # -- permissions boundary -----------------------------------------------------------------------------------
    async def put_permissions_boundary_to_permission_set(
        self, inp: sa.PutPermissionsBoundaryToPermissionSetRequest, call: Call
    ) -> sa.PutPermissionsBoundaryToPermissionSetResponse:
        await ps.put_permissions_boundary(
            self._store,
            await self._config(),
            inp["InstanceArn"],
            inp["PermissionSetArn"],
            boundary_from_shape(inp["PermissionsBoundary"]),
        )
        return {}

    async def get_permissions_boundary_for_permission_set(
        self, inp: sa.GetPermissionsBoundaryForPermissionSetRequest, call: Call
    ) -> sa.GetPermissionsBoundaryForPermissionSetResponse:
        p = await ps.get_permission_set(
            self._store, await self._config(), inp["InstanceArn"], inp["PermissionSetArn"]
        )
        b = p.permissions_boundary
        return {} if b is None else {"PermissionsBoundary": boundary_to_shape(b)}

    async def delete_permissions_boundary_from_permission_set(
        self, inp: sa.DeletePermissionsBoundaryFromPermissionSetRequest, call: Call
    ) -> sa.DeletePermissionsBoundaryFromPermissionSetResponse:
        await ps.delete_permissions_boundary(
            self._store, await self._config(), inp["InstanceArn"], inp["PermissionSetArn"]
        )
        return {}

    # -- provisioning -------------------------------------------------------------------------------------------
    async def provision_permission_set(
        self, inp: sa.ProvisionPermissionSetRequest, call: Call
    ) -> sa.ProvisionPermissionSetResponse:
        r = await ps.provision(
            self._store,
            await self._config(),
            inp["InstanceArn"],
            inp["PermissionSetArn"],
            target_type=inp["TargetType"],
            target_id=inp.get("TargetId"),
            now=call.now,
        )
        return {"PermissionSetProvisioningStatus": provisioning_status_to_shape(r)}

    async def describe_permission_set_provisioning_status(
        self, inp: sa.DescribePermissionSetProvisioningStatusRequest, call: Call
    ) -> sa.DescribePermissionSetProvisioningStatusResponse:
        r = await ps.get_request(
            self._store,
            await self._config(),
            inp["InstanceArn"],
            ACCESS_PROVISION,
            inp["ProvisionPermissionSetRequestId"],
        )
        return {"PermissionSetProvisioningStatus": provisioning_status_to_shape(r)}

    async def _statuses(
        self,
        inp: sa.ListPermissionSetProvisioningStatusRequest
        | sa.ListAccountAssignmentCreationStatusRequest
        | sa.ListAccountAssignmentDeletionStatusRequest,
        call: Call,
        kind: AccessRequestKind,
    ) -> tuple[list[AccessRequest], str | None]:
        active_instance(await self._config(), inp["InstanceArn"])
        status = inp.get("Filter", {}).get("Status")

        async def fetch(after: str, limit: int) -> list[AccessRequest]:
            return await self._store.list_access_requests(kind, status=status, after=after, limit=limit)

        return await fetch_page(
            fetch, lambda r: r.request_id, self._pages.cursor(call.operation, inp), inp.get("MaxResults")
        )

    async def list_permission_set_provisioning_status(
        self, inp: sa.ListPermissionSetProvisioningStatusRequest, call: Call
    ) -> sa.ListPermissionSetProvisioningStatusResponse:
        chunk, nxt = await self._statuses(inp, call, ACCESS_PROVISION)
        return {"PermissionSetsProvisioningStatus": [status_metadata(r) for r in chunk], **next_page(nxt)}

    async def list_permission_sets_provisioned_to_account(
        self, inp: sa.ListPermissionSetsProvisionedToAccountRequest, call: Call
    ) -> sa.ListPermissionSetsProvisionedToAccountResponse:
        active_instance(await self._config(), inp["InstanceArn"])
        account = inp["AccountId"]
        ps.check_account_id(account, "AccountId")
        outdated = _outdated(inp.get("ProvisioningStatus"))

        async def fetch(after: str, limit: int) -> list[str]:
            return await self._store.list_provisioned_permission_sets(
                account, outdated=outdated, after=after, limit=limit
            )

        chunk, nxt = await fetch_page(
            fetch, lambda a: a, self._pages.cursor(call.operation, inp), inp.get("MaxResults")
        )
        return {"PermissionSets": chunk, **next_page(nxt)}

    async def list_accounts_for_provisioned_permission_set(
        self, inp: sa.ListAccountsForProvisionedPermissionSetRequest, call: Call
    ) -> sa.ListAccountsForProvisionedPermissionSetResponse:
        arn = inp["PermissionSetArn"]
        await ps.get_permission_set(self._store, await self._config(), inp["InstanceArn"], arn)
        outdated = _outdated(inp.get("ProvisioningStatus"))

        async def fetch(after: str, limit: int) -> list[str]:
            return await self._store.list_provisioned_accounts(
                arn, outdated=outdated, after=after, limit=limit
            )

        chunk, nxt = await fetch_page(
            fetch, lambda a: a, self._pages.cursor(call.operation, inp), inp.get("MaxResults")
        )
        return {"AccountIds": chunk, **next_page(nxt)}

    # -- account assignments ------------------------------------------------------------------------------------
    async def create_account_assignment(
        self, inp: sa.CreateAccountAssignmentRequest, call: Call
    ) -> sa.CreateAccountAssignmentResponse:
        r = await ps.create_account_assignment(
            self._store, await self._config(), inp["InstanceArn"], assignment_from_shape(inp), now=call.now
        )
        return {"AccountAssignmentCreationStatus": assignment_status_to_shape(r)}

    async def delete_account_assignment(
        self, inp: sa.DeleteAccountAssignmentRequest, call: Call
    ) -> sa.DeleteAccountAssignmentResponse:
        r = await ps.delete_account_assignment(
            self._store, await self._config(), inp["InstanceArn"], assignment_from_shape(inp), now=call.now
        )
        return {"AccountAssignmentDeletionStatus": assignment_status_to_shape(r)}

    async def describe_account_assignment_creation_status(
        self, inp: sa.DescribeAccountAssignmentCreationStatusRequest, call: Call
    ) -> sa.DescribeAccountAssignmentCreationStatusResponse:
        r = await ps.get_request(
            self._store,
            await self._config(),
            inp["InstanceArn"],
            ACCESS_CREATE_ASSIGNMENT,
            inp["AccountAssignmentCreationRequestId"],
        )
        return {"AccountAssignmentCreationStatus": assignment_status_to_shape(r)}

    async def describe_account_assignment_deletion_status(
        self, inp: sa.DescribeAccountAssignmentDeletionStatusRequest, call: Call
    ) -> sa.DescribeAccountAssignmentDeletionStatusResponse:
        r = await ps.get_request(
            self._store,
            await self._config(),
            inp["InstanceArn"],
            ACCESS_DELETE_ASSIGNMENT,
            inp["AccountAssignmentDeletionRequestId"],
        )
        return {"AccountAssignmentDeletionStatus": assignment_status_to_shape(r)}

    async def list_account_assignment_creation_status(
        self, inp: sa.ListAccountAssignmentCreationStatusRequest, call: Call
    ) -> sa.ListAccountAssignmentCreationStatusResponse:
        chunk, nxt = await self._statuses(inp, call, ACCESS_CREATE_ASSIGNMENT)
        return {"AccountAssignmentsCreationStatus": [status_metadata(r) for r in chunk], **next_page(nxt)}

    async def list_account_assignment_deletion_status(
        self, inp: sa.ListAccountAssignmentDeletionStatusRequest, call: Call
    ) -> sa.ListAccountAssignmentDeletionStatusResponse:
        chunk, nxt = await self._statuses(inp, call, ACCESS_DELETE_ASSIGNMENT)
        return {"AccountAssignmentsDeletionStatus": [status_metadata(r) for r in chunk], **next_page(nxt)}

    async def list_account_assignments(
        self, inp: sa.ListAccountAssignmentsRequest, call: Call
    ) -> sa.ListAccountAssignmentsResponse:
        account, arn = inp["AccountId"], inp["PermissionSetArn"]
        ps.check_account_id(account, "AccountId")
        await ps.get_permission_set(self._store, await self._config(), inp["InstanceArn"], arn)

        async def fetch(after: str, limit: int) -> list[AccountAssignment]:
            return await self._store.list_account_assignments(account, arn, after=after, limit=limit)

        chunk, nxt = await fetch_page(
            fetch, access_sql.principal_key, self._pages.cursor(call.operation, inp), inp.get("MaxResults")
        )
        return {"AccountAssignments": [assignment_to_shape(a) for a in chunk], **next_page(nxt)}

    async def list_account_assignments_for_principal(
        self, inp: sa.ListAccountAssignmentsForPrincipalRequest, call: Call
    ) -> sa.ListAccountAssignmentsForPrincipalResponse:
        active_instance(await self._config(), inp["InstanceArn"])
        principal_type, principal_id = inp["PrincipalType"], inp["PrincipalId"]
        await check_principal(self._store, principal_type, principal_id)
        account = inp.get("Filter", {}).get("AccountId")
        if account is not None:
            ps.check_account_id(account, "Filter.AccountId")

        async def fetch(after: str, limit: int) -> list[AccountAssignment]:
            return await self._store.list_principal_account_assignments(
                principal_type, principal_id, account_id=account, after=after, limit=limit
            )

        chunk, nxt = await fetch_page(
            fetch, access_sql.target_key, self._pages.cursor(call.operation, inp), inp.get("MaxResults")
        )
        return {"AccountAssignments": [principal_assignment_to_shape(a) for a in chunk], **next_page(nxt)}

    # -- tags (called by SsoAdminApi's tag handlers for a permission set ARN) -----------------------------------
    async def _tag_permission_set(self, instance_arn: str | None, arn: str, tags: dict[str, str]) -> None:
        config = await self._config()
        await ps.tag_permission_set(
            self._store, config, instance_arn or config.instance.instance_arn, arn, tags
        )

    async def _untag_permission_set(self, instance_arn: str | None, arn: str, keys: Iterable[str]) -> None:
        config = await self._config()
        await ps.untag_permission_set(
            self._store, config, instance_arn or config.instance.instance_arn, arn, keys
        )

    async def _permission_set_tags(self, instance_arn: str | None, arn: str) -> Mapping[str, str]:
        config = await self._config()
        p = await ps.get_permission_set(
            self._store, config, instance_arn or config.instance.instance_arn, arn
        )
        return dict(p.tags)

"""Every modelled operation of every service the skeleton serves is either handled or answers an AWS-shaped
``NotImplementedException`` that the SDK decodes by name, never a bare 404.

The operations come from the pinned botocore models (sso-oidc, the access portal ``sso``, sso-admin,
identitystore, STS); the served ones from the handler objects (``skeleton.handler_table``). Each unserved one is
called through boto3 (parameter validation off, so an empty request reaches the server: a handler-less operation
is refused before its input is read) and a few through the AWS CLI v2, the second real client.
"""

from __future__ import annotations

import inspect
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from ssoidc.aws.identitystore import IdentityStoreApi
from ssoidc.aws.models import service_model
from ssoidc.aws.oidc import SsoOidcApi
from ssoidc.aws.sso_admin import SsoAdminApi
from ssoidc.aws.sso_admin_accounts import SsoAdminAccounts
from tests.helpers.cli import V2_AWS, proxy_env
from tests.helpers.clients import make_admin_client
from tests.helpers.handlers import served as served_operations
from tests.helpers.servers import LiveServer

SERVICES = ("sso-oidc", "sso", "sso-admin", "identitystore", "sts")


def served(service: str) -> set[str]:
    return set(served_operations(service))


UNSERVED = [
    (service, op)
    for service in SERVICES
    for op in service_model(service).operation_names
    if op not in served(service)
]


SSO_ADMIN_SERVED = [
    "AddRegion",
    "AttachCustomerManagedPolicyReferenceToPermissionSet",
    "AttachManagedPolicyToPermissionSet",
    "CreateAccountAssignment",
    "CreateApplication",
    "CreateApplicationAssignment",
    "CreateInstance",
    "CreateInstanceAccessControlAttributeConfiguration",
    "CreatePermissionSet",
    "CreateTrustedTokenIssuer",
    "DeleteAccountAssignment",
    "DeleteApplication",
    "DeleteApplicationAccessScope",
    "DeleteApplicationAssignment",
    "DeleteApplicationAuthenticationMethod",
    "DeleteApplicationGrant",
    "DeleteInlinePolicyFromPermissionSet",
    "DeleteInstance",
    "DeleteInstanceAccessControlAttributeConfiguration",
    "DeletePermissionSet",
    "DeletePermissionsBoundaryFromPermissionSet",
    "DeleteTrustedTokenIssuer",
    "DescribeAccountAssignmentCreationStatus",
    "DescribeAccountAssignmentDeletionStatus",
    "DescribeApplication",
    "DescribeApplicationAssignment",
    "DescribeApplicationProvider",
    "DescribeInstance",
    "DescribeInstanceAccessControlAttributeConfiguration",
    "DescribePermissionSet",
    "DescribePermissionSetProvisioningStatus",
    "DescribeRegion",
    "DescribeTrustedTokenIssuer",
    "DetachCustomerManagedPolicyReferenceFromPermissionSet",
    "DetachManagedPolicyFromPermissionSet",
    "GetApplicationAccessScope",
    "GetApplicationAssignmentConfiguration",
    "GetApplicationAuthenticationMethod",
    "GetApplicationGrant",
    "GetApplicationSessionConfiguration",
    "GetInlinePolicyForPermissionSet",
    "GetPermissionsBoundaryForPermissionSet",
    "ListAccountAssignmentCreationStatus",
    "ListAccountAssignmentDeletionStatus",
    "ListAccountAssignments",
    "ListAccountAssignmentsForPrincipal",
    "ListAccountsForProvisionedPermissionSet",
    "ListApplicationAccessScopes",
    "ListApplicationAssignments",
    "ListApplicationAssignmentsForPrincipal",
    "ListApplicationAuthenticationMethods",
    "ListApplicationGrants",
    "ListApplicationProviders",
    "ListApplications",
    "ListCustomerManagedPolicyReferencesInPermissionSet",
    "ListInstances",
    "ListManagedPoliciesInPermissionSet",
    "ListPermissionSetProvisioningStatus",
    "ListPermissionSets",
    "ListPermissionSetsProvisionedToAccount",
    "ListRegions",
    "ListTagsForResource",
    "ListTrustedTokenIssuers",
    "ProvisionPermissionSet",
    "PutApplicationAccessScope",
    "PutApplicationAssignmentConfiguration",
    "PutApplicationAuthenticationMethod",
    "PutApplicationGrant",
    "PutApplicationSessionConfiguration",
    "PutInlinePolicyToPermissionSet",
    "PutPermissionsBoundaryToPermissionSet",
    "RemoveRegion",
    "TagResource",
    "UntagResource",
    "UpdateApplication",
    "UpdateInstance",
    "UpdateInstanceAccessControlAttributeConfiguration",
    "UpdatePermissionSet",
    "UpdateTrustedTokenIssuer",
]
"""The sso-admin operations docs/admin-api.md and docs/permission-sets.md document: all 79 of the model."""


def test_the_served_operations_are_the_documented_ones() -> None:
    """Pinned by name, so a handler that goes missing or is renamed fails here, not in the field."""
    assert served("sso-oidc") == set(service_model("sso-oidc").operation_names)  # all four (issue 14)
    assert served("sso-admin") == set(SSO_ADMIN_SERVED)
    assert served("identitystore") == set(service_model("identitystore").operation_names)
    assert served("sso") == set(service_model("sso").operation_names)  # all four (issue 15)
    assert served("sts") == {"AssumeRole", "GetCallerIdentity"}


@pytest.mark.parametrize("api", [SsoOidcApi, SsoAdminApi, SsoAdminAccounts, IdentityStoreApi])
def test_every_public_coroutine_of_a_handler_object_is_a_modelled_operation(api: type) -> None:
    service = {
        SsoOidcApi: "sso-oidc",
        SsoAdminApi: "sso-admin",
        SsoAdminAccounts: "sso-admin",
        IdentityStoreApi: "identitystore",
    }[api]
    modelled = {xform_name(op) for op in service_model(service).operation_names}
    coroutines = {
        name
        for name in vars(api)
        if not name.startswith("_") and inspect.iscoroutinefunction(getattr(api, name))
    }
    assert coroutines, api
    assert coroutines <= modelled, coroutines - modelled


@pytest.mark.parametrize(("service", "op"), UNSERVED, ids=[f"{s}:{o}" for s, o in UNSERVED])
def test_an_unserved_operation_is_refused_by_name_through_boto3(
    server: LiveServer, service: str, op: str
) -> None:
    client = make_admin_client(server, service, config={"parameter_validation": False})
    with pytest.raises(ClientError) as info:
        getattr(client, xform_name(op))()
    err: dict[str, Any] = info.value.response
    assert err["Error"]["Code"] == "NotImplementedException", err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert op in err["Error"]["Message"]
    assert err["ResponseMetadata"]["RequestId"]


def test_a_path_no_model_binds_is_still_a_plain_404(server: LiveServer) -> None:
    resp = httpx.post(f"{server.url}/no/such/operation", content=b"{}")
    assert resp.status_code == 404


def test_unserved_operations_through_the_aws_cli(server: LiveServer, tmp_path: Path) -> None:
    """The CLI v2 prints the code by name for unserved STS operations (every sso-admin and identitystore one is
    served since issue 15)."""
    env = server.aws_env() | {
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_PAGER": "",
        **proxy_env(),  # a CLI that ignored --endpoint-url would fail fast instead of reaching AWS
    }
    calls = [
        ("sts", "get-session-token", "GetSessionToken", []),
        ("sts", "get-federation-token", "GetFederationToken", ["--name", "someone"]),
    ]
    for service, command, operation, args in calls:
        argv = [str(V2_AWS), service, command, *args, "--endpoint-url", server.url, "--output", "json"]
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 254, (command, proc.returncode, proc.stderr)
        assert (
            f"An error occurred (NotImplementedException) when calling the {operation} operation"
            in proc.stderr
        ), proc.stderr

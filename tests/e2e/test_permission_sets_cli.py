"""Permission sets and account assignments through the AWS CLI v2 (``/usr/bin/aws``, Debian's 2.9), the second
real client after boto3: with the CLI's own sso-admin model (2.9 has these operations, no ``AWS_DATA_PATH``).

CreatePermissionSet, PutInlinePolicyToPermissionSet, GetInlinePolicyForPermissionSet,
AttachManagedPolicyToPermissionSet, ListManagedPoliciesInPermissionSet, CreateAccountAssignment,
DescribeAccountAssignmentCreationStatus, ListAccountAssignments (the CLI follows NextToken with --page-size),
ListPermissionSetsProvisionedToAccount, DeleteAccountAssignment,
DeletePermissionSet; and the refusals: a malformed inline policy, an unknown principal, a permission set still
assigned (exit status 254, the code and the operation on stderr). (2.9 predates
ListAccountAssignmentsForPrincipal: boto3 covers it.)
"""

from __future__ import annotations

import json
import secrets

from tests.helpers.cli import V2_AWS, AwsCli
from tests.helpers.clients import make_admin_client
from tests.helpers.servers import LiveServer

ACCOUNT = "777788889999"


def test_permission_sets_through_the_aws_cli(server: LiveServer) -> None:
    cli = AwsCli(V2_AWS, server)
    ids = make_admin_client(server, "identitystore")
    inst = make_admin_client(server, "sso-admin").list_instances()["Instances"][0]
    instance, store = inst["InstanceArn"], inst["IdentityStoreId"]
    users = [
        ids.create_user(
            IdentityStoreId=store,
            UserName=f"cli-{secrets.token_hex(4)}",
            DisplayName="C",
            Name={"GivenName": "C", "FamilyName": "L"},
        )["UserId"]
        for _ in range(3)
    ]
    name = f"Cli{secrets.token_hex(4)}"
    arn = cli.ok(
        "sso-admin",
        "create-permission-set",
        "--instance-arn",
        instance,
        "--name",
        name,
        "--session-duration",
        "PT2H",
    )["PermissionSet"]["PermissionSetArn"]
    base = ["--instance-arn", instance, "--permission-set-arn", arn]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
    }
    cli.ok("sso-admin", "put-inline-policy-to-permission-set", *base, "--inline-policy", json.dumps(policy))
    assert (
        json.loads(cli.ok("sso-admin", "get-inline-policy-for-permission-set", *base)["InlinePolicy"])
        == policy
    )
    cli.fails(
        "ValidationException",
        "sso-admin",
        "put-inline-policy-to-permission-set",
        *base,
        "--inline-policy",
        '{"Statement": 1}',
    )
    assert (
        json.loads(cli.ok("sso-admin", "get-inline-policy-for-permission-set", *base)["InlinePolicy"])
        == policy
    )  # unchanged
    cli.ok(
        "sso-admin",
        "attach-managed-policy-to-permission-set",
        *base,
        "--managed-policy-arn",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
    )
    attached = cli.ok("sso-admin", "list-managed-policies-in-permission-set", *base)[
        "AttachedManagedPolicies"
    ]
    assert attached == [{"Name": "ReadOnlyAccess", "Arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]

    target = ["--target-id", ACCOUNT, "--target-type", "AWS_ACCOUNT"]
    for uid in users:
        status = cli.ok(
            "sso-admin",
            "create-account-assignment",
            *base,
            *target,
            "--principal-type",
            "USER",
            "--principal-id",
            uid,
        )["AccountAssignmentCreationStatus"]
        assert status["Status"] == "SUCCEEDED"
    described = cli.ok(
        "sso-admin",
        "describe-account-assignment-creation-status",
        "--instance-arn",
        instance,
        "--account-assignment-creation-request-id",
        status["RequestId"],
    )["AccountAssignmentCreationStatus"]
    assert described["PrincipalId"] == users[-1] and described["TargetId"] == ACCOUNT
    cli.fails(
        "ResourceNotFoundException",
        "sso-admin",
        "create-account-assignment",
        *base,
        *target,
        "--principal-type",
        "GROUP",
        "--principal-id",
        "0000000000-00000000-0000-4000-8000-000000000000",
    )
    listed = cli.ok(
        "sso-admin",
        "list-account-assignments",
        "--instance-arn",
        instance,
        "--account-id",
        ACCOUNT,
        "--permission-set-arn",
        arn,
        "--page-size",
        "1",
    )
    assert sorted(a["PrincipalId"] for a in listed["AccountAssignments"]) == sorted(users)
    provisioned = cli.ok(
        "sso-admin",
        "list-permission-sets-provisioned-to-account",
        "--instance-arn",
        instance,
        "--account-id",
        ACCOUNT,
    )
    assert arn in provisioned["PermissionSets"]
    cli.fails("ConflictException", "sso-admin", "delete-permission-set", *base)

    for uid in users:
        cli.ok(
            "sso-admin",
            "delete-account-assignment",
            *base,
            *target,
            "--principal-type",
            "USER",
            "--principal-id",
            uid,
        )
    assert (
        cli.ok(
            "sso-admin",
            "list-account-assignments",
            "--instance-arn",
            instance,
            "--account-id",
            ACCOUNT,
            "--permission-set-arn",
            arn,
        )["AccountAssignments"]
        == []
    )
    cli.ok("sso-admin", "delete-permission-set", *base)
    cli.fails("ResourceNotFoundException", "sso-admin", "describe-permission-set", *base)
    for uid in users:
        ids.delete_user(IdentityStoreId=store, UserId=uid)

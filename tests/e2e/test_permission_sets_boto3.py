"""sso-admin permission sets and account assignments through boto3 against a live server, on both stores.

A walkthrough (create a permission set, its inline policy, managed and customer managed policies, boundary and
tags; assign a user and a group on two accounts; list per principal and per permission set; provisioning and
its status; delete; the cascades of deleting a user, a group and a permission set) and the refusals (an unknown
permission set or principal, a bad account id, a malformed policy, a permission set still assigned): each the
modelled error, and nothing changed. Every test makes its own users, groups and permission sets (the servers
are shared) and deletes them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.clients import make_admin_client
from tests.helpers.servers import LiveServer, both_stores, create_credential

A1, A2 = "111122223333", "444455556666"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
MISSING_PRINCIPAL = "0000000000-00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> LiveServer:
    return both_stores(request)


def error(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    resp = info.value.response
    assert 400 <= resp["ResponseMetadata"]["HTTPStatusCode"] < 500, resp
    return dict(resp["Error"])


def uniq(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


class World:
    """Clients, the instance, and what a test made (deleted afterwards)."""

    def __init__(self, server: LiveServer) -> None:
        self.sso = make_admin_client(server, "sso-admin")
        self.ids = make_admin_client(server, "identitystore")
        inst = self.sso.list_instances()["Instances"][0]
        self.instance = inst["InstanceArn"]
        self.store_id = inst["IdentityStoreId"]
        self.users: list[str] = []
        self.groups: list[str] = []
        self.sets: list[str] = []

    def user(self) -> str:
        name = uniq("ps-user")
        uid = self.ids.create_user(
            IdentityStoreId=self.store_id,
            UserName=name,
            DisplayName=name,
            Name={"GivenName": "P", "FamilyName": "S"},
        )["UserId"]
        self.users.append(uid)
        return str(uid)

    def group(self, *members: str) -> str:
        gid = self.ids.create_group(IdentityStoreId=self.store_id, DisplayName=uniq("ps-group"))["GroupId"]
        for m in members:
            self.ids.create_group_membership(
                IdentityStoreId=self.store_id, GroupId=gid, MemberId={"UserId": m}
            )
        self.groups.append(gid)
        return str(gid)

    def permission_set(self, **kw: Any) -> str:
        arn = self.sso.create_permission_set(InstanceArn=self.instance, Name=uniq("PS"), **kw)[
            "PermissionSet"
        ]["PermissionSetArn"]
        self.sets.append(arn)
        return str(arn)

    def assign(
        self, account: str, arn: str, principal_type: str, principal_id: str, *, delete: bool = False
    ) -> Any:
        op = self.sso.delete_account_assignment if delete else self.sso.create_account_assignment
        return op(
            InstanceArn=self.instance,
            TargetId=account,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=arn,
            PrincipalType=principal_type,
            PrincipalId=principal_id,
        )

    def assignments(self, account: str, arn: str) -> list[tuple[str, str]]:
        pages = self.sso.get_paginator("list_account_assignments").paginate(
            InstanceArn=self.instance,
            AccountId=account,
            PermissionSetArn=arn,
            PaginationConfig={"PageSize": 1},
        )
        return [(a["PrincipalType"], a["PrincipalId"]) for p in pages for a in p["AccountAssignments"]]

    def for_principal(self, principal_type: str, principal_id: str, **kw: Any) -> list[tuple[str, str]]:
        out = self.sso.list_account_assignments_for_principal(
            InstanceArn=self.instance, PrincipalType=principal_type, PrincipalId=principal_id, **kw
        )
        return [(a["AccountId"], a["PermissionSetArn"]) for a in out["AccountAssignments"]]

    def provisioned(self, arn: str, **kw: Any) -> list[str]:
        out = self.sso.list_accounts_for_provisioned_permission_set(
            InstanceArn=self.instance, PermissionSetArn=arn, **kw
        )
        return list(out["AccountIds"])

    def cleanup(self) -> None:
        for arn in self.sets:
            for account in self.provisioned(arn) if self._exists(arn) else []:
                for t, p in self.assignments(account, arn):
                    self.assign(account, arn, t, p, delete=True)
            if self._exists(arn):
                self.sso.delete_permission_set(InstanceArn=self.instance, PermissionSetArn=arn)
        for uid in self.users:
            with_missing_ok(self.ids.delete_user, IdentityStoreId=self.store_id, UserId=uid)
        for gid in self.groups:
            with_missing_ok(self.ids.delete_group, IdentityStoreId=self.store_id, GroupId=gid)

    def _exists(self, arn: str) -> bool:
        try:
            self.sso.describe_permission_set(InstanceArn=self.instance, PermissionSetArn=arn)
        except ClientError:
            return False
        return True


def with_missing_ok(call: Callable[..., Any], **kw: Any) -> None:
    try:
        call(**kw)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.fixture()
def w(server: LiveServer) -> Iterator[World]:
    world = World(server)
    yield world
    world.cleanup()


def test_walkthrough(w: World) -> None:
    sso, inst = w.sso, w.instance
    arn = w.permission_set(
        Description="Readers", SessionDuration="PT4H", RelayState="https://console.aws.amazon.com/s3/"
    )
    ps = sso.describe_permission_set(InstanceArn=inst, PermissionSetArn=arn)["PermissionSet"]
    assert (
        ps["PermissionSetArn"] == arn and ps["SessionDuration"] == "PT4H" and ps["Description"] == "Readers"
    )
    assert ps["RelayState"] == "https://console.aws.amazon.com/s3/" and ps["CreatedDate"]
    assert arn in sso.list_permission_sets(InstanceArn=inst)["PermissionSets"]

    # policies
    sso.put_inline_policy_to_permission_set(
        InstanceArn=inst, PermissionSetArn=arn, InlinePolicy=json.dumps(POLICY)
    )
    got = sso.get_inline_policy_for_permission_set(InstanceArn=inst, PermissionSetArn=arn)["InlinePolicy"]
    assert json.loads(got) == POLICY
    sso.attach_managed_policy_to_permission_set(
        InstanceArn=inst, PermissionSetArn=arn, ManagedPolicyArn=READ_ONLY
    )
    assert sso.list_managed_policies_in_permission_set(InstanceArn=inst, PermissionSetArn=arn)[
        "AttachedManagedPolicies"
    ] == [{"Name": "ReadOnlyAccess", "Arn": READ_ONLY}]
    ref = {"Name": "TeamPolicy", "Path": "/team/"}
    sso.attach_customer_managed_policy_reference_to_permission_set(
        InstanceArn=inst, PermissionSetArn=arn, CustomerManagedPolicyReference=ref
    )
    assert sso.list_customer_managed_policy_references_in_permission_set(
        InstanceArn=inst, PermissionSetArn=arn
    )["CustomerManagedPolicyReferences"] == [ref]
    boundary = {"ManagedPolicyArn": "arn:aws:iam::aws:policy/PowerUserAccess"}
    sso.put_permissions_boundary_to_permission_set(
        InstanceArn=inst, PermissionSetArn=arn, PermissionsBoundary=boundary
    )
    assert (
        sso.get_permissions_boundary_for_permission_set(InstanceArn=inst, PermissionSetArn=arn)[
            "PermissionsBoundary"
        ]
        == boundary
    )
    sso.tag_resource(InstanceArn=inst, ResourceArn=arn, Tags=[{"Key": "team", "Value": "data"}])
    assert sso.list_tags_for_resource(InstanceArn=inst, ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "data"}
    ]
    sso.untag_resource(InstanceArn=inst, ResourceArn=arn, TagKeys=["team"])
    assert sso.list_tags_for_resource(InstanceArn=inst, ResourceArn=arn)["Tags"] == []
    sso.update_permission_set(InstanceArn=inst, PermissionSetArn=arn, SessionDuration="PT8H")
    ps = sso.describe_permission_set(InstanceArn=inst, PermissionSetArn=arn)["PermissionSet"]
    assert ps["SessionDuration"] == "PT8H" and ps["Description"] == "Readers"

    # assignments: a user directly and a group of two users, on two accounts
    alice, bob = w.user(), w.user()
    team = w.group(alice, bob)
    created = w.assign(A1, arn, "USER", alice)["AccountAssignmentCreationStatus"]
    assert created["Status"] == "SUCCEEDED" and created["TargetId"] == A1 and created["PrincipalId"] == alice
    w.assign(A1, arn, "GROUP", team)
    w.assign(A2, arn, "GROUP", team)
    described = sso.describe_account_assignment_creation_status(
        InstanceArn=inst, AccountAssignmentCreationRequestId=created["RequestId"]
    )["AccountAssignmentCreationStatus"]
    assert described == created
    listed = sso.list_account_assignment_creation_status(InstanceArn=inst, Filter={"Status": "SUCCEEDED"})
    assert created["RequestId"] in {s["RequestId"] for s in listed["AccountAssignmentsCreationStatus"]}
    assert sorted(w.assignments(A1, arn)) == sorted([("USER", alice), ("GROUP", team)])  # paged one by one
    assert w.for_principal("USER", alice) == [(A1, arn)]
    assert w.for_principal("GROUP", team) == [(A1, arn), (A2, arn)]
    assert w.for_principal("GROUP", team, Filter={"AccountId": A2}) == [(A2, arn)]
    assert w.provisioned(arn) == [A1, A2]
    assert (
        arn
        in sso.list_permission_sets_provisioned_to_account(InstanceArn=inst, AccountId=A2)["PermissionSets"]
    )

    # the update above outdated nothing provisioned later; a policy change outdates A1 and A2 until provisioned
    sso.detach_managed_policy_from_permission_set(
        InstanceArn=inst, PermissionSetArn=arn, ManagedPolicyArn=READ_ONLY
    )
    assert w.provisioned(arn, ProvisioningStatus="LATEST_PERMISSION_SET_NOT_PROVISIONED") == [A1, A2]
    status = sso.provision_permission_set(
        InstanceArn=inst, PermissionSetArn=arn, TargetId=A1, TargetType="AWS_ACCOUNT"
    )["PermissionSetProvisioningStatus"]
    assert status["Status"] == "SUCCEEDED" and status["AccountId"] == A1
    assert w.provisioned(arn, ProvisioningStatus="LATEST_PERMISSION_SET_PROVISIONED") == [A1]
    sso.provision_permission_set(
        InstanceArn=inst, PermissionSetArn=arn, TargetType="ALL_PROVISIONED_ACCOUNTS"
    )
    assert w.provisioned(arn, ProvisioningStatus="LATEST_PERMISSION_SET_NOT_PROVISIONED") == []
    again = sso.describe_permission_set_provisioning_status(
        InstanceArn=inst, ProvisionPermissionSetRequestId=status["RequestId"]
    )["PermissionSetProvisioningStatus"]
    assert again == status
    ids = {
        s["RequestId"]
        for s in sso.list_permission_set_provisioning_status(InstanceArn=inst)[
            "PermissionSetsProvisioningStatus"
        ]
    }
    assert status["RequestId"] in ids

    # a permission set still assigned is not deleted
    assert (
        error(lambda: sso.delete_permission_set(InstanceArn=inst, PermissionSetArn=arn))["Code"]
        == "ConflictException"
    )
    assert (
        sso.describe_permission_set(InstanceArn=inst, PermissionSetArn=arn)["PermissionSet"]["Name"]
        == ps["Name"]
    )

    # deleting the last assignment on an account deprovisions it there
    deleted = w.assign(A2, arn, "GROUP", team, delete=True)["AccountAssignmentDeletionStatus"]
    assert deleted["Status"] == "SUCCEEDED"
    assert (
        sso.describe_account_assignment_deletion_status(
            InstanceArn=inst, AccountAssignmentDeletionRequestId=deleted["RequestId"]
        )["AccountAssignmentDeletionStatus"]["RequestId"]
        == deleted["RequestId"]
    )
    assert w.provisioned(arn) == [A1]

    # cascades: deleting a user or a group deletes its assignments
    w.ids.delete_user(IdentityStoreId=w.store_id, UserId=alice)
    assert w.assignments(A1, arn) == [("GROUP", team)]
    w.ids.delete_group(IdentityStoreId=w.store_id, GroupId=team)
    assert w.assignments(A1, arn) == []
    sso.delete_inline_policy_from_permission_set(InstanceArn=inst, PermissionSetArn=arn)
    assert "InlinePolicy" not in sso.get_inline_policy_for_permission_set(
        InstanceArn=inst, PermissionSetArn=arn
    )
    sso.delete_permissions_boundary_from_permission_set(InstanceArn=inst, PermissionSetArn=arn)
    sso.delete_permission_set(InstanceArn=inst, PermissionSetArn=arn)
    assert error(lambda: sso.describe_permission_set(InstanceArn=inst, PermissionSetArn=arn))["Code"] == (
        "ResourceNotFoundException"
    )
    assert arn not in sso.list_permission_sets(InstanceArn=inst)["PermissionSets"]


def test_refusals_are_modelled_and_change_nothing(w: World, server: LiveServer) -> None:
    sso, inst = w.sso, w.instance
    raw = make_admin_client(server, "sso-admin", config={"parameter_validation": False})
    arn = w.permission_set()
    user = w.user()
    w.assign(A1, arn, "USER", user)

    def state() -> Any:
        return (
            sso.describe_permission_set(InstanceArn=inst, PermissionSetArn=arn)["PermissionSet"],
            sso.get_inline_policy_for_permission_set(InstanceArn=inst, PermissionSetArn=arn).get(
                "InlinePolicy"
            ),
            w.assignments(A1, arn),
            w.for_principal("USER", user),
            w.provisioned(arn),
            sorted(sso.list_permission_sets(InstanceArn=inst)["PermissionSets"]),
        )

    before = state()
    missing_set = arn[:-16] + "0000000000000000"
    refusals: list[tuple[Callable[[], Any], str]] = [
        (lambda: w.assign(A1, missing_set, "USER", user), "ResourceNotFoundException"),
        (lambda: w.assign(A1, arn, "USER", MISSING_PRINCIPAL), "ResourceNotFoundException"),
        (lambda: w.assign(A1, arn, "GROUP", MISSING_PRINCIPAL), "ResourceNotFoundException"),
        (lambda: w.assign(A2, arn, "USER", user, delete=True), "ResourceNotFoundException"),
        (
            lambda: raw.create_account_assignment(
                InstanceArn=inst,
                TargetId="12345",
                TargetType="AWS_ACCOUNT",
                PermissionSetArn=arn,
                PrincipalType="USER",
                PrincipalId=user,
            ),
            "ValidationException",
        ),
        (
            lambda: sso.put_inline_policy_to_permission_set(
                InstanceArn=inst,
                PermissionSetArn=arn,
                InlinePolicy='{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]}',
            ),
            "ValidationException",
        ),
        (
            lambda: sso.put_inline_policy_to_permission_set(
                InstanceArn=inst, PermissionSetArn=arn, InlinePolicy='{"Statement": [], "Statement": []}'
            ),
            "ValidationException",
        ),
        (
            lambda: sso.put_inline_policy_to_permission_set(
                InstanceArn=inst, PermissionSetArn=arn, InlinePolicy="not json"
            ),
            "ValidationException",
        ),
        (
            lambda: sso.update_permission_set(
                InstanceArn=inst, PermissionSetArn=arn, SessionDuration="PT13H"
            ),
            "ValidationException",
        ),
        (
            lambda: sso.put_permissions_boundary_to_permission_set(
                InstanceArn=inst,
                PermissionSetArn=arn,
                PermissionsBoundary={
                    "ManagedPolicyArn": READ_ONLY,
                    "CustomerManagedPolicyReference": {"Name": "x"},
                },
            ),
            "ValidationException",
        ),
        (
            lambda: sso.create_permission_set(
                InstanceArn=inst, Name=before[0]["Name"].lower()
            ),  # "PS-..." -> "ps-...": never the same text
            "ConflictException",
        ),
        (lambda: sso.delete_permission_set(InstanceArn=inst, PermissionSetArn=arn), "ConflictException"),
        (
            lambda: sso.detach_managed_policy_from_permission_set(
                InstanceArn=inst, PermissionSetArn=arn, ManagedPolicyArn=READ_ONLY
            ),
            "ResourceNotFoundException",
        ),
        (
            lambda: sso.describe_account_assignment_creation_status(
                InstanceArn=inst, AccountAssignmentCreationRequestId="00000000-0000-4000-8000-000000000000"
            ),
            "ResourceNotFoundException",
        ),
        (
            lambda: sso.provision_permission_set(
                InstanceArn=inst, PermissionSetArn=arn, TargetType="AWS_ACCOUNT"
            ),
            "ValidationException",
        ),
        (
            lambda: sso.list_permission_sets(InstanceArn="arn:aws:sso:::instance/ssoins-0000000000000000"),
            "ResourceNotFoundException",
        ),
    ]
    for call, code in refusals:
        assert error(call)["Code"] == code
    assert state() == before
    # a creation request id is not a deletion request id
    created = w.assign(A1, arn, "USER", user)["AccountAssignmentCreationStatus"]  # again: succeeds, no change
    assert state() == before
    assert (
        error(
            lambda: sso.describe_account_assignment_deletion_status(
                InstanceArn=inst, AccountAssignmentDeletionRequestId=created["RequestId"]
            )
        )["Code"]
        == "ResourceNotFoundException"
    )


def test_managed_policy_quota_and_duplicates(w: World) -> None:
    sso, inst = w.sso, w.instance
    arn = w.permission_set()
    for i in range(20):
        sso.attach_managed_policy_to_permission_set(
            InstanceArn=inst, PermissionSetArn=arn, ManagedPolicyArn=f"arn:aws:iam::aws:policy/P{i}"
        )
    assert (
        error(
            lambda: sso.attach_managed_policy_to_permission_set(
                InstanceArn=inst, PermissionSetArn=arn, ManagedPolicyArn="arn:aws:iam::aws:policy/P0"
            )
        )["Code"]
        == "ConflictException"
    )
    assert (
        error(
            lambda: sso.attach_customer_managed_policy_reference_to_permission_set(
                InstanceArn=inst, PermissionSetArn=arn, CustomerManagedPolicyReference={"Name": "One"}
            )
        )["Code"]
        == "ServiceQuotaExceededException"
    )
    pages = sso.get_paginator("list_managed_policies_in_permission_set").paginate(
        InstanceArn=inst, PermissionSetArn=arn, PaginationConfig={"PageSize": 7}
    )
    assert len([p for page in pages for p in page["AttachedManagedPolicies"]]) == 20


def test_the_operations_are_authorized_like_every_sso_admin_operation(
    sqlite_server: LiveServer, tmp_path: Path
) -> None:
    """A credential whose identity policy allows only reads may describe and list, and is refused a write
    (AccessDeniedException) that then changed nothing."""
    w = World(sqlite_server)
    try:
        arn = w.permission_set()
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["sso:Describe*", "sso:List*"], "Resource": "*"}],
        }
        path = tmp_path / "reader.json"
        path.write_text(json.dumps(policy))
        key, secret = create_credential(
            sqlite_server, "arn:aws:iam::123456789012:user/ps-reader", "--policy-file", str(path)
        )
        reader = make_admin_client(
            sqlite_server, "sso-admin", aws_access_key_id=key, aws_secret_access_key=secret
        )
        described = reader.describe_permission_set(InstanceArn=w.instance, PermissionSetArn=arn)
        assert described["PermissionSet"]["PermissionSetArn"] == arn
        assert arn in reader.list_permission_sets(InstanceArn=w.instance)["PermissionSets"]
        refused = [
            lambda: reader.create_permission_set(InstanceArn=w.instance, Name=uniq("Denied")),
            lambda: reader.delete_permission_set(InstanceArn=w.instance, PermissionSetArn=arn),
            lambda: reader.put_inline_policy_to_permission_set(
                InstanceArn=w.instance, PermissionSetArn=arn, InlinePolicy=json.dumps(POLICY)
            ),
        ]
        for call in refused:
            assert error(call)["Code"] == "AccessDeniedException"
        assert "InlinePolicy" not in w.sso.get_inline_policy_for_permission_set(
            InstanceArn=w.instance, PermissionSetArn=arn
        )
        assert [
            a for a in w.sso.list_permission_sets(InstanceArn=w.instance)["PermissionSets"] if a == arn
        ] == [arn]
    finally:
        w.cleanup()

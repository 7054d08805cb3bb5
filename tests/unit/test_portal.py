"""The access portal in process (memory store): the bearer check, ListAccounts / ListAccountRoles (direct and
group assignments, paging), GetRoleCredentials (the assumed-role session, its duration, ``ForbiddenException`` for
a role not assigned, nothing minted), Logout, and what the credentials may do (the permission set's policies,
boundary, managed policies ssoidc knows; CreateTokenWithIAM by the application's ActorPolicy naming the role)."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssoidc.clock import FrozenClock
from ssoidc.compose import Services
from ssoidc.config.apply import apply_to_store, parse_file
from ssoidc.credentials.portal import duration_seconds, session_name
from ssoidc.ids import permission_set_role_name, unique_id
from ssoidc.model import (
    ACCESS_CREATE_ASSIGNMENT,
    ACCESS_DELETE_ASSIGNMENT,
    AccessRequest,
    Account,
    AccountAssignment,
    PermissionsBoundary,
    PermissionSet,
)
from ssoidc.settings import Settings
from ssoidc.storage.base import CatalogueWrite, TokenRecord
from ssoidc.storage.memory import MemoryData
from tests.helpers.inprocess import memory_services
from tests.helpers.sigv4_calls import aws_call
from tests.helpers.text import altered

pytestmark = pytest.mark.anyio

ACCOUNT = "123456789012"
A1, A2, A3 = ACCOUNT, "222222222222", "333333333333"  # A1: the account of the instance
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
CONFIG = {
    "Instance": {"Name": "portal"},
    "Users": [
        {"UserName": "alice", "Emails": [{"Value": "alice@example.com"}]},
        {"UserName": "bob", "Emails": [{"Value": "bob@example.com"}]},
        {"UserName": "carol", "Emails": [{"Value": "carol@example.com"}]},
    ],
    "Groups": [{"DisplayName": "ops", "Members": ["bob"]}],
}


@dataclass
class World:
    node: Services
    data: MemoryData
    clock: FrozenClock
    users: dict[str, str]
    groups: dict[str, str]
    sets: dict[str, PermissionSet]

    async def bearer(
        self,
        user: str,
        *,
        scopes: tuple[str, ...] = ("sso:account:access",),
        owner: str = "client:c-portal",
        ttl: float = 3600.0,
        kind: str = "access",
    ) -> str:
        """An access token as CreateToken would store it (the device flow itself is tested end to end)."""
        token, token_hash = self.node.minter.mint("access")
        now = self.clock.now()
        await self.node.store.issue(
            [
                TokenRecord(
                    token_hash=token_hash,
                    kind=kind,  # type: ignore[arg-type]
                    family_id=f"fam-{token_hash.hex()[:8]}",
                    parent_hash=None,
                    application_arn=owner,
                    user_id=self.users[user],
                    scopes=scopes,
                    issued_at=now,
                    expires_at=now + ttl,
                    session_expires_at=now + 8 * 3600,
                    grant_type="urn:ietf:params:oauth:grant-type:device_code",
                )
            ]
        )
        return token

    async def portal(self, op: str, bearer: str, **params: Any) -> dict[str, Any]:
        return await aws_call(self.node.aws, "sso", op, {"accessToken": bearer, **params})

    def minted(self) -> int:
        return len(self.data.sessions)


async def add_assignment(node: Services, account: str, ps: PermissionSet, ptype: str, pid: str) -> None:
    request = AccessRequest(
        f"00000000-0000-4000-8000-{hashlib.sha256((account + ps.arn + pid).encode()).hexdigest()[:12]}",
        ACCESS_CREATE_ASSIGNMENT,
        "SUCCEEDED",
        1.0,
        ps.arn,
        account_id=account,
        principal_type=ptype,
        principal_id=pid,
    )
    await node.store.create_account_assignment(
        AccountAssignment(account, ps.arn, ptype, pid),  # type: ignore[arg-type]
        request,
    )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = FrozenClock(time.time())  # botocore signs with the wall clock
    data = MemoryData()
    node = await memory_services(Settings(data_dir=tmp_path / "node", account_id=ACCOUNT), clock, data)
    try:
        config = await apply_to_store(node.store, parse_file(yaml.safe_dump(CONFIG)), ACCOUNT, clock.now())
        instance = config.instance.instance_arn
        iid = instance.rsplit("/", 1)[1]

        def ps(n: str, name: str, **kw: Any) -> PermissionSet:
            return PermissionSet(f"arn:aws:sso:::permissionSet/{iid}/ps-{n:0>16}", name, instance, **kw)

        sets = {
            "Admin": ps("1", "Admin", managed_policy_arns=(ADMIN,), session_duration="PT2H"),
            "Reader": ps(
                "2",
                "Reader",
                inline_policy={
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": ["sso:List*", "sso:Describe*"], "Resource": "*"},
                        {"Effect": "Deny", "Action": "sso:ListApplications", "Resource": "*"},
                    ],
                },
            ),
            "Bounded": ps(
                "3",
                "Bounded",
                managed_policy_arns=(ADMIN,),
                permissions_boundary=PermissionsBoundary(managed_policy_arn=READ_ONLY),
            ),
            "Unknowable": ps(
                "4", "Unknowable", managed_policy_arns=("arn:aws:iam::aws:policy/PowerUserAccess",)
            ),
        }
        for s in sets.values():
            await node.store.create_permission_set(s)
        users = {u.user_name: u.user_id for u in config.users}
        groups = {g.display_name: g.group_id for g in config.groups}
        for name in ("Admin", "Reader", "Bounded", "Unknowable"):
            await add_assignment(node, A1, sets[name], "USER", users["alice"])
        await add_assignment(node, A2, sets["Reader"], "USER", users["alice"])
        await add_assignment(node, A3, sets["Admin"], "GROUP", groups["ops"])
        declared = dataclasses.replace(config, accounts=(Account(A1, "production", "prod@example.com"),))
        await node.store.edit_catalogue(lambda _c: CatalogueWrite(declared), now=clock.now())
        await node.snapshot.refresh()
        yield World(node, data, clock, users, groups, sets)
    finally:
        await node.close()


async def test_accounts_and_roles_of_a_user_direct_and_through_groups(world: World) -> None:
    alice = await world.bearer("alice")
    out = await world.portal("ListAccounts", alice)
    assert out["_status"] == 200, out
    assert out["accountList"] == [
        {"accountId": A1, "accountName": "production", "emailAddress": "prod@example.com"},
        {"accountId": A2, "accountName": A2, "emailAddress": f"aws+{A2}@example.com"},
    ]
    out = await world.portal("ListAccountRoles", alice, accountId=A1)
    assert [r["roleName"] for r in out["roleList"]] == ["Admin", "Bounded", "Reader", "Unknowable"]
    assert {r["accountId"] for r in out["roleList"]} == {A1}
    bob = await world.bearer("bob")
    out = await world.portal("ListAccounts", bob)
    assert [a["accountId"] for a in out["accountList"]] == [A3]  # through the group
    carol = await world.bearer("carol")
    assert (await world.portal("ListAccounts", carol))["accountList"] == []
    # an account the user has no role on, declared or not: no roles, nothing told
    for account in (A3, A1, "999999999999"):
        assert (await world.portal("ListAccountRoles", carol, accountId=account))["roleList"] == []


async def test_pages_are_sealed_and_bound_to_the_listing(world: World) -> None:
    alice = await world.bearer("alice")
    first = await world.portal("ListAccountRoles", alice, accountId=A1, maxResults=3)
    assert [r["roleName"] for r in first["roleList"]] == ["Admin", "Bounded", "Reader"]
    token = first["nextToken"]
    rest = await world.portal("ListAccountRoles", alice, accountId=A1, maxResults=3, nextToken=token)
    assert [r["roleName"] for r in rest["roleList"]] == ["Unknowable"] and "nextToken" not in rest
    for params in ({"accountId": A2, "nextToken": token}, {"accountId": A1, "nextToken": altered(token, 2)}):
        out = await world.portal("ListAccountRoles", alice, **params)
        assert (out["_status"], out["Error"]["Code"]) == (400, "InvalidRequestException"), out
    # another user's listing does not take the token either
    other = await world.portal("ListAccountRoles", await world.bearer("bob"), accountId=A1, nextToken=token)
    assert other["Error"]["Code"] == "InvalidRequestException"
    page1 = await world.portal("ListAccounts", alice, maxResults=1)
    page2 = await world.portal("ListAccounts", alice, maxResults=1, nextToken=page1["nextToken"])
    assert [a["accountId"] for a in page1["accountList"] + page2["accountList"]] == [A1, A2]


async def test_role_credentials_are_an_assumed_role_session_that_works(world: World) -> None:
    alice = await world.bearer("alice")
    before = world.clock.now()
    out = await world.portal("GetRoleCredentials", alice, accountId=A1, roleName="Admin")
    assert out["_status"] == 200, out
    rc = out["roleCredentials"]
    assert out["ResponseMetadata"]["HTTPHeaders"]["cache-control"] == "no-store"
    assert rc["accessKeyId"].startswith("ASIA") and rc["secretAccessKey"] and rc["sessionToken"]
    assert rc["expiration"] == int((before + 2 * 3600) * 1000)  # PT2H, epoch milliseconds
    role = permission_set_role_name("Admin", world.sets["Admin"].arn)
    assert role.startswith("AWSReservedSSO_Admin_") and len(role.rsplit("_", 1)[1]) == 16
    creds = (rc["accessKeyId"], rc["secretAccessKey"], rc["sessionToken"])
    who = await aws_call(world.node.aws, "sts", "GetCallerIdentity", creds=creds)
    assert who["Arn"] == f"arn:aws:sts::{A1}:assumed-role/{role}/alice"
    assert who["Account"] == A1
    assert who["UserId"] == unique_id("AROA", f"arn:aws:iam::{A1}:role/{role}") + ":alice"
    # AdministratorAccess: the configuration plane answers
    listed = await aws_call(world.node.aws, "sso-admin", "ListInstances", creds=creds)
    assert listed["_status"] == 200 and listed["Instances"], listed
    # the same role again: new credentials, the same session ARN
    again = (await world.portal("GetRoleCredentials", alice, accountId=A1, roleName="Admin"))[
        "roleCredentials"
    ]
    assert again["accessKeyId"] != rc["accessKeyId"]


async def creds_of(world: World, bearer: str, account: str, role: str) -> tuple[str, str, str]:
    rc = (await world.portal("GetRoleCredentials", bearer, accountId=account, roleName=role))[
        "roleCredentials"
    ]
    return rc["accessKeyId"], rc["secretAccessKey"], rc["sessionToken"]


async def test_the_permission_set_decides_what_the_credentials_may_do(world: World) -> None:
    alice = await world.bearer("alice")
    aws = world.node.aws
    reader = await creds_of(world, alice, A1, "Reader")
    assert (await aws_call(aws, "sso-admin", "ListInstances", creds=reader))["_status"] == 200
    for op, params in (
        ("ListApplications", {"InstanceArn": world.sets["Admin"].instance_arn}),  # an explicit Deny
        ("CreateInstance", {"Name": "x"}),  # not allowed
    ):
        denied = await aws_call(aws, "sso-admin", op, params, creds=reader)
        assert (denied["_status"], denied["Error"]["Code"]) == (400, "AccessDeniedException"), denied
    users = await aws_call(
        aws, "identitystore", "ListUsers", {"IdentityStoreId": "d-0000000000"}, creds=reader
    )
    assert users["Error"]["Code"] == "AccessDeniedException"  # sso:* only
    bounded = await creds_of(world, alice, A1, "Bounded")  # AdministratorAccess within ReadOnlyAccess
    assert (await aws_call(aws, "sso-admin", "ListInstances", creds=bounded))["_status"] == 200
    refused = await aws_call(aws, "sso-admin", "CreateInstance", {"Name": "x"}, creds=bounded)
    assert refused["Error"]["Code"] == "AccessDeniedException"
    elsewhere = await creds_of(world, alice, A2, "Reader")  # the same permission set on another account
    refused = await aws_call(aws, "sso-admin", "ListInstances", creds=elsewhere)
    assert (
        refused["Error"]["Code"] == "AccessDeniedException"
        and f"account {ACCOUNT}" in refused["Error"]["Message"]
    )
    nothing = await creds_of(world, alice, A1, "Unknowable")  # a managed policy ssoidc cannot know
    refused = await aws_call(aws, "sso-admin", "ListInstances", creds=nothing)
    assert refused["Error"]["Code"] == "AccessDeniedException"
    # the permission set changes: credentials already issued follow it at their next request
    admin_now = dataclasses.replace(world.sets["Reader"], inline_policy=None, managed_policy_arns=(ADMIN,))
    await world.node.store.update_permission_set(admin_now)
    assert (
        await aws_call(
            aws, "sso-admin", "ListApplications", {"InstanceArn": admin_now.instance_arn}, creds=reader
        )
    )["_status"] == 200


async def test_a_role_not_assigned_is_no_access_and_mints_nothing(world: World) -> None:
    alice, carol = await world.bearer("alice"), await world.bearer("carol")
    cases = [
        (carol, A1, "Admin"),  # not hers
        (alice, A2, "Admin"),  # hers on another account only
        (alice, A3, "Admin"),  # an account only a group she is not in has
        (alice, "999999999999", "Reader"),  # no such account anywhere
        (alice, A1, "admin"),  # names are exact
    ]
    for bearer, account, role in cases:
        out = await world.portal("GetRoleCredentials", bearer, accountId=account, roleName=role)
        assert (out["_status"], out["Error"]["Code"], out["Error"]["Message"]) == (
            403,
            "ForbiddenException",
            "No access",
        ), (account, role, out)
    assert world.minted() == 0


async def test_a_bearer_that_is_not_a_live_portal_token_is_unauthorized(world: World) -> None:
    good = await world.bearer("alice")
    bad = [
        "not-a-token",
        good[:-1] + ("A" if good[-1] != "A" else "B"),  # the MAC fails
        await world.bearer("alice", scopes=("openid",)),  # no sso:account:access
        await world.bearer("alice", owner="arn:aws:sso::123456789012:application/ssoins-x/apl-x"),  # an app's
        await world.bearer("alice", ttl=-1.0),  # expired
    ]
    minter_token, _ = world.node.minter.mint("access")  # well formed, never issued
    bad.append(minter_token)
    for bearer in bad:
        for op, params in (
            ("ListAccounts", {}),
            ("ListAccountRoles", {"accountId": A1}),
            ("GetRoleCredentials", {"accountId": A1, "roleName": "Admin"}),
            ("Logout", {}),
        ):
            out = await world.portal(op, bearer, **params)
            assert (out["_status"], out["Error"]["Code"]) == (401, "UnauthorizedException"), (op, out)
            assert out["Error"]["Message"] == "Session token not found or invalid"
    assert world.minted() == 0
    # a user deleted since: the token was revoked with them
    bob = await world.bearer("bob")
    await world.node.store.delete_user(world.users["bob"], now=world.clock.now())
    assert (await world.portal("ListAccounts", bob))["Error"]["Code"] == "UnauthorizedException"


async def test_logout_ends_the_token_family_and_leaves_issued_credentials(world: World) -> None:
    alice = await world.bearer("alice")
    creds = await creds_of(world, alice, A1, "Admin")
    out = await world.portal("Logout", alice)
    assert out["_status"] == 200, out
    for op in ("ListAccounts", "Logout"):
        assert (await world.portal(op, alice))["Error"]["Code"] == "UnauthorizedException"
    assert (await aws_call(world.node.aws, "sts", "GetCallerIdentity", creds=creds))["_status"] == 200
    other = await world.bearer("alice")  # another login is not ended
    assert (await world.portal("ListAccounts", other))["_status"] == 200


async def test_create_token_with_iam_is_authorized_by_an_actor_policy_naming_the_role(world: World) -> None:
    alice = await world.bearer("alice")
    role = permission_set_role_name("Admin", world.sets["Admin"].arn)
    role_arn = f"arn:aws:iam::{A1}:role/aws-reserved/sso.amazonaws.com/{role}"
    creds = await creds_of(world, alice, A1, "Admin")
    admin = (await world.node.store.load_credentials())[0]
    root = (admin.access_key_id, admin.secret_access_key, None)
    instance = world.sets["Admin"].instance_arn

    async def app(principal: str) -> str:
        made = await aws_call(
            world.node.aws,
            "sso-admin",
            "CreateApplication",
            {
                "InstanceArn": instance,
                "Name": f"app-{principal[-6:]}",
                "ApplicationProviderArn": "arn:aws:sso::aws:applicationProvider/custom",
            },
            creds=root,
        )
        arn = made["ApplicationArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": principal},
                    "Action": "sso-oauth:CreateTokenWithIAM",
                    "Resource": "*",
                }
            ],
        }
        put = await aws_call(
            world.node.aws,
            "sso-admin",
            "PutApplicationAuthenticationMethod",
            {
                "ApplicationArn": arn,
                "AuthenticationMethodType": "IAM",
                "AuthenticationMethod": {"Iam": {"ActorPolicy": policy}},
            },
            creds=root,
        )
        assert put["_status"] == 200, put
        await world.node.snapshot.refresh()
        return str(arn)

    named = await app(role_arn)
    other = await app(
        f"arn:aws:iam::{A1}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Other_0123456789abcdef"
    )
    params = {"grantType": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x.y.z"}
    out = await aws_call(
        world.node.aws, "sso-oidc", "CreateTokenWithIAM", {"clientId": named, **params}, creds=creds
    )
    # past the caller check: the grant itself is not configured on this application
    assert out["Error"]["Code"] == "UnauthorizedClientException", out
    out = await aws_call(
        world.node.aws, "sso-oidc", "CreateTokenWithIAM", {"clientId": other, **params}, creds=creds
    )
    assert out["Error"]["Code"] == "AccessDeniedException", out


def test_durations_and_session_names() -> None:
    # P0DT8H: sso-admin accepts it when written, so the portal must read it the same way (not as the default hour)
    assert duration_seconds("P0DT8H") == 8 * 3600
    assert [duration_seconds(d) for d in ("PT1H", "PT12H", "PT30M", "PT1H30M", "bogus", "PT13H", "PT1M")] == [
        3600,
        43200,
        1800,
        5400,
        3600,
        43200,
        900,
    ]
    assert session_name("alice@example.com") == "alice@example.com"
    assert session_name("a b/c") == "a-b-c"
    assert len(session_name("x" * 100)) == 64


async def test_an_unassigned_role_keeps_its_credentials_a_deleted_permission_set_grants_nothing(
    world: World,
) -> None:
    alice = await world.bearer("alice")
    aws = world.node.aws
    creds = await creds_of(world, alice, A1, "Bounded")
    assert (await aws_call(aws, "sso-admin", "ListInstances", creds=creds))["_status"] == 200
    ps = world.sets["Bounded"]
    assignment = AccountAssignment(A1, ps.arn, "USER", world.users["alice"])
    request = AccessRequest(
        "00000000-0000-4000-8000-00000000dead",
        ACCESS_DELETE_ASSIGNMENT,
        "SUCCEEDED",
        1.0,
        ps.arn,
        account_id=A1,
    )
    assert await world.node.store.delete_account_assignment(assignment, request)
    # no longer her role: the portal does not list it or mint for it; issued credentials live on
    roles = await world.portal("ListAccountRoles", alice, accountId=A1)
    assert "Bounded" not in [r["roleName"] for r in roles["roleList"]]
    refused = await world.portal("GetRoleCredentials", alice, accountId=A1, roleName="Bounded")
    assert refused["Error"]["Code"] == "ForbiddenException"
    assert (await aws_call(aws, "sso-admin", "ListInstances", creds=creds))["_status"] == 200
    # the permission set deleted: what it granted is gone, the identity is not
    assert await world.node.store.delete_permission_set(ps.arn)
    denied = await aws_call(aws, "sso-admin", "ListInstances", creds=creds)
    assert denied["Error"]["Code"] == "AccessDeniedException"
    assert (await aws_call(aws, "sts", "GetCallerIdentity", creds=creds))["_status"] == 200


async def test_a_session_policy_narrows_what_the_permission_set_grants(world: World) -> None:
    ps = world.sets["Admin"]
    role = permission_set_role_name(ps.name, ps.arn)
    m = await world.node.sessions.mint(
        principal_arn=f"arn:aws:sts::{A1}:assumed-role/{role}/alice",
        source=ps.arn,
        duration_seconds=900,
        role_arn=f"arn:aws:iam::{A1}:role/aws-reserved/sso.amazonaws.com/{role}",
        session_policy={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sso:ListInstances", "Resource": "*"}],
        },
    )
    creds = (m.access_key_id, m.secret_access_key, m.session_token)
    aws = world.node.aws
    assert (await aws_call(aws, "sso-admin", "ListInstances", creds=creds))["_status"] == 200
    denied = await aws_call(
        aws, "sso-admin", "ListApplications", {"InstanceArn": ps.instance_arn}, creds=creds
    )
    assert denied["Error"]["Code"] == "AccessDeniedException"

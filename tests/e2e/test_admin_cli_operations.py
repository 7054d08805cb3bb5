"""sso-admin and identitystore operations driven through the AWS CLI v2 (``/usr/bin/aws``) subprocess: the
second real client, after boto3, for every operation the walkthrough (``test_admin_walkthrough_cli.py``) leaves
out.

sso-admin: CreateInstance, DescribeInstance, UpdateInstance, DeleteInstance; DescribeApplication,
UpdateApplication, DeleteApplication, ListApplicationProviders, DescribeApplicationProvider;
ListApplicationGrants, DeleteApplicationGrant; ListApplicationAuthenticationMethods,
DeleteApplicationAuthenticationMethod; GetApplicationAccessScope, ListApplicationAccessScopes,
DeleteApplicationAccessScope; Get/PutApplicationAssignmentConfiguration; DescribeApplicationAssignment,
ListApplicationAssignments, ListApplicationAssignmentsForPrincipal, DeleteApplicationAssignment;
DescribeTrustedTokenIssuer, UpdateTrustedTokenIssuer, ListTrustedTokenIssuers, DeleteTrustedTokenIssuer;
TagResource, UntagResource, ListTagsForResource. identitystore: DescribeUser, ListUsers, GetUserId, UpdateUser,
DeleteUser; DescribeGroup, ListGroups, GetGroupId, UpdateGroup, DeleteGroup; DescribeGroupMembership,
ListGroupMemberships, GetGroupMembershipId, IsMemberInGroups, ListGroupMembershipsForMember,
DeleteGroupMembership.

Each scenario creates what it needs, reads it back, updates, lists and deletes it; a delete is checked by the
modelled error (exit status 254, the code and operation on stderr) of the Describe/Get that follows. The CLI v2 of
Debian predates these operations, so it reads the pinned botocore's models from ``AWS_DATA_PATH`` (as in the
walkthrough). List calls with ``--page-size`` make the CLI follow ``NextToken`` itself. Calls that do not depend
on each other run concurrently (every call is a CLI process, about half a second).

The module has its own server (the scenarios delete and tag things), the instance lifecycle another one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import V2_AWS, AwsCli, data_path
from tests.helpers.config import ACCOUNT, TOKEN_EXCHANGE, allow_account
from tests.helpers.servers import LiveServer, private_server

CUSTOM = "arn:aws:sso::aws:applicationProvider/custom"
NOT_FOUND = "ResourceNotFoundException"

live = private_server("admin-cli")
own = private_server("admin-cli-instance", scope="function")


class Cli(AwsCli):
    """Debian's AWS CLI v2 against one server, with the bootstrap admin credential and a single attempt per call."""

    def __init__(self, server: LiveServer, models: Path) -> None:
        super().__init__(V2_AWS, server, models, quiet=True)

    def sso(self, op: str, *args: str) -> dict[str, Any]:
        return self.ok("sso-admin", op, *args)

    def sso_fails(self, code: str, op: str, *args: str) -> str:
        return self.fails(code, "sso-admin", op, *args)

    def ids(self, op: str, *args: str) -> dict[str, Any]:
        return self.ok("identitystore", op, *args)

    def ids_fails(self, code: str, op: str, *args: str) -> str:
        return self.fails(code, "identitystore", op, *args)


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run independent CLI calls concurrently; their results in order (the first failure is raised)."""
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [f.result() for f in futures]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not V2_AWS.exists():
        pytest.fail(f"{V2_AWS} (AWS CLI v2) is missing: run make system-deps")
    return data_path(tmp_path_factory.mktemp("aws-data"))


@pytest.fixture(scope="module")
def cli(live: LiveServer, models: Path) -> Cli:
    return Cli(live, models)


def store_id(server: LiveServer) -> str:
    return server.configuration().instance.identity_store_id


def team_id(server: LiveServer) -> str:
    """The configuration's group "team" (bob is its only member)."""
    return next(g.group_id for g in server.configuration().groups if g.display_name == "team")


def issuer_configuration(url: str) -> str:
    return json.dumps(
        {
            "OidcJwtConfiguration": {
                "IssuerUrl": url,
                "ClaimAttributePath": "email",
                "IdentityStoreAttributePath": "emails.value",
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
            }
        }
    )


def create_application(cli: Cli, name: str, *args: str) -> str:
    out = cli.sso(
        "create-application", "--instance-arn", cli.server.instance_arn,
        "--application-provider-arn", CUSTOM, "--name", name, *args,
    )  # fmt: skip
    return str(out["ApplicationArn"])


def unique_attribute(path: str, value: str) -> str:
    return json.dumps({"UniqueAttribute": {"AttributePath": path, "AttributeValue": value}})


# -- instances ----------------------------------------------------------------------------------------------------


def instance_members(store: str, created: Any) -> dict[str, Any]:
    """DescribeInstance's members of the newer models: the identity store's ARN, the one (primary) region, no
    VPC endpoint requirement, permission sets enabled."""
    return {
        "IdentityStoreArn": f"arn:aws:identitystore::{ACCOUNT}:identitystore/{store}",
        "PrimaryRegion": "us-east-1",
        "Regions": [
            {"RegionName": "us-east-1", "Status": "ACTIVE", "AddedDate": created, "IsPrimaryRegion": True}
        ],
        "NetworkConfigurationDetails": {"VpceAccessRequired": False},
        "PermissionSetsEnabled": True,
    }


def test_instance_lifecycle(own: LiveServer, models: Path) -> None:
    """Rename, describe, delete (everything in it goes too), create afresh: on a server of its own."""
    cli = Cli(own, models)
    old_arn, old_store = own.instance_arn, store_id(own)
    cli.sso("update-instance", "--instance-arn", old_arn, "--name", "renamed-by-cli")
    described, _ = together(
        lambda: cli.sso("describe-instance", "--instance-arn", old_arn),
        lambda: cli.sso_fails("ConflictException", "create-instance", "--name", "second"),  # one per account
    )
    assert described == {
        "InstanceArn": old_arn,
        "IdentityStoreId": old_store,
        "OwnerAccountId": ACCOUNT,
        "Name": "renamed-by-cli",
        "CreatedDate": described["CreatedDate"],
        "Status": "ACTIVE",
        **instance_members(old_store, described["CreatedDate"]),
    }

    cli.sso("delete-instance", "--instance-arn", old_arn)
    # DescribeInstance models no ResourceNotFoundException: an unknown instance is a ValidationException
    gone, listed = together(
        lambda: cli.sso_fails("ValidationException", "describe-instance", "--instance-arn", old_arn),
        lambda: cli.sso("list-instances"),
    )
    assert "InstanceArn" in gone
    assert listed["Instances"] == []

    new_arn = cli.sso("create-instance", "--name", "cli-instance", "--tags", "Key=team,Value=identity")[
        "InstanceArn"
    ]
    assert new_arn.startswith("arn:aws:sso:::instance/ssoins-") and new_arn != old_arn
    described, tags, apps = together(
        lambda: cli.sso("describe-instance", "--instance-arn", new_arn),
        lambda: cli.sso("list-tags-for-resource", "--resource-arn", new_arn),
        lambda: cli.sso("list-applications", "--instance-arn", new_arn),
    )
    new_store = described["IdentityStoreId"]
    assert described == {
        "InstanceArn": new_arn,
        "IdentityStoreId": new_store,
        "OwnerAccountId": ACCOUNT,
        "Name": "cli-instance",
        "CreatedDate": described["CreatedDate"],
        "Status": "ACTIVE",
        **instance_members(new_store, described["CreatedDate"]),
    }
    assert new_store.startswith("d-") and new_store != old_store
    assert tags["Tags"] == [{"Key": "team", "Value": "identity"}]
    assert apps["Applications"] == []  # the old instance's applications went with it


# -- applications and what hangs off them -------------------------------------------------------------------------


def test_application_providers(cli: Cli) -> None:
    listed, described = together(
        lambda: cli.sso("list-application-providers", "--page-size", "1"),
        lambda: cli.sso("describe-application-provider", "--application-provider-arn", CUSTOM),
    )
    assert [p["ApplicationProviderArn"] for p in listed["ApplicationProviders"]] == [CUSTOM]
    assert described["ApplicationProviderArn"] == CUSTOM and described["FederationProtocol"] == "OAUTH"
    assert described["DisplayData"] == listed["ApplicationProviders"][0]["DisplayData"]
    assert described["DisplayData"]["DisplayName"]


def test_application_lifecycle(cli: Cli, live: LiveServer) -> None:
    """An application updated, given grants, an authentication method, an access scope and its assignment
    configuration; each read back, listed and deleted; then the application itself."""
    instance = live.instance_arn
    app, target = together(
        lambda: create_application(cli, "cli-ops-app", "--description", "made by the CLI"),
        lambda: create_application(cli, "cli-ops-target"),
    )
    policy = allow_account()
    portal = {"SignInOptions": {"Origin": "APPLICATION", "ApplicationUrl": "https://cli.example.com/"}}
    together(  # writes to different parts of the configuration, concurrently
        lambda: cli.sso(
            "update-application", "--application-arn", app, "--name", "cli-ops-renamed",
            "--description", "updated by the CLI", "--status", "DISABLED",
            "--portal-options", json.dumps(portal),
        ),
        lambda: cli.sso("put-application-assignment-configuration", "--application-arn", app,
                        "--no-assignment-required"),
        lambda: cli.sso("put-application-grant", "--application-arn", app,
                        "--grant-type", "refresh_token", "--grant", '{"RefreshToken": {}}'),
        lambda: cli.sso("put-application-grant", "--application-arn", app,
                        "--grant-type", TOKEN_EXCHANGE, "--grant", '{"TokenExchange": {}}'),
        lambda: cli.sso("put-application-authentication-method", "--application-arn", app,
                        "--authentication-method-type", "IAM",
                        "--authentication-method", json.dumps({"Iam": {"ActorPolicy": policy}})),
        lambda: cli.sso("put-application-access-scope", "--application-arn", app,
                        "--scope", "data:read", "--authorized-targets", target, instance),
    )  # fmt: skip

    described, assignment_config, grants, methods, scope, scopes = together(
        lambda: cli.sso("describe-application", "--application-arn", app),
        lambda: cli.sso("get-application-assignment-configuration", "--application-arn", app),
        lambda: cli.sso("list-application-grants", "--application-arn", app),
        lambda: cli.sso("list-application-authentication-methods", "--application-arn", app),
        lambda: cli.sso("get-application-access-scope", "--application-arn", app, "--scope", "data:read"),
        lambda: cli.sso("list-application-access-scopes", "--application-arn", app),
    )
    assert described == {
        "ApplicationArn": app,
        "ApplicationProviderArn": CUSTOM,
        "Name": "cli-ops-renamed",
        "ApplicationAccount": ACCOUNT,
        "InstanceArn": instance,
        "IdentityStoreArn": f"arn:aws:identitystore::{ACCOUNT}:identitystore/{store_id(live)}",
        "Status": "DISABLED",
        "PortalOptions": {**portal, "Visibility": "ENABLED"},
        "CreatedDate": described["CreatedDate"],
        "CreatedFrom": "us-east-1",
        "Description": "updated by the CLI",
    }
    assert assignment_config == {"AssignmentRequired": False}
    assert sorted((g["GrantType"], g["Grant"]) for g in grants["Grants"]) == [
        ("refresh_token", {"RefreshToken": {}}),
        (TOKEN_EXCHANGE, {"TokenExchange": {}}),
    ]
    assert methods["AuthenticationMethods"] == [
        {"AuthenticationMethodType": "IAM", "AuthenticationMethod": {"Iam": {"ActorPolicy": policy}}}
    ]
    assert scope == {"Scope": "data:read", "AuthorizedTargets": [target, instance]}
    assert scopes["Scopes"] == [scope]

    together(
        lambda: cli.sso("delete-application-grant", "--application-arn", app, "--grant-type", "refresh_token"),
        lambda: cli.sso("delete-application-authentication-method", "--application-arn", app,
                        "--authentication-method-type", "IAM"),
        lambda: cli.sso("delete-application-access-scope", "--application-arn", app, "--scope", "data:read"),
    )  # fmt: skip
    _, grants, _, _ = together(
        lambda: cli.sso_fails(NOT_FOUND, "get-application-grant", "--application-arn", app,
                              "--grant-type", "refresh_token"),
        lambda: cli.sso("list-application-grants", "--application-arn", app),
        lambda: cli.sso_fails(NOT_FOUND, "get-application-authentication-method", "--application-arn", app,
                              "--authentication-method-type", "IAM"),
        lambda: cli.sso_fails(NOT_FOUND, "get-application-access-scope", "--application-arn", app,
                              "--scope", "data:read"),
    )  # fmt: skip
    assert grants["Grants"] == [{"GrantType": TOKEN_EXCHANGE, "Grant": {"TokenExchange": {}}}]

    together(
        lambda: cli.sso("delete-application", "--application-arn", app),
        lambda: cli.sso("delete-application", "--application-arn", target),
    )
    _, listed = together(
        lambda: cli.sso_fails(NOT_FOUND, "describe-application", "--application-arn", app),
        lambda: cli.sso("list-applications", "--instance-arn", instance),
    )
    left = {a["ApplicationArn"] for a in listed["Applications"]}
    assert not {app, target} & left and left == {a.arn for a in live.configuration().applications}


def test_application_assignments(cli: Cli, live: LiveServer) -> None:
    carol = live.users["carol"]  # assigned to no application by the e2e configuration
    team = team_id(live)
    app = create_application(cli, "cli-assign-app")
    together(
        lambda: cli.sso("create-application-assignment", "--application-arn", app,
                        "--principal-type", "USER", "--principal-id", carol),
        lambda: cli.sso("create-application-assignment", "--application-arn", app,
                        "--principal-type", "GROUP", "--principal-id", team),
    )  # fmt: skip

    def for_carol() -> dict[str, Any]:
        return cli.sso(
            "list-application-assignments-for-principal", "--instance-arn", live.instance_arn,
            "--principal-type", "USER", "--principal-id", carol, "--filter", f"ApplicationArn={app}",
        )  # fmt: skip

    described, listed, carols = together(
        lambda: cli.sso("describe-application-assignment", "--application-arn", app,
                        "--principal-type", "GROUP", "--principal-id", team),
        lambda: cli.sso("list-application-assignments", "--application-arn", app, "--page-size", "1"),
        for_carol,
    )  # fmt: skip
    assert described == {"ApplicationArn": app, "PrincipalType": "GROUP", "PrincipalId": team}
    assert sorted(
        (a["ApplicationArn"], a["PrincipalType"], a["PrincipalId"]) for a in listed["ApplicationAssignments"]
    ) == sorted([(app, "USER", carol), (app, "GROUP", team)])
    assert carols["ApplicationAssignments"] == [{"ApplicationArn": app, "PrincipalType": "USER", "PrincipalId": carol}]  # fmt: skip

    cli.sso(
        "delete-application-assignment", "--application-arn", app,
        "--principal-type", "USER", "--principal-id", carol,
    )  # fmt: skip
    _, carols = together(
        lambda: cli.sso_fails(NOT_FOUND, "describe-application-assignment", "--application-arn", app,
                              "--principal-type", "USER", "--principal-id", carol),
        for_carol,
    )  # fmt: skip
    assert carols["ApplicationAssignments"] == []
    cli.sso("delete-application", "--application-arn", app)


# -- trusted token issuers and tags -------------------------------------------------------------------------------


def test_trusted_token_issuer_and_tags(cli: Cli, live: LiveServer) -> None:
    instance = live.instance_arn
    url = "https://cli-issuer.example.com"
    tti = cli.sso(
        "create-trusted-token-issuer", "--instance-arn", instance, "--name", "cli-tti",
        "--trusted-token-issuer-type", "OIDC_JWT",
        "--trusted-token-issuer-configuration", issuer_configuration(url),
        "--tags", "Key=created,Value=with-issuer",
    )["TrustedTokenIssuerArn"]  # fmt: skip
    update = {"OidcJwtConfiguration": {"ClaimAttributePath": "sub", "IdentityStoreAttributePath": "userName"}}
    together(
        lambda: cli.sso(
            "update-trusted-token-issuer", "--trusted-token-issuer-arn", tti, "--name", "cli-tti-renamed",
            "--trusted-token-issuer-configuration", json.dumps(update),
        ),
        lambda: cli.sso("tag-resource", "--resource-arn", tti, "--instance-arn", instance,
                        "--tags", "Key=cli,Value=v1", "Key=cli-empty,Value="),
    )  # fmt: skip

    def tags() -> dict[str, str]:
        out = cli.sso("list-tags-for-resource", "--resource-arn", tti, "--instance-arn", instance)
        return {t["Key"]: t["Value"] for t in out["Tags"]}

    described, listed, tagged = together(
        lambda: cli.sso("describe-trusted-token-issuer", "--trusted-token-issuer-arn", tti),
        lambda: cli.sso("list-trusted-token-issuers", "--instance-arn", instance, "--page-size", "1"),
        tags,
    )
    assert described == {
        "TrustedTokenIssuerArn": tti,
        "Name": "cli-tti-renamed",
        "TrustedTokenIssuerType": "OIDC_JWT",
        "TrustedTokenIssuerConfiguration": {
            "OidcJwtConfiguration": {
                "IssuerUrl": url,  # UpdateTrustedTokenIssuer has no IssuerUrl: it never changes
                "ClaimAttributePath": "sub",
                "IdentityStoreAttributePath": "userName",
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
            }
        },
    }
    assert sorted((t["Name"], t["TrustedTokenIssuerType"]) for t in listed["TrustedTokenIssuers"]) == [
        ("cli-tti-renamed", "OIDC_JWT"),
        ("demo", "OIDC_JWT"),  # the configuration's own
    ]
    assert tti in {t["TrustedTokenIssuerArn"] for t in listed["TrustedTokenIssuers"]}
    assert tagged == {"created": "with-issuer", "cli": "v1", "cli-empty": ""}

    cli.sso("untag-resource", "--resource-arn", tti, "--tag-keys", "cli", "cli-empty", "never-set")
    assert tags() == {"created": "with-issuer"}

    cli.sso("delete-trusted-token-issuer", "--trusted-token-issuer-arn", tti)
    _, listed = together(
        lambda: cli.sso_fails(NOT_FOUND, "describe-trusted-token-issuer", "--trusted-token-issuer-arn", tti),
        lambda: cli.sso("list-trusted-token-issuers", "--instance-arn", instance),
    )
    assert [t["Name"] for t in listed["TrustedTokenIssuers"]] == ["demo"]


# -- identitystore ------------------------------------------------------------------------------------------------


def test_users(cli: Cli, live: LiveServer) -> None:
    store = store_id(live)
    profile: dict[str, Any] = {
        "DisplayName": "Cli User",
        "Name": {"GivenName": "Cli", "FamilyName": "User"},
        "NickName": "clu",
        "Title": "Operator",
        "Emails": [{"Value": "cli-user@example.org", "Type": "work", "Primary": True}],
    }
    created = cli.ids(
        "create-user", "--identity-store-id", store, "--user-name", "Cli-User",
        "--display-name", profile["DisplayName"], "--name", "GivenName=Cli,FamilyName=User",
        "--nick-name", "clu", "--title", "Operator", "--emails", json.dumps(profile["Emails"]),
    )  # fmt: skip
    user = created["UserId"]
    arn = f"arn:aws:identitystore:::user/{user}"
    assert created == {
        "IdentityStoreId": store,
        "UserId": user,
        "UserArn": arn,
        "Revision": created["Revision"],
    }
    expected = {
        "IdentityStoreId": store,
        "UserId": user,
        "UserArn": arn,
        "Revision": created["Revision"],
        "UserName": "Cli-User",
        **profile,
    }

    def get_user_id(path: str, value: str) -> str:
        out = cli.ids("get-user-id", "--identity-store-id", store, "--alternate-identifier", unique_attribute(path, value))  # fmt: skip
        assert out["IdentityStoreId"] == store
        return str(out["UserId"])

    described, filtered, listed, by_name, by_email = together(
        lambda: cli.ids("describe-user", "--identity-store-id", store, "--user-id", user),
        lambda: cli.ids("list-users", "--identity-store-id", store,
                        "--filters", "AttributePath=UserName,AttributeValue=Cli-User"),
        lambda: cli.ids("list-users", "--identity-store-id", store, "--page-size", "2"),
        lambda: get_user_id("userName", "cli-user"),  # case-insensitive
        lambda: get_user_id("emails.value", "cli-user@example.org"),
    )  # fmt: skip
    assert described == expected
    assert filtered["Users"] == [expected]
    ids = [u["UserId"] for u in listed["Users"]]
    assert len(ids) == len(set(ids)) == len(live.configuration().users) and user in ids
    assert (by_name, by_email) == (user, user)

    operations = [
        {"AttributePath": "displayName", "AttributeValue": "Renamed User"},
        {"AttributePath": "name.givenName", "AttributeValue": "Renamed"},
        {"AttributePath": "title", "AttributeValue": "Admiral"},
        {"AttributePath": "nickName"},  # no value: removed
        {"AttributePath": "emails", "AttributeValue": [{"Value": "renamed@example.org", "Type": "home"}]},
    ]
    updated = cli.ids("update-user", "--identity-store-id", store, "--user-id", user, "--operations", json.dumps(operations))  # fmt: skip
    assert updated["UserArn"] == arn and updated["Revision"] != created["Revision"]
    described, by_email = together(
        lambda: cli.ids("describe-user", "--identity-store-id", store, "--user-id", user),
        lambda: get_user_id("emails.value", "renamed@example.org"),
    )
    assert described == {
        "IdentityStoreId": store,
        "UserId": user,
        "UserArn": arn,
        "Revision": updated["Revision"],
        "UserName": "Cli-User",
        "DisplayName": "Renamed User",
        "Name": {"GivenName": "Renamed", "FamilyName": "User"},
        "Title": "Admiral",
        "Emails": [{"Value": "renamed@example.org", "Type": "home"}],
    }
    assert by_email == user

    cli.ids("delete-user", "--identity-store-id", store, "--user-id", user)
    together(
        lambda: cli.ids_fails(NOT_FOUND, "describe-user", "--identity-store-id", store, "--user-id", user),
        lambda: cli.ids_fails(NOT_FOUND, "get-user-id", "--identity-store-id", store,
                              "--alternate-identifier", unique_attribute("userName", "Cli-User")),
    )  # fmt: skip


def test_groups_and_memberships(cli: Cli, live: LiveServer) -> None:
    store, team = store_id(live), team_id(live)
    user, g1, g2 = together(
        lambda: cli.ids(
            "create-user", "--identity-store-id", store, "--user-name", "cli-member",
            "--display-name", "Member", "--name", "GivenName=Cli,FamilyName=Member",
        )["UserId"],
        lambda: cli.ids("create-group", "--identity-store-id", store, "--display-name", "cli-g1",
                        "--description", "first group")["GroupId"],
        lambda: cli.ids("create-group", "--identity-store-id", store, "--display-name", "cli-g2")["GroupId"],
    )  # fmt: skip
    member = f"UserId={user}"

    def get_group_id(name: str) -> str:
        out = cli.ids("get-group-id", "--identity-store-id", store, "--alternate-identifier", unique_attribute("displayName", name))  # fmt: skip
        return str(out["GroupId"])

    described, listed, by_name, m1, m2 = together(
        lambda: cli.ids("describe-group", "--identity-store-id", store, "--group-id", g1),
        lambda: cli.ids("list-groups", "--identity-store-id", store, "--page-size", "1"),
        lambda: get_group_id("cli-g1"),
        lambda: cli.ids("create-group-membership", "--identity-store-id", store, "--group-id", g1,
                        "--member-id", member)["MembershipId"],
        lambda: cli.ids("create-group-membership", "--identity-store-id", store, "--group-id", g2,
                        "--member-id", member)["MembershipId"],
    )  # fmt: skip
    assert described == {
        "GroupId": g1,
        "GroupArn": f"arn:aws:identitystore:::group/{g1}",
        "Revision": described["Revision"],
        "DisplayName": "cli-g1",
        "Description": "first group",
        "IdentityStoreId": store,
    }
    by_id = {g["GroupId"]: g for g in listed["Groups"]}
    assert len(by_id) == len(listed["Groups"]) == len(live.configuration().groups)
    assert by_id[g1] == described and g2 in by_id
    assert by_name == g1

    membership_1 = {
        "IdentityStoreId": store,
        "MembershipId": m1,
        "MembershipArn": f"arn:aws:identitystore:::membership/{m1}",
        "GroupId": g1,
        "MemberId": {"UserId": user},
    }
    renamed = [
        {"AttributePath": "displayName", "AttributeValue": "cli-g1-renamed"},
        {"AttributePath": "description"},  # no value: removed
    ]
    d_m1, in_g1, got_m2, checked, mine, _ = together(
        lambda: cli.ids("describe-group-membership", "--identity-store-id", store, "--membership-id", m1),
        lambda: cli.ids("list-group-memberships", "--identity-store-id", store, "--group-id", g1),
        lambda: cli.ids("get-group-membership-id", "--identity-store-id", store, "--group-id", g2,
                        "--member-id", member),
        lambda: cli.ids("is-member-in-groups", "--identity-store-id", store, "--member-id", member,
                        "--group-ids", g1, team, g2),
        lambda: cli.ids("list-group-memberships-for-member", "--identity-store-id", store,
                        "--member-id", member, "--page-size", "1"),
        lambda: cli.ids("update-group", "--identity-store-id", store, "--group-id", g1,
                        "--operations", json.dumps(renamed)),
    )  # fmt: skip
    assert d_m1 == membership_1
    assert in_g1["GroupMemberships"] == [membership_1]
    assert got_m2 == {
        "MembershipId": m2,
        "MembershipArn": f"arn:aws:identitystore:::membership/{m2}",
        "IdentityStoreId": store,
    }
    assert [(r["GroupId"], r["MembershipExists"], r["MemberId"]) for r in checked["Results"]] == [
        (g1, True, {"UserId": user}),
        (team, False, {"UserId": user}),
        (g2, True, {"UserId": user}),
    ]
    assert sorted((m["GroupId"], m["MembershipId"]) for m in mine["GroupMemberships"]) == sorted(
        [(g1, m1), (g2, m2)]
    )

    described, by_name, _ = together(
        lambda: cli.ids("describe-group", "--identity-store-id", store, "--group-id", g1),
        lambda: get_group_id("cli-g1-renamed"),
        lambda: cli.ids("delete-group-membership", "--identity-store-id", store, "--membership-id", m1),
    )
    assert described == {
        "GroupId": g1,
        "GroupArn": f"arn:aws:identitystore:::group/{g1}",
        "Revision": described["Revision"],
        "DisplayName": "cli-g1-renamed",
        "IdentityStoreId": store,
    }
    assert by_name == g1

    together(
        lambda: cli.ids_fails(NOT_FOUND, "describe-group-membership", "--identity-store-id", store,
                              "--membership-id", m1),
        lambda: cli.ids("delete-group", "--identity-store-id", store, "--group-id", g2),
    )  # fmt: skip
    _, mine = together(
        lambda: cli.ids_fails(NOT_FOUND, "describe-group", "--identity-store-id", store, "--group-id", g2),
        # m1 was deleted, m2 went with its group
        lambda: cli.ids("list-group-memberships-for-member", "--identity-store-id", store, "--member-id", member),
    )  # fmt: skip
    assert mine["GroupMemberships"] == []

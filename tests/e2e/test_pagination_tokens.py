"""``NextToken`` is sealed and bound to the listing that issued it (issue 13, item 11; ``ssoidc.admin.paging``).

A token cannot be edited to start the listing elsewhere, nor replayed on another operation, another group's
memberships or another filter; each such call is a ``ValidationException`` naming ``NextToken`` that lists
nothing. Driven through boto3 and AWS CLI v2 against the shared SQLite server (tokens hold no state).
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ssoidc.admin.paging import PageTokens
from ssoidc.base64url import b64u, b64u_decode
from tests.helpers.cli import V2_AWS, data_path, proxy_env
from tests.helpers.clients import make_admin_client
from tests.helpers.servers import LiveServer


@pytest.fixture(scope="module")
def ids(server: LiveServer) -> Any:
    return make_admin_client(server, "identitystore")


@pytest.fixture(scope="module")
def store_id(server: LiveServer) -> str:
    return server.configuration().instance.identity_store_id


@pytest.fixture(scope="module")
def two_groups(ids: Any, store_id: str) -> tuple[str, str, str]:
    """Two groups of three members each, and the users' name prefix."""
    prefix = f"pt-{secrets.token_hex(4)}"
    users = [
        ids.create_user(
            IdentityStoreId=store_id,
            UserName=f"{prefix}-{i}",
            DisplayName=f"U {i}",
            Name={"GivenName": "U", "FamilyName": str(i)},
        )["UserId"]
        for i in range(3)
    ]
    groups = [
        ids.create_group(IdentityStoreId=store_id, DisplayName=f"{prefix}-g{i}")["GroupId"] for i in range(2)
    ]
    for g in groups:
        for u in users:
            ids.create_group_membership(IdentityStoreId=store_id, GroupId=g, MemberId={"UserId": u})
    return groups[0], groups[1], prefix


def refused(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    err: dict[str, Any] = dict(info.value.response)
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Code"] == "ValidationException", err
    assert "NextToken" in err["Error"]["Message"], err
    assert "Users" not in err and "Groups" not in err and "GroupMemberships" not in err
    return err


def test_a_token_follows_its_own_listing(ids: Any, store_id: str, two_groups: tuple[str, str, str]) -> None:
    group, _, _ = two_groups
    first = ids.list_group_memberships(IdentityStoreId=store_id, GroupId=group, MaxResults=1)
    # MaxResults may change between pages; the pages never repeat a member
    rest = ids.list_group_memberships(
        IdentityStoreId=store_id, GroupId=group, MaxResults=10, NextToken=first["NextToken"]
    )
    seen = [m["MembershipId"] for m in first["GroupMemberships"] + rest["GroupMemberships"]]
    assert len(seen) == len(set(seen)) == 3 and "NextToken" not in rest


def test_a_token_is_refused_by_another_operation(ids: Any, store_id: str) -> None:
    token = ids.list_users(IdentityStoreId=store_id, MaxResults=1)["NextToken"]
    assert ids.list_users(IdentityStoreId=store_id, MaxResults=1, NextToken=token)["Users"]
    refused(lambda: ids.list_groups(IdentityStoreId=store_id, NextToken=token))


def test_a_token_is_refused_for_other_arguments(
    ids: Any, store_id: str, two_groups: tuple[str, str, str]
) -> None:
    group, other, prefix = two_groups
    token = ids.list_group_memberships(IdentityStoreId=store_id, GroupId=group, MaxResults=1)["NextToken"]
    refused(lambda: ids.list_group_memberships(IdentityStoreId=store_id, GroupId=other, NextToken=token))
    by_name = [{"AttributePath": "UserName", "AttributeValue": f"{prefix}-0"}]
    unfiltered = ids.list_users(IdentityStoreId=store_id, MaxResults=1)["NextToken"]
    refused(lambda: ids.list_users(IdentityStoreId=store_id, Filters=by_name, NextToken=unfiltered))


def test_an_edited_token_is_refused(ids: Any, store_id: str) -> None:
    token = ids.list_users(IdentityStoreId=store_id, MaxResults=1)["NextToken"]
    raw = b64u_decode(token)
    payload, mac = raw[:-16], raw[-16:]
    doc = json.loads(payload)
    edited = json.dumps({**doc, "after": ""}).encode()
    refused(lambda: ids.list_users(IdentityStoreId=store_id, NextToken=b64u(edited + mac)))
    refused(lambda: ids.list_users(IdentityStoreId=store_id, NextToken=b64u(payload)))  # the MAC dropped
    # the old unsealed format (version 1) is no longer accepted
    legacy = b64u(json.dumps({"v": 1, "after": doc["after"]}).encode())
    refused(lambda: ids.list_users(IdentityStoreId=store_id, NextToken=legacy))
    # a token sealed under another deployment's key
    foreign = (
        PageTokens(bytes(32)).cursor("ListUsers", {"IdentityStoreId": store_id}).next_token(doc["after"])
    )
    refused(lambda: ids.list_users(IdentityStoreId=store_id, NextToken=foreign))


def test_aws_cli_refuses_a_token_of_another_listing(
    server: LiveServer, ids: Any, store_id: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """AWS CLI v2 with ``--starting-token`` (its paginator passes the token through as NextToken)."""
    token = ids.list_users(IdentityStoreId=store_id, MaxResults=1)["NextToken"]
    env = server.aws_env() | {
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_PAGER": "",
        "AWS_DATA_PATH": str(data_path(tmp_path_factory.mktemp("aws-data"))),
        **proxy_env(),
    }

    def cli(op: str) -> subprocess.CompletedProcess[str]:
        argv = [str(V2_AWS), "identitystore", op, "--identity-store-id", store_id, "--starting-token", token]
        argv += ["--max-items", "1", "--endpoint-url", server.url, "--output", "json"]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)

    ok = cli("list-users")
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)["Users"]) == 1
    bad = cli("list-groups")
    assert bad.returncode == 254, bad.stderr
    assert "An error occurred (ValidationException) when calling the ListGroups operation" in bad.stderr
    assert "NextToken" in bad.stderr and bad.stdout == ""

"""identitystore ``Revision`` (optimistic concurrency) and ARNs as identifiers, through boto3, on both stores.

A stale ``Revision`` on UpdateUser, UpdateGroup, DeleteUser or DeleteGroup is ConflictException with Reason
CONCURRENT_MODIFICATION and changes nothing (the entity reads back as before, at the same revision); the current
one is accepted and answered with the next. Ids given as ARNs (``arn:aws:identitystore:::user/<id>``...) name the
same entities; an ARN of another kind is a ValidationException, and nothing is written.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.clients import make_admin_client
from tests.helpers.config import ACCOUNT
from tests.helpers.servers import LiveServer, both_stores

CONFLICT = ("ConflictException", "CONCURRENT_MODIFICATION")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> LiveServer:
    return both_stores(request)


@pytest.fixture(scope="module")
def ids(server: LiveServer) -> Any:
    return make_admin_client(server, "identitystore")


@pytest.fixture(scope="module")
def store_id(server: LiveServer) -> str:
    return str(make_admin_client(server, "sso-admin").list_instances()["Instances"][0]["IdentityStoreId"])


def error(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    resp = info.value.response
    return {
        **resp["Error"],
        "Reason": resp.get("Reason"),
        "Status": resp["ResponseMetadata"]["HTTPStatusCode"],
    }


def body(resp: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


def uniq(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def new_user(ids: Any, store_id: str) -> dict[str, Any]:
    name = uniq("rev")
    return body(
        ids.create_user(
            IdentityStoreId=store_id,
            UserName=name,
            DisplayName="Before",
            Name={"GivenName": "Rev", "FamilyName": "Ision"},
        )
    )


def rename(display_name: str) -> list[dict[str, Any]]:
    return [{"AttributePath": "displayName", "AttributeValue": display_name}]


def test_a_stale_revision_refuses_update_user_and_changes_nothing(ids: Any, store_id: str) -> None:
    created = new_user(ids, store_id)
    user_id, first = created["UserId"], created["Revision"]
    updated = body(
        ids.update_user(IdentityStoreId=store_id, UserId=user_id, Operations=rename("Second"), Revision=first)
    )
    second = updated["Revision"]
    assert updated == {
        "IdentityStoreId": store_id,
        "UserId": user_id,
        "UserArn": f"arn:aws:identitystore:::user/{user_id}",
        "Revision": second,
    }
    assert second != first
    before = body(ids.describe_user(IdentityStoreId=store_id, UserId=user_id))
    assert before["DisplayName"] == "Second" and before["Revision"] == second
    for stale in (first, "0" + second, "999999999999999999999999999999"):
        err = error(
            lambda stale=stale: ids.update_user(  # type: ignore[misc]
                IdentityStoreId=store_id, UserId=user_id, Operations=rename("Lost"), Revision=stale
            )
        )
        assert (err["Code"], err["Reason"], err["Status"]) == (*CONFLICT, 400), err
        assert body(ids.describe_user(IdentityStoreId=store_id, UserId=user_id)) == before
    # without a Revision the update is unconditional (the model's wording) and still answers the new revision
    third = ids.update_user(IdentityStoreId=store_id, UserId=user_id, Operations=rename("Third"))["Revision"]
    assert third not in (first, second)
    assert ids.describe_user(IdentityStoreId=store_id, UserId=user_id)["Revision"] == third


def test_a_stale_revision_refuses_delete_user_and_changes_nothing(
    server: LiveServer, ids: Any, store_id: str
) -> None:
    created = new_user(ids, store_id)
    user_id, first = created["UserId"], created["Revision"]
    group = ids.create_group(IdentityStoreId=store_id, DisplayName=uniq("rev-g"))["GroupId"]
    ids.create_group_membership(IdentityStoreId=store_id, GroupId=group, MemberId={"UserId": user_id})
    second = ids.update_user(IdentityStoreId=store_id, UserId=user_id, Operations=rename("Kept"))["Revision"]
    err = error(lambda: ids.delete_user(IdentityStoreId=store_id, UserId=user_id, Revision=first))
    assert (err["Code"], err["Reason"]) == CONFLICT
    described = ids.describe_user(IdentityStoreId=store_id, UserId=user_id)
    assert (described["DisplayName"], described["Revision"]) == ("Kept", second)
    member = ids.is_member_in_groups(IdentityStoreId=store_id, MemberId={"UserId": user_id}, GroupIds=[group])
    assert member["Results"][0]["MembershipExists"] is True  # no cascade ran
    ids.delete_user(IdentityStoreId=store_id, UserId=user_id, Revision=second)
    err = error(lambda: ids.describe_user(IdentityStoreId=store_id, UserId=user_id))
    assert err["Code"] == "ResourceNotFoundException"
    # deleting what is gone is not found, whatever the revision
    err = error(lambda: ids.delete_user(IdentityStoreId=store_id, UserId=user_id, Revision=second))
    assert err["Code"] == "ResourceNotFoundException"


def test_group_revisions(ids: Any, store_id: str) -> None:
    created = body(ids.create_group(IdentityStoreId=store_id, DisplayName=uniq("rev-g"), Description="one"))
    gid, first = created["GroupId"], created["Revision"]
    assert created["GroupArn"] == f"arn:aws:identitystore:::group/{gid}"
    ops = [{"AttributePath": "description", "AttributeValue": "two"}]
    second = ids.update_group(IdentityStoreId=store_id, GroupId=gid, Operations=ops, Revision=first)[
        "Revision"
    ]
    # a membership does not change its group's revision
    user_id = new_user(ids, store_id)["UserId"]
    ids.create_group_membership(IdentityStoreId=store_id, GroupId=gid, MemberId={"UserId": user_id})
    before = body(ids.describe_group(IdentityStoreId=store_id, GroupId=gid))
    assert (before["Description"], before["Revision"]) == ("two", second)
    lost = [{"AttributePath": "description", "AttributeValue": "lost"}]
    err = error(
        lambda: ids.update_group(IdentityStoreId=store_id, GroupId=gid, Operations=lost, Revision=first)
    )
    assert (err["Code"], err["Reason"]) == CONFLICT
    err = error(lambda: ids.delete_group(IdentityStoreId=store_id, GroupId=gid, Revision=first))
    assert (err["Code"], err["Reason"]) == CONFLICT
    assert body(ids.describe_group(IdentityStoreId=store_id, GroupId=gid)) == before
    ids.delete_group(IdentityStoreId=store_id, GroupId=gid, Revision=second)
    assert error(lambda: ids.describe_group(IdentityStoreId=store_id, GroupId=gid))["Code"] == (
        "ResourceNotFoundException"
    )


def test_ids_may_be_given_as_arns(ids: Any, store_id: str) -> None:
    store_arn = f"arn:aws:identitystore::{ACCOUNT}:identitystore/{store_id}"
    created = new_user(ids, store_id)
    user_id, user_arn = created["UserId"], created["UserArn"]
    group = body(ids.create_group(IdentityStoreId=store_arn, DisplayName=uniq("arn-g")))
    assert group["IdentityStoreId"] == store_id  # answers name the store by id
    gid, group_arn = group["GroupId"], group["GroupArn"]

    by_arn = body(ids.describe_user(IdentityStoreId=store_arn, UserId=user_arn))
    assert by_arn == body(ids.describe_user(IdentityStoreId=store_id, UserId=user_id))
    assert by_arn["IdentityStoreId"] == store_id and by_arn["UserId"] == user_id
    ms = body(
        ids.create_group_membership(
            IdentityStoreId=store_id, GroupId=group_arn, MemberId={"UserId": user_arn}
        )
    )
    assert ms["MembershipArn"] == f"arn:aws:identitystore:::membership/{ms['MembershipId']}"
    described = ids.describe_group_membership(IdentityStoreId=store_id, MembershipId=ms["MembershipArn"])
    assert (described["GroupId"], described["MemberId"]) == (gid, {"UserId": user_id})
    found = ids.get_group_membership_id(
        IdentityStoreId=store_id, GroupId=group_arn, MemberId={"UserId": user_arn}
    )
    assert found["MembershipId"] == ms["MembershipId"]
    checked = ids.is_member_in_groups(
        IdentityStoreId=store_id, MemberId={"UserId": user_arn}, GroupIds=[group_arn]
    )
    assert checked["Results"] == [{"GroupId": gid, "MemberId": {"UserId": user_id}, "MembershipExists": True}]

    # an ARN of the other kind names nothing it could be: ValidationException naming the member, nothing written
    err = error(lambda: ids.update_user(IdentityStoreId=store_id, UserId=group_arn, Operations=rename("No")))
    assert (err["Code"], err["Status"]) == ("ValidationException", 400) and "UserId" in err["Message"]
    err = error(lambda: ids.delete_group(IdentityStoreId=store_id, GroupId=user_arn))
    assert err["Code"] == "ValidationException"
    assert ids.describe_group(IdentityStoreId=store_id, GroupId=gid)["GroupId"] == gid
    # another partition's ARN, another account's identity store: not found
    err = error(
        lambda: ids.describe_user(
            IdentityStoreId=store_id, UserId=f"arn:aws-cn:identitystore:::user/{user_id}"
        )
    )
    assert (err["Code"], err["Status"]) == ("ResourceNotFoundException", 400)
    other = f"arn:aws:identitystore::{'9' * 12}:identitystore/{store_id}"
    err = error(lambda: ids.describe_user(IdentityStoreId=other, UserId=user_id))
    assert err["Code"] == "ResourceNotFoundException"
    ids.delete_group_membership(IdentityStoreId=store_id, MembershipId=ms["MembershipArn"])
    ids.delete_user(IdentityStoreId=store_arn, UserId=user_arn)
    assert error(lambda: ids.describe_user(IdentityStoreId=store_id, UserId=user_id))["Code"] == (
        "ResourceNotFoundException"
    )

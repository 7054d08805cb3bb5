"""identitystore through boto3 against a live server: users, groups, memberships, pagination and cascades.

Most tests share one module server and use unique names; the tests that delete the configuration's own users
and groups (alice, team) start their own server.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.clients import make_admin_client, make_client
from tests.helpers.config import JWT_BEARER
from tests.helpers.servers import LiveServer, private_server

OTHER_STORE = "d-0123456789"
MISSING_ID = "0123456789-01234567-89ab-cdef-0123-456789abcdef"


live = private_server("identitystore")
own_server = private_server("identitystore-own", scope="function")


@pytest.fixture(scope="module")
def ids(live: LiveServer) -> Any:
    return make_admin_client(live, "identitystore")


@pytest.fixture(scope="module")
def store_id(live: LiveServer) -> str:
    return str(make_admin_client(live, "sso-admin").list_instances()["Instances"][0]["IdentityStoreId"])


def error(call: Callable[[], Any]) -> dict[str, Any]:
    """The error of a rejected call: Code, Message and the modelled members, plus the HTTP status."""
    with pytest.raises(ClientError) as info:
        call()
    resp = info.value.response
    extra = {k: v for k, v in resp.items() if k not in ("Error", "ResponseMetadata")}
    return {**extra, **resp["Error"], "Status": resp["ResponseMetadata"]["HTTPStatusCode"]}


def body(resp: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


def uniq(prefix: str = "u") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def new_user(ids: Any, store_id: str, name: str | None = None, **extra: Any) -> str:
    name = name or uniq()
    resp = ids.create_user(
        IdentityStoreId=store_id,
        UserName=name,
        DisplayName=f"{name} display",
        Name={"GivenName": "Given", "FamilyName": "Family"},
        **extra,
    )
    return str(resp["UserId"])


def new_group(ids: Any, store_id: str, name: str | None = None) -> str:
    return str(ids.create_group(IdentityStoreId=store_id, DisplayName=name or uniq("g"))["GroupId"])


def revoked_subjects(server: LiveServer) -> set[str]:
    db = sqlite3.connect(f"file:{server.data_dir / 'ssoidc.db'}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute("SELECT subject FROM revoked_subjects")}
    finally:
        db.close()


def server_log(server: LiveServer) -> str:
    return (server.data_dir.parent / "server.log").read_text()


FULL_USER: dict[str, Any] = {
    "Name": {
        "Formatted": "Dr. Ada B. Lovelace PhD",
        "FamilyName": "Lovelace",
        "GivenName": "Ada",
        "MiddleName": "B.",
        "HonorificPrefix": "Dr.",
        "HonorificSuffix": "PhD",
    },
    "DisplayName": "Ada Lovelace",
    "NickName": "ada",
    "ProfileUrl": "https://example.com/ada",
    "Emails": [{"Value": "ada@example.com", "Type": "work", "Primary": True}],
    "Addresses": [
        {
            "StreetAddress": "1 Main St",
            "Locality": "London",
            "Region": "LDN",
            "PostalCode": "N1",
            "Country": "GB",
            "Formatted": "1 Main St, London",
            "Type": "home",
            "Primary": True,
        }
    ],
    "PhoneNumbers": [{"Value": "+44 20 0000 0000", "Type": "work", "Primary": True}],
    "UserType": "Employee",
    "Title": "Engineer",
    "PreferredLanguage": "en-GB",
    "Locale": "en_GB",
    "Timezone": "Europe/London",
    "Photos": [{"Value": "https://example.com/ada.png", "Type": "photo", "Display": "Ada", "Primary": True}],
    "Website": "https://ada.example.com",
    "Birthdate": "1815-12-10",
    "Roles": [{"Value": "admin", "Type": "work", "Primary": True}],
}
ENTERPRISE = {
    "aws:identitystore:enterprise": {"employeeNumber": "42", "costCenter": "R&D", "department": "Eng"}
}


# -- users --------------------------------------------------------------------------------------------------------
def test_user_round_trip_describe_list_get_delete(ids: Any, store_id: str) -> None:
    name = uniq("ada")
    created = body(
        ids.create_user(IdentityStoreId=store_id, UserName=name, Extensions=ENTERPRISE, **FULL_USER)
    )
    user_id = created["UserId"]
    assert len(user_id) == 47 and user_id[10] == "-"
    arn = f"arn:aws:identitystore:::user/{user_id}"
    assert created == {
        "IdentityStoreId": store_id,
        "UserId": user_id,
        "UserArn": arn,
        "Revision": created["Revision"],
    }
    assert created["Revision"].isdigit()

    described = body(ids.describe_user(IdentityStoreId=store_id, UserId=user_id))
    assert described == {
        "IdentityStoreId": store_id,
        "UserId": user_id,
        "UserArn": arn,
        "Revision": created["Revision"],
        "UserName": name,
        **FULL_USER,
    }
    with_ext = body(
        ids.describe_user(
            IdentityStoreId=store_id, UserId=user_id, Extensions=["aws:identitystore:enterprise"]
        )
    )
    assert with_ext == {**described, "Extensions": ENTERPRISE}

    listed = [
        u for p in ids.get_paginator("list_users").paginate(IdentityStoreId=store_id) for u in p["Users"]
    ]
    assert [u for u in listed if u["UserId"] == user_id] == [described]

    for path, value in (("userName", name.upper()), ("emails.value", "ada@example.com")):
        got = ids.get_user_id(
            IdentityStoreId=store_id,
            AlternateIdentifier={"UniqueAttribute": {"AttributePath": path, "AttributeValue": value}},
        )
        assert body(got) == {"IdentityStoreId": store_id, "UserId": user_id, "UserArn": arn}

    ids.delete_user(IdentityStoreId=store_id, UserId=user_id)
    err = error(lambda: ids.describe_user(IdentityStoreId=store_id, UserId=user_id))
    assert (err["Code"], err["ResourceType"], err["ResourceId"], err["Status"]) == (
        "ResourceNotFoundException",
        "USER",
        user_id,
        400,
    )
    assert error(lambda: ids.delete_user(IdentityStoreId=store_id, UserId=user_id))["Code"] == (
        "ResourceNotFoundException"
    )


def test_configured_user_is_described_as_applied(live: LiveServer, ids: Any, store_id: str) -> None:
    alice = live.users["alice"]
    described = body(ids.describe_user(IdentityStoreId=store_id, UserId=alice))
    assert described == {
        "IdentityStoreId": store_id,
        "UserId": alice,
        "UserArn": f"arn:aws:identitystore:::user/{alice}",
        "Revision": described["Revision"],
        "UserName": "alice",
        "Name": {"GivenName": "Alice"},
        "Emails": [{"Value": "alice@example.com", "Type": "work", "Primary": True}],
    }


def test_get_user_id_misses_and_ambiguity(ids: Any, store_id: str) -> None:
    def get(alt: dict[str, Any]) -> dict[str, Any]:
        return error(lambda: ids.get_user_id(IdentityStoreId=store_id, AlternateIdentifier=alt))

    miss = get({"UniqueAttribute": {"AttributePath": "userName", "AttributeValue": uniq("nobody")}})
    assert (miss["Code"], miss["ResourceType"]) == ("ResourceNotFoundException", "USER")
    ext = get({"ExternalId": {"Issuer": "https://idp.example.com", "Id": "x"}})
    assert ext["Code"] == "ResourceNotFoundException"
    bad_path = get({"UniqueAttribute": {"AttributePath": "nickName", "AttributeValue": "x"}})
    assert bad_path["Code"] == "ValidationException"
    not_string = get({"UniqueAttribute": {"AttributePath": "userName", "AttributeValue": {"a": 1}}})
    assert not_string["Code"] == "ValidationException"
    # dup1 and dup2 share an email in the configuration: the attribute identifies no single user
    dup = get({"UniqueAttribute": {"AttributePath": "emails.value", "AttributeValue": "dup@example.com"}})
    assert dup["Code"] == "ValidationException"


def test_create_user_rejections_change_nothing(live: LiveServer, ids: Any, store_id: str) -> None:
    before = live.configuration().users
    name = uniq()
    base: dict[str, Any] = {
        "IdentityStoreId": store_id,
        "UserName": name,
        "DisplayName": "D",
        "Name": {"GivenName": "G", "FamilyName": "F"},
    }
    cases: list[dict[str, Any]] = [
        {k: v for k, v in base.items() if k != "DisplayName"},
        {k: v for k, v in base.items() if k != "UserName"},
        {**base, "Name": {"GivenName": "G"}},
        {**base, "UserName": "Administrator"},
        {**base, "UserName": "awsadministrators"},
        {**base, "Extensions": {"aws:identitystore:other": {"a": "b"}}},
        {**base, "Extensions": {"aws:identitystore:enterprise": {"shoeSize": "42"}}},
        {**base, "Extensions": {"aws:identitystore:enterprise": "not an object"}},
    ]
    for case in cases:
        err = error(lambda case=case: ids.create_user(**case))  # type: ignore[misc]
        assert (err["Code"], err["Status"]) == ("ValidationException", 400), case
    raw = make_admin_client(live, "identitystore", config={"parameter_validation": False})
    for bad in ({**base, "UserName": "has space"}, {**base, "Emails": [{"Value": "a"}, {"Value": "b"}]}):
        err = error(lambda bad=bad: raw.create_user(**bad))  # type: ignore[misc]
        assert err["Code"] == "ValidationException"
    assert live.configuration().users == before


def test_user_name_is_unique_case_insensitively(live: LiveServer, ids: Any, store_id: str) -> None:
    name = uniq("Dave")
    new_user(ids, store_id, name)
    err = error(lambda: new_user(ids, store_id, name.upper()))
    assert (err["Code"], err["Reason"], err["Status"]) == (
        "ConflictException",
        "UNIQUENESS_CONSTRAINT_VIOLATION",
        400,
    )
    assert name not in err["Message"] and name.upper() not in err["Message"]

    other = new_user(ids, store_id)
    before = body(ids.describe_user(IdentityStoreId=store_id, UserId=other))
    err = error(
        lambda: ids.update_user(
            IdentityStoreId=store_id,
            UserId=other,
            Operations=[{"AttributePath": "userName", "AttributeValue": name.lower()}],
        )
    )
    assert (err["Code"], err["Reason"]) == ("ConflictException", "UNIQUENESS_CONSTRAINT_VIOLATION")
    assert body(ids.describe_user(IdentityStoreId=store_id, UserId=other)) == before
    log = server_log(live)
    assert "identitystore UpdateUser ConflictException" in log
    assert name.lower() not in log.lower()
    # a user may change the case of its own name
    ids.update_user(
        IdentityStoreId=store_id,
        UserId=other,
        Operations=[{"AttributePath": "userName", "AttributeValue": "X" + before["UserName"]}],
    )
    assert ids.describe_user(IdentityStoreId=store_id, UserId=other)["UserName"] == "X" + before["UserName"]


def test_update_user_operations(live: LiveServer, ids: Any, store_id: str) -> None:
    user_id = new_user(ids, store_id, NickName="nick", Title="t0")

    def update(*ops: tuple[str, Any]) -> None:
        ids.update_user(
            IdentityStoreId=store_id,
            UserId=user_id,
            Operations=[{"AttributePath": p, **({} if v is None else {"AttributeValue": v})} for p, v in ops],
        )

    update(
        ("displayName", "New Display"),
        ("name.givenName", "Grace"),
        ("Name.MiddleName", "M"),
        ("emails", [{"Value": "grace@example.com", "Type": "home"}]),
        ("nickName", None),
        ("title", "Admiral"),
        ("phoneNumbers", [{"Value": "+1 555", "Primary": True}]),
        ("aws:identitystore:enterprise.costCenter", "CC-1"),
        ("aws:identitystore:enterprise.manager.value", "boss"),
    )
    got = body(
        ids.describe_user(
            IdentityStoreId=store_id, UserId=user_id, Extensions=["aws:identitystore:enterprise"]
        )
    )
    assert got["DisplayName"] == "New Display"
    assert got["Name"] == {"GivenName": "Grace", "FamilyName": "Family", "MiddleName": "M"}
    assert got["Emails"] == [{"Value": "grace@example.com", "Type": "home"}]
    assert "NickName" not in got
    assert got["Title"] == "Admiral"
    assert got["PhoneNumbers"] == [{"Value": "+1 555", "Primary": True}]
    assert got["Extensions"] == {
        "aws:identitystore:enterprise": {"costCenter": "CC-1", "manager": {"value": "boss"}}
    }
    assert (
        ids.get_user_id(
            IdentityStoreId=store_id,
            AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": "emails.value", "AttributeValue": "grace@example.com"}
            },
        )["UserId"]
        == user_id
    )

    update(("name.middleName", None), ("emails", None), ("aws:identitystore:enterprise", None))
    got = body(
        ids.describe_user(
            IdentityStoreId=store_id, UserId=user_id, Extensions=["aws:identitystore:enterprise"]
        )
    )
    assert got["Name"] == {"GivenName": "Grace", "FamilyName": "Family"}
    assert "Emails" not in got and "Extensions" not in got

    rejected: list[tuple[tuple[str, Any], ...]] = [
        (("externalIds", [{"Issuer": "i", "Id": "x"}]),),
        (("favouriteColour", "blue"),),
        (("emails.value", "a@example.com"),),
        (("userName", None),),
        (("displayName", None),),
        (("name.familyName", None),),
        (("name", {"GivenName": "only"}),),
        (("displayName", 5),),
        (("emails", [{"Value": "a@example.com"}, {"Value": "b@example.com"}]),),
        (("aws:identitystore:enterprise.shoeSize", "9"),),
        (("aws:identitystore:enterprise", {"shoeSize": "9"}),),
        # all or nothing: the valid first operation is not applied either
        (("title", "Captain"), ("bogus", "x")),
    ]
    for ops in rejected:
        err = error(lambda ops=ops: update(*ops))  # type: ignore[misc]
        assert (err["Code"], err["Status"]) == ("ValidationException", 400), ops
        assert body(ids.describe_user(IdentityStoreId=store_id, UserId=user_id)) == got, ops
    err = error(lambda: update(("favouriteColour", "blue")))
    assert "favouriteColour" in err["Message"]
    err = error(lambda: update(("emails.value", "a@example.com")))
    assert "multi-value attribute emails" in err["Message"]
    log = server_log(live)
    assert "identitystore UpdateUser ValidationException" in log
    assert "a@example.com" not in log and "Captain" not in log and "grace@example.com" not in log

    missing = error(
        lambda: ids.update_user(
            IdentityStoreId=store_id,
            UserId=MISSING_ID,
            Operations=[{"AttributePath": "title", "AttributeValue": "x"}],
        )
    )
    assert (missing["Code"], missing["ResourceType"]) == ("ResourceNotFoundException", "USER")


def test_list_users_filter(ids: Any, store_id: str) -> None:
    name = uniq("filt")
    user_id = new_user(ids, store_id, name)
    got = ids.list_users(
        IdentityStoreId=store_id, Filters=[{"AttributePath": "UserName", "AttributeValue": name}]
    )
    assert [u["UserId"] for u in got["Users"]] == [user_id]
    none = ids.list_users(
        IdentityStoreId=store_id, Filters=[{"AttributePath": "UserName", "AttributeValue": uniq()}]
    )
    assert none["Users"] == []
    err = error(
        lambda: ids.list_users(
            IdentityStoreId=store_id, Filters=[{"AttributePath": "Title", "AttributeValue": "x"}]
        )
    )
    assert err["Code"] == "ValidationException"
    err = error(lambda: ids.list_users(IdentityStoreId=store_id, Extensions=["aws:identitystore:nope"]))
    assert err["Code"] == "ValidationException"


# -- groups -------------------------------------------------------------------------------------------------------
def test_group_lifecycle_and_uniqueness(live: LiveServer, ids: Any, store_id: str) -> None:
    name = uniq("grp")
    resp = ids.create_group(IdentityStoreId=store_id, DisplayName=name, Description="first")
    gid = resp["GroupId"]
    assert body(resp) == {
        "IdentityStoreId": store_id,
        "GroupId": gid,
        "GroupArn": f"arn:aws:identitystore:::group/{gid}",
        "Revision": resp["Revision"],
    }
    expected = {
        "GroupId": gid,
        "GroupArn": f"arn:aws:identitystore:::group/{gid}",
        "Revision": resp["Revision"],
        "DisplayName": name,
        "Description": "first",
        "IdentityStoreId": store_id,
    }
    assert body(ids.describe_group(IdentityStoreId=store_id, GroupId=gid)) == expected

    err = error(lambda: ids.create_group(IdentityStoreId=store_id, DisplayName=name))
    assert (err["Code"], err["Reason"]) == ("ConflictException", "UNIQUENESS_CONSTRAINT_VIOLATION")
    assert name not in err["Message"]
    assert error(lambda: ids.create_group(IdentityStoreId=store_id, DisplayName="AWSAdministrators"))[
        "Code"
    ] == ("ValidationException")

    got = ids.list_groups(
        IdentityStoreId=store_id, Filters=[{"AttributePath": "DisplayName", "AttributeValue": name}]
    )
    assert got["Groups"] == [expected]
    assert (
        ids.get_group_id(
            IdentityStoreId=store_id,
            AlternateIdentifier={"UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": name}},
        )["GroupId"]
        == gid
    )
    for alt in (
        {"UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": uniq()}},
        {"ExternalId": {"Issuer": "https://idp.example.com", "Id": "g"}},
    ):
        err = error(lambda alt=alt: ids.get_group_id(IdentityStoreId=store_id, AlternateIdentifier=alt))  # type: ignore[misc]
        assert (err["Code"], err["ResourceType"]) == ("ResourceNotFoundException", "GROUP")
    err = error(
        lambda: ids.get_group_id(
            IdentityStoreId=store_id,
            AlternateIdentifier={
                "UniqueAttribute": {"AttributePath": "description", "AttributeValue": "first"}
            },
        )
    )
    assert err["Code"] == "ValidationException"

    renamed = uniq("grp")
    updated = ids.update_group(
        IdentityStoreId=store_id,
        GroupId=gid,
        Operations=[
            {"AttributePath": "displayName", "AttributeValue": renamed},
            {"AttributePath": "description"},
        ],
    )
    assert updated["Revision"] != resp["Revision"]
    expected = {
        "GroupId": gid,
        "GroupArn": f"arn:aws:identitystore:::group/{gid}",
        "Revision": updated["Revision"],
        "DisplayName": renamed,
        "IdentityStoreId": store_id,
    }
    assert body(ids.describe_group(IdentityStoreId=store_id, GroupId=gid)) == expected

    other = new_group(ids, store_id)
    for ops in (
        [{"AttributePath": "members", "AttributeValue": []}],
        [{"AttributePath": "displayName"}],
        [
            {"AttributePath": "description", "AttributeValue": "ok"},
            {"AttributePath": "displayName", "AttributeValue": 7},
        ],
    ):
        err = error(lambda ops=ops: ids.update_group(IdentityStoreId=store_id, GroupId=gid, Operations=ops))  # type: ignore[misc]
        assert err["Code"] == "ValidationException", ops
        assert body(ids.describe_group(IdentityStoreId=store_id, GroupId=gid)) == expected
    err = error(
        lambda: ids.update_group(
            IdentityStoreId=store_id,
            GroupId=other,
            Operations=[{"AttributePath": "displayName", "AttributeValue": renamed}],
        )
    )
    assert (err["Code"], err["Reason"]) == ("ConflictException", "UNIQUENESS_CONSTRAINT_VIOLATION")

    ids.delete_group(IdentityStoreId=store_id, GroupId=gid)
    err = error(lambda: ids.describe_group(IdentityStoreId=store_id, GroupId=gid))
    assert (err["Code"], err["ResourceType"], err["ResourceId"]) == (
        "ResourceNotFoundException",
        "GROUP",
        gid,
    )
    assert (
        error(lambda: ids.delete_group(IdentityStoreId=store_id, GroupId=gid))["Code"]
        == "ResourceNotFoundException"
    )


# -- memberships --------------------------------------------------------------------------------------------------
def test_memberships(ids: Any, store_id: str) -> None:
    user = new_user(ids, store_id)
    g1, g2, g3 = new_group(ids, store_id), new_group(ids, store_id), new_group(ids, store_id)
    m1 = ids.create_group_membership(IdentityStoreId=store_id, GroupId=g1, MemberId={"UserId": user})[
        "MembershipId"
    ]
    m2 = ids.create_group_membership(IdentityStoreId=store_id, GroupId=g2, MemberId={"UserId": user})[
        "MembershipId"
    ]
    assert m1 != m2

    err = error(
        lambda: ids.create_group_membership(IdentityStoreId=store_id, GroupId=g1, MemberId={"UserId": user})
    )
    assert (err["Code"], err["Reason"]) == ("ConflictException", "UNIQUENESS_CONSTRAINT_VIOLATION")
    for group, member, rtype in ((MISSING_ID, user, "GROUP"), (g3, MISSING_ID, "USER")):
        err = error(
            lambda group=group, member=member: ids.create_group_membership(  # type: ignore[misc]
                IdentityStoreId=store_id, GroupId=group, MemberId={"UserId": member}
            )
        )
        assert (err["Code"], err["ResourceType"]) == ("ResourceNotFoundException", rtype)

    desc = body(ids.describe_group_membership(IdentityStoreId=store_id, MembershipId=m1))
    assert desc == {
        "IdentityStoreId": store_id,
        "MembershipId": m1,
        "MembershipArn": f"arn:aws:identitystore:::membership/{m1}",
        "GroupId": g1,
        "MemberId": {"UserId": user},
    }
    got = ids.get_group_membership_id(IdentityStoreId=store_id, GroupId=g2, MemberId={"UserId": user})
    assert got["MembershipId"] == m2
    assert ids.list_group_memberships(IdentityStoreId=store_id, GroupId=g1)["GroupMemberships"] == [desc]
    mine = ids.list_group_memberships_for_member(IdentityStoreId=store_id, MemberId={"UserId": user})
    assert sorted(m["GroupId"] for m in mine["GroupMemberships"]) == sorted([g1, g2])

    res = ids.is_member_in_groups(
        IdentityStoreId=store_id, MemberId={"UserId": user}, GroupIds=[g1, g3, g2, MISSING_ID]
    )
    assert [(r["GroupId"], r["MembershipExists"], r["MemberId"]) for r in res["Results"]] == [
        (g1, True, {"UserId": user}),
        (g3, False, {"UserId": user}),
        (g2, True, {"UserId": user}),
        (MISSING_ID, False, {"UserId": user}),
    ]
    err = error(
        lambda: ids.is_member_in_groups(
            IdentityStoreId=store_id, MemberId={"UserId": MISSING_ID}, GroupIds=[g1]
        )
    )
    assert (err["Code"], err["ResourceType"]) == ("ResourceNotFoundException", "USER")

    ids.delete_group_membership(IdentityStoreId=store_id, MembershipId=m1)
    err = error(lambda: ids.describe_group_membership(IdentityStoreId=store_id, MembershipId=m1))
    assert (err["Code"], err["ResourceType"]) == ("ResourceNotFoundException", "GROUP_MEMBERSHIP")
    err = error(lambda: ids.delete_group_membership(IdentityStoreId=store_id, MembershipId=m1))
    assert err["Code"] == "ResourceNotFoundException"
    err = error(
        lambda: ids.get_group_membership_id(IdentityStoreId=store_id, GroupId=g1, MemberId={"UserId": user})
    )
    assert (err["Code"], err["ResourceType"]) == ("ResourceNotFoundException", "GROUP_MEMBERSHIP")
    res = ids.is_member_in_groups(IdentityStoreId=store_id, MemberId={"UserId": user}, GroupIds=[g1])
    assert res["Results"][0]["MembershipExists"] is False
    # the id is derived from the pair: the same membership gets the same id again
    again = ids.create_group_membership(IdentityStoreId=store_id, GroupId=g1, MemberId={"UserId": user})
    assert again["MembershipId"] == m1

    # deleting a group removes its memberships; deleting a user removes the user from every group
    ids.delete_group(IdentityStoreId=store_id, GroupId=g2)
    mine = ids.list_group_memberships_for_member(IdentityStoreId=store_id, MemberId={"UserId": user})
    assert [m["GroupId"] for m in mine["GroupMemberships"]] == [g1]
    ids.delete_user(IdentityStoreId=store_id, UserId=user)
    assert ids.list_group_memberships(IdentityStoreId=store_id, GroupId=g1)["GroupMemberships"] == []
    err = error(
        lambda: ids.list_group_memberships_for_member(IdentityStoreId=store_id, MemberId={"UserId": user})
    )
    assert (err["Code"], err["ResourceType"]) == ("ResourceNotFoundException", "USER")


# -- identity store id --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("op", "kw"),
    [
        ("list_users", {}),
        ("describe_user", {"UserId": MISSING_ID}),
        ("create_user", {"UserName": "x", "DisplayName": "x", "Name": {"GivenName": "x", "FamilyName": "x"}}),
        ("delete_user", {"UserId": MISSING_ID}),
        ("create_group", {"DisplayName": "x"}),
        ("list_groups", {}),
        (
            "get_user_id",
            {
                "AlternateIdentifier": {
                    "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "alice"}
                }
            },
        ),
        ("list_group_memberships", {"GroupId": MISSING_ID}),
        ("is_member_in_groups", {"MemberId": {"UserId": MISSING_ID}, "GroupIds": [MISSING_ID]}),
        ("delete_group_membership", {"MembershipId": MISSING_ID}),
    ],
)
def test_unknown_identity_store(live: LiveServer, ids: Any, op: str, kw: dict[str, Any]) -> None:
    err = error(lambda: getattr(ids, op)(IdentityStoreId=OTHER_STORE, **kw))
    assert (err["Code"], err["ResourceType"], err["Status"]) == (
        "ResourceNotFoundException",
        "IDENTITY_STORE",
        400,
    )


def test_invalid_ids_are_validation_errors(live: LiveServer, store_id: str) -> None:
    raw = make_admin_client(live, "identitystore", config={"parameter_validation": False})
    err = error(lambda: raw.describe_user(IdentityStoreId=store_id, UserId="not-an-id"))
    assert (err["Code"], err["Status"]) == ("ValidationException", 400)
    err = error(lambda: raw.list_users(IdentityStoreId="nope"))
    assert err["Code"] == "ValidationException"
    err = error(lambda: raw.list_users(IdentityStoreId=store_id, NextToken="garbage"))
    assert err["Code"] == "ValidationException"


# -- pagination ---------------------------------------------------------------------------------------------------
def test_paginators_with_small_pages(ids: Any, store_id: str) -> None:
    prefix = uniq("page")
    users = {new_user(ids, store_id, f"{prefix}-{i}") for i in range(5)}
    groups = {new_group(ids, store_id, f"{prefix}-g{i}") for i in range(5)}
    for g in groups:
        for u in users:
            ids.create_group_membership(IdentityStoreId=store_id, GroupId=g, MemberId={"UserId": u})

    def collect(op: str, key: str, **kw: Any) -> list[dict[str, Any]]:
        pages = list(
            ids.get_paginator(op).paginate(IdentityStoreId=store_id, PaginationConfig={"PageSize": 2}, **kw)
        )
        assert all(len(p[key]) <= 2 for p in pages)
        return [x for p in pages for x in p[key]]

    all_users = [u["UserId"] for u in collect("list_users", "Users")]
    assert len(all_users) == len(set(all_users)) and users <= set(all_users)
    all_groups = [g["GroupId"] for g in collect("list_groups", "Groups")]
    assert len(all_groups) == len(set(all_groups)) and groups <= set(all_groups)
    g = next(iter(groups))
    members = collect("list_group_memberships", "GroupMemberships", GroupId=g)
    assert sorted(m["MemberId"]["UserId"] for m in members) == sorted(users)
    u = next(iter(users))
    mine = collect("list_group_memberships_for_member", "GroupMemberships", MemberId={"UserId": u})
    assert sorted(m["GroupId"] for m in mine) == sorted(groups)
    assert len({m["MembershipId"] for m in members}) == len(users)

    # the same answer page by page with MaxResults / NextToken by hand
    first = ids.list_users(IdentityStoreId=store_id, MaxResults=1)
    assert len(first["Users"]) == 1 and first["NextToken"]


def test_inserting_users_while_paginating_never_repeats_or_skips(ids: Any, store_id: str) -> None:
    prefix = uniq("ins")
    for i in range(6):
        new_user(ids, store_id, f"{prefix}-{i}")
    before = {
        u["UserId"]
        for p in ids.get_paginator("list_users").paginate(IdentityStoreId=store_id)
        for u in p["Users"]
    }
    seen: list[str] = []
    for i, pg in enumerate(
        ids.get_paginator("list_users").paginate(IdentityStoreId=store_id, PaginationConfig={"PageSize": 3})
    ):
        seen += [u["UserId"] for u in pg["Users"]]
        for j in range(2):
            new_user(ids, store_id, f"{prefix}-new-{i}-{j}")
    assert len(seen) == len(set(seen))
    # every user that existed when the listing started appears exactly once (deletions by other tests aside)
    still = {
        u["UserId"]
        for p in ids.get_paginator("list_users").paginate(IdentityStoreId=store_id)
        for u in p["Users"]
    }
    assert (before & still) <= set(seen)


# -- cascades -----------------------------------------------------------------------------------------------------
def test_delete_user_revokes_tokens_and_removes_memberships(
    live: LiveServer, ids: Any, store_id: str
) -> None:
    oidc = make_client(live)
    email = f"{uniq('tok')}@example.com"
    user = new_user(ids, store_id, Emails=[{"Value": email, "Primary": True}])
    team = ids.get_group_id(
        IdentityStoreId=store_id,
        AlternateIdentifier={"UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": "team"}},
    )["GroupId"]
    # "team" is assigned to "main": the new member can get tokens for it
    ids.create_group_membership(IdentityStoreId=store_id, GroupId=team, MemberId={"UserId": user})
    tokens = oidc.create_token_with_iam(
        clientId=live.apps["main"], grantType=JWT_BEARER, assertion=live.assertion(email)
    )
    refreshed = oidc.create_token_with_iam(
        clientId=live.apps["main"], grantType="refresh_token", refreshToken=tokens["refreshToken"]
    )
    assert f"user:{user}" not in revoked_subjects(live)

    ids.delete_user(IdentityStoreId=store_id, UserId=user)
    assert f"user:{user}" in revoked_subjects(live)
    with pytest.raises(ClientError) as info:
        oidc.create_token_with_iam(
            clientId=live.apps["main"], grantType="refresh_token", refreshToken=refreshed["refreshToken"]
        )
    assert info.value.response["Error"]["Code"] == "InvalidGrantException"
    members = ids.list_group_memberships(IdentityStoreId=store_id, GroupId=team)["GroupMemberships"]
    assert user not in [m["MemberId"]["UserId"] for m in members]
    assert all(user not in g.member_user_ids for g in live.configuration().groups)


def test_delete_configured_user_and_group_cascade_to_assignments(own_server: LiveServer) -> None:
    server = own_server
    ids = make_admin_client(server, "identitystore")
    oidc = make_client(server)
    store_id = server.configuration().instance.identity_store_id
    alice, bob = server.users["alice"], server.users["bob"]
    team = ids.get_group_id(
        IdentityStoreId=store_id,
        AlternateIdentifier={"UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": "team"}},
    )["GroupId"]
    before = server.configuration().assignments
    assert any(a.principal_id == alice for a in before) and any(a.principal_id == team for a in before)
    bob_tokens = oidc.create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion("bob@example.com")
    )

    ids.delete_user(IdentityStoreId=store_id, UserId=alice)
    after = server.configuration().assignments
    assert [a for a in after if a.principal_type == "USER" and a.principal_id == alice] == []
    assert [a for a in before if a.principal_id != alice] == list(after)
    assert f"user:{alice}" in revoked_subjects(server)

    ids.delete_group(IdentityStoreId=store_id, GroupId=team)
    final = server.configuration()
    assert [a for a in final.assignments if a.principal_id == team] == []
    assert all(g.group_id != team for g in final.groups)
    # members' tokens are not revoked, but bob lost his only path to "main": the next refresh fails
    assert f"user:{bob}" not in revoked_subjects(server)
    with pytest.raises(ClientError) as info:
        oidc.create_token_with_iam(
            clientId=server.apps["main"],
            grantType="refresh_token",
            refreshToken=bob_tokens["refreshToken"],
        )
    assert info.value.response["Error"]["Code"] == "InvalidGrantException"
    assert ids.describe_user(IdentityStoreId=store_id, UserId=bob)["UserName"] == "bob"

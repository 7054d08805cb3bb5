"""The instance-level operations of the newer models through boto3, on a server of their own (they change the
instance): the identity store (DescribeIdentityStore, ListIdentityStores, UpdateIdentityStore), the instance's
regions (AddRegion, DescribeRegion, ListRegions, RemoveRegion), its attribute-based access control
(Create/Describe/Update/DeleteInstanceAccessControlAttributeConfiguration), an application's session
configuration (Put/GetApplicationSessionConfiguration) and UpdateInstance's newer members. Every refusal is the
modelled error and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.clients import make_admin_client
from tests.helpers.config import ACCOUNT
from tests.helpers.servers import LiveServer, private_server

live = private_server("instance-settings")


@pytest.fixture(scope="module")
def sa(live: LiveServer) -> Any:
    return make_admin_client(live, "sso-admin")


@pytest.fixture(scope="module")
def ids(live: LiveServer) -> Any:
    return make_admin_client(live, "identitystore")


def error(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    resp = info.value.response
    return {**resp["Error"], "Status": resp["ResponseMetadata"]["HTTPStatusCode"]}


def body(resp: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


def test_the_identity_store_is_described_listed_and_updated(live: LiveServer, sa: Any, ids: Any) -> None:
    store = sa.describe_instance(InstanceArn=live.instance_arn)["IdentityStoreId"]
    arn = f"arn:aws:identitystore::{ACCOUNT}:identitystore/{store}"
    described = body(ids.describe_identity_store(IdentityStoreId=store))
    assert described == {
        "IdentityStoreId": store,
        "IdentityStoreArn": arn,
        "NetworkConfiguration": {"VpceAccessRequired": False},
    }
    assert body(ids.describe_identity_store(IdentityStoreId=arn)) == described
    listed = [s for p in ids.get_paginator("list_identity_stores").paginate() for s in p["IdentityStores"]]
    assert listed == [{"IdentityStoreId": store, "IdentityStoreArn": arn}]
    err = error(lambda: ids.describe_identity_store(IdentityStoreId="d-0123456789"))
    assert (err["Code"], err["Status"]) == ("ResourceNotFoundException", 400)

    network = {
        "VpceAccessRequired": False,
        "ApiAllowSourceIps": ["10.0.0.0/8"],
        "ScimAllowSourceIps": ["::1/128"],
    }
    updated = body(ids.update_identity_store(IdentityStoreId=store, NetworkConfiguration=network))
    assert updated == {"IdentityStoreId": store, "IdentityStoreArn": arn}
    assert ids.describe_identity_store(IdentityStoreId=store)["NetworkConfiguration"] == network
    # refused, and nothing changed: a VPC endpoint requirement or VPC restriction ssoidc cannot honour
    for bad, member in (
        ({"VpceAccessRequired": True}, "VpceAccessRequired"),
        (
            {"VpceAccessRequired": False, "ApiRestrictSourceVpcs": ["vpc-0123456789abcdef0"]},
            "ApiRestrictSourceVpcs",
        ),
    ):
        err = error(
            lambda bad=bad: ids.update_identity_store(  # type: ignore[misc]
                IdentityStoreId=store, NetworkConfiguration=bad
            )
        )
        assert err["Code"] == "ValidationException" and member in err["Message"], err
        assert ids.describe_identity_store(IdentityStoreId=store)["NetworkConfiguration"] == network
    # a full replacement: omitted lists are cleared
    ids.update_identity_store(IdentityStoreId=store, NetworkConfiguration={"VpceAccessRequired": False})
    assert ids.describe_identity_store(IdentityStoreId=store)["NetworkConfiguration"] == {
        "VpceAccessRequired": False
    }


def test_regions(live: LiveServer, sa: Any) -> None:
    arn = live.instance_arn
    created = sa.describe_instance(InstanceArn=arn)["CreatedDate"]
    primary = {"RegionName": "us-east-1", "Status": "ACTIVE", "AddedDate": created, "IsPrimaryRegion": True}
    assert sa.list_regions(InstanceArn=arn)["Regions"] == [primary]
    assert body(sa.describe_region(InstanceArn=arn, RegionName="us-east-1")) == primary

    assert sa.add_region(InstanceArn=arn, RegionName="eu-west-1")["Status"] == "ACTIVE"
    extra = body(sa.describe_region(InstanceArn=arn, RegionName="eu-west-1"))
    assert (extra["Status"], extra["IsPrimaryRegion"]) == ("ACTIVE", False)
    described = sa.describe_instance(InstanceArn=arn)
    assert described["PrimaryRegion"] == "us-east-1"
    assert described["Regions"] == [primary, extra]
    assert sa.list_instances()["Instances"][0]["Regions"] == [primary, extra]
    pages = list(sa.get_paginator("list_regions").paginate(InstanceArn=arn, PaginationConfig={"PageSize": 1}))
    assert [r for p in pages for r in p["Regions"]] == [extra, primary] and len(pages) == 2  # by name

    for region in ("eu-west-1", "us-east-1"):
        err = error(lambda region=region: sa.add_region(InstanceArn=arn, RegionName=region))  # type: ignore[misc]
        assert err["Code"] == "ConflictException", err
    err = error(lambda: sa.remove_region(InstanceArn=arn, RegionName="us-east-1"))
    assert err["Code"] == "ValidationException" and "RegionName" in err["Message"]
    err = error(
        lambda: sa.add_region(
            InstanceArn="arn:aws:sso:::instance/ssoins-0000000000000000", RegionName="eu-north-1"
        )
    )
    assert (
        err["Code"] == "ValidationException" and "InstanceArn" in err["Message"]
    )  # no ResourceNotFound modelled
    assert sa.list_regions(InstanceArn=arn)["Regions"] == [extra, primary]

    assert sa.remove_region(InstanceArn=arn, RegionName="eu-west-1")["Status"] == "REMOVING"
    err = error(lambda: sa.describe_region(InstanceArn=arn, RegionName="eu-west-1"))
    assert err["Code"] == "ResourceNotFoundException"
    err = error(lambda: sa.remove_region(InstanceArn=arn, RegionName="eu-west-1"))
    assert err["Code"] == "ResourceNotFoundException"
    assert sa.list_regions(InstanceArn=arn)["Regions"] == [primary]


ATTRIBUTES = {
    "AccessControlAttributes": [
        {"Key": "Department", "Value": {"Source": ["${path:enterprise.department}"]}},
        {"Key": "Given", "Value": {"Source": ["${path:name.givenName}"]}},
    ]
}


def test_access_control_attributes(live: LiveServer, sa: Any) -> None:
    arn = live.instance_arn

    def describe() -> dict[str, Any]:
        return body(sa.describe_instance_access_control_attribute_configuration(InstanceArn=arn))

    for call in (
        describe,
        lambda: sa.delete_instance_access_control_attribute_configuration(InstanceArn=arn),
    ):
        assert error(call)["Code"] == "ResourceNotFoundException"
    err = error(
        lambda: sa.update_instance_access_control_attribute_configuration(
            InstanceArn=arn, InstanceAccessControlAttributeConfiguration=ATTRIBUTES
        )
    )
    assert err["Code"] == "ResourceNotFoundException"
    duplicate = {"AccessControlAttributes": [ATTRIBUTES["AccessControlAttributes"][0]] * 2}
    err = error(
        lambda: sa.create_instance_access_control_attribute_configuration(
            InstanceArn=arn, InstanceAccessControlAttributeConfiguration=duplicate
        )
    )
    assert err["Code"] == "ValidationException"
    assert error(describe)["Code"] == "ResourceNotFoundException"  # nothing was created

    sa.create_instance_access_control_attribute_configuration(
        InstanceArn=arn, InstanceAccessControlAttributeConfiguration=ATTRIBUTES
    )
    assert describe() == {"Status": "ENABLED", "InstanceAccessControlAttributeConfiguration": ATTRIBUTES}
    err = error(
        lambda: sa.create_instance_access_control_attribute_configuration(
            InstanceArn=arn, InstanceAccessControlAttributeConfiguration={"AccessControlAttributes": []}
        )
    )
    assert err["Code"] == "ConflictException"
    assert describe()["InstanceAccessControlAttributeConfiguration"] == ATTRIBUTES
    only = {"AccessControlAttributes": [ATTRIBUTES["AccessControlAttributes"][1]]}
    sa.update_instance_access_control_attribute_configuration(
        InstanceArn=arn, InstanceAccessControlAttributeConfiguration=only
    )
    assert describe()["InstanceAccessControlAttributeConfiguration"] == only
    sa.delete_instance_access_control_attribute_configuration(InstanceArn=arn)
    assert error(describe)["Code"] == "ResourceNotFoundException"


def test_application_session_configuration(live: LiveServer, sa: Any) -> None:
    app = live.apps["main"]
    assert sa.get_application_session_configuration(ApplicationArn=app)[
        "UserBackgroundSessionApplicationStatus"
    ] == ("DISABLED")
    sa.put_application_session_configuration(
        ApplicationArn=app, UserBackgroundSessionApplicationStatus="ENABLED"
    )
    got = sa.get_application_session_configuration(ApplicationArn=app)
    assert got["UserBackgroundSessionApplicationStatus"] == "ENABLED"
    sa.put_application_session_configuration(ApplicationArn=app)  # the member is optional: nothing changes
    assert body(sa.get_application_session_configuration(ApplicationArn=app)) == body(got)
    missing = app[:-16] + "0" * 16
    for call in (
        lambda: sa.get_application_session_configuration(ApplicationArn=missing),
        lambda: sa.put_application_session_configuration(
            ApplicationArn=missing, UserBackgroundSessionApplicationStatus="ENABLED"
        ),
    ):
        assert error(call)["Code"] == "ResourceNotFoundException"
    sa.put_application_session_configuration(
        ApplicationArn=app, UserBackgroundSessionApplicationStatus="DISABLED"
    )
    assert sa.get_application_session_configuration(ApplicationArn=app)[
        "UserBackgroundSessionApplicationStatus"
    ] == ("DISABLED")


def test_update_instance_newer_members(live: LiveServer, sa: Any) -> None:
    arn = live.instance_arn
    before = body(sa.describe_instance(InstanceArn=arn))
    assert (before["PermissionSetsEnabled"], before["NetworkConfigurationDetails"]) == (
        True,
        {"VpceAccessRequired": False},
    )
    assert (
        before["IdentityStoreArn"]
        == f"arn:aws:identitystore::{ACCOUNT}:identitystore/{before['IdentityStoreId']}"
    )
    for kw, member in (
        ({"PermissionSetsEnabled": False}, "PermissionSetsEnabled"),
        ({"NetworkConfiguration": {"VpceAccessRequired": True}}, "VpceAccessRequired"),
        (
            {"PermissionSetsEnabled": True, "NetworkConfiguration": {"VpceAccessRequired": False}},
            "NetworkConfiguration",
        ),
    ):
        err = error(lambda kw=kw: sa.update_instance(InstanceArn=arn, Name="not-written", **kw))  # type: ignore[misc]
        assert err["Code"] == "ValidationException" and member in err["Message"], err
        assert body(sa.describe_instance(InstanceArn=arn)) == before
    sa.update_instance(InstanceArn=arn, PermissionSetsEnabled=True)
    sa.update_instance(InstanceArn=arn, Name="renamed", NetworkConfiguration={"VpceAccessRequired": False})
    assert body(sa.describe_instance(InstanceArn=arn)) == {**before, "Name": "renamed"}
    assert sa.list_instances(RegionScope="ALL_REGIONS")["Instances"] == sa.list_instances()["Instances"]

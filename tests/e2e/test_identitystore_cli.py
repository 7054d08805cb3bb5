"""The newest identitystore and sso-admin operations through both real AWS CLIs (subprocesses).

Neither CLI's bundled models have them: the venv's v1 (``awscli`` 1.46.3) vendors botocore 1.43.62 and Debian's
v2 (2.9.19) is older still, so both read the pinned botocore's models from ``AWS_DATA_PATH``
(``tests.helpers.cli.data_path``). Both then call DescribeIdentityStore, ListIdentityStores, UpdateIdentityStore,
UpdateUser with a stale ``--revision`` (ConflictException, nothing changed) and a current one, and sso-admin
AddRegion / ListRegions / RemoveRegion.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import V1_AWS, V2_AWS, AwsCli, data_path
from tests.helpers.config import ACCOUNT
from tests.helpers.servers import LiveServer, private_server

live = private_server("identitystore-cli")


@pytest.fixture(params=["v1", "v2"])
def aws(request: pytest.FixtureRequest, live: LiveServer, tmp_path: Path) -> Iterator[AwsCli]:
    exe = V1_AWS if request.param == "v1" else V2_AWS
    yield AwsCli(exe, live, data_path(tmp_path / "aws-data"))


def test_the_identity_store_operations(aws: AwsCli, live: LiveServer) -> None:
    store = live.configuration().instance.identity_store_id
    arn = f"arn:aws:identitystore::{ACCOUNT}:identitystore/{store}"
    assert aws.ok("identitystore", "list-identity-stores")["IdentityStores"] == [
        {"IdentityStoreId": store, "IdentityStoreArn": arn}
    ]
    network = {"VpceAccessRequired": False, "ApiAllowSourceIps": ["192.0.2.0/24"]}
    updated = aws.ok(
        "identitystore", "update-identity-store", "--identity-store-id", arn, "--network-configuration",
        json.dumps(network),
    )  # fmt: skip
    assert updated == {"IdentityStoreId": store, "IdentityStoreArn": arn}
    described = aws.ok("identitystore", "describe-identity-store", "--identity-store-id", store)
    assert described == {"IdentityStoreId": store, "IdentityStoreArn": arn, "NetworkConfiguration": network}
    aws.fails(
        "ValidationException", "identitystore", "update-identity-store", "--identity-store-id", store,
        "--network-configuration", json.dumps({"VpceAccessRequired": True}),
    )  # fmt: skip
    assert aws.ok("identitystore", "describe-identity-store", "--identity-store-id", store) == described


def test_update_user_with_a_stale_revision(aws: AwsCli, live: LiveServer) -> None:
    store = live.configuration().instance.identity_store_id
    name = f"cli-rev-{secrets.token_hex(4)}"  # one per CLI: v1 and v2 share the module server
    created = aws.ok(
        "identitystore", "create-user", "--identity-store-id", store, "--user-name", name,
        "--display-name", "Before", "--name", "GivenName=Cli,FamilyName=Rev",
    )  # fmt: skip
    user, first = created["UserId"], created["Revision"]
    ops = json.dumps([{"AttributePath": "displayName", "AttributeValue": "Second"}])
    second = aws.ok(
        "identitystore", "update-user", "--identity-store-id", store, "--user-id", user, "--operations", ops,
        "--revision", first,
    )["Revision"]  # fmt: skip
    lost = json.dumps([{"AttributePath": "displayName", "AttributeValue": "Lost"}])
    stderr = aws.fails(
        "ConflictException", "identitystore", "update-user", "--identity-store-id", store, "--user-id", user,
        "--operations", lost, "--revision", first,
    )  # fmt: skip
    assert "Lost" not in stderr
    described = aws.ok(
        "identitystore", "describe-user", "--identity-store-id", store, "--user-id", created["UserArn"]
    )
    assert (described["DisplayName"], described["Revision"]) == ("Second", second)
    aws.fails(
        "ConflictException", "identitystore", "delete-user", "--identity-store-id", store, "--user-id", user,
        "--revision", first,
    )  # fmt: skip
    aws.ok(
        "identitystore", "delete-user", "--identity-store-id", store, "--user-id", user, "--revision", second
    )
    aws.fails(
        "ResourceNotFoundException",
        "identitystore",
        "describe-user",
        "--identity-store-id",
        store,
        "--user-id",
        user,
    )


def test_regions(aws: AwsCli, live: LiveServer) -> None:
    arn = live.instance_arn
    region = "ap-southeast-2" if aws.exe == V1_AWS else "eu-central-1"
    assert aws.ok("sso-admin", "add-region", "--instance-arn", arn, "--region-name", region) == {
        "Status": "ACTIVE"
    }
    listed = aws.ok("sso-admin", "list-regions", "--instance-arn", arn)["Regions"]
    assert {(r["RegionName"], r["IsPrimaryRegion"]) for r in listed} >= {(region, False), ("us-east-1", True)}
    aws.fails("ConflictException", "sso-admin", "add-region", "--instance-arn", arn, "--region-name", region)
    removed = aws.ok("sso-admin", "remove-region", "--instance-arn", arn, "--region-name", region)
    assert removed == {"Status": "REMOVING"}
    aws.fails(
        "ResourceNotFoundException",
        "sso-admin",
        "describe-region",
        "--instance-arn",
        arn,
        "--region-name",
        region,
    )

"""The newest identitystore and sso-admin operations through both real AWS CLIs (subprocesses).

Neither CLI's bundled models have them: the venv's v1 (``awscli`` 1.46.3) vendors botocore 1.43.62 and Debian's
v2 (2.9.19) is older still, so both read the pinned botocore's models from ``AWS_DATA_PATH``
(``tests.helpers.cli.data_path``). Both then call DescribeIdentityStore, ListIdentityStores, UpdateIdentityStore,
UpdateUser with a stale ``--revision`` (ConflictException, nothing changed) and a current one, and sso-admin
AddRegion / ListRegions / RemoveRegion.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import V1_AWS, V2_AWS, data_path, proxy_env
from tests.helpers.config import ACCOUNT
from tests.helpers.servers import LiveServer, private_server

live = private_server("identitystore-cli")


class Aws:
    def __init__(self, exe: Path, server: LiveServer, models: Path) -> None:
        self.exe = exe
        self.server = server
        self.env = server.aws_env() | {
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
            "AWS_DATA_PATH": str(models),
            **proxy_env(),  # a CLI that ignored --endpoint-url would fail fast instead of reaching AWS
        }

    def run(self, service: str, op: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(self.exe), service, op, *args, "--endpoint-url", self.server.url, "--output", "json"]
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60)

    def ok(self, service: str, op: str, *args: str) -> dict[str, Any]:
        proc = self.run(service, op, *args)
        assert proc.returncode == 0, f"aws {service} {op} exited {proc.returncode}: {proc.stderr}"
        out: dict[str, Any] = json.loads(proc.stdout) if proc.stdout.strip() else {}
        return out

    def fails(self, code: str, service: str, op: str, *args: str) -> str:
        proc = self.run(service, op, *args)
        operation = "".join(part.capitalize() for part in op.split("-"))
        assert proc.returncode != 0 and proc.stdout == "", (op, proc.returncode, proc.stdout)
        assert f"An error occurred ({code}) when calling the {operation} operation" in proc.stderr, (
            proc.stderr
        )
        return proc.stderr


@pytest.fixture(params=["v1", "v2"])
def aws(request: pytest.FixtureRequest, live: LiveServer, tmp_path: Path) -> Iterator[Aws]:
    exe = V1_AWS if request.param == "v1" else V2_AWS
    if not exe.exists():
        pytest.fail(f"{exe} is missing: run make install")
    yield Aws(exe, live, data_path(tmp_path / "aws-data"))


def test_the_identity_store_operations(aws: Aws, live: LiveServer) -> None:
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


def test_update_user_with_a_stale_revision(aws: Aws, live: LiveServer) -> None:
    store = live.configuration().instance.identity_store_id
    name = f"cli-rev-{aws.exe.parent.name}-{aws.exe.name}"
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


def test_regions(aws: Aws, live: LiveServer) -> None:
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

"""Failover: two nodes on a PostgreSQL primary with a synchronous standby, the primary crashes, the standby is
promoted, and the nodes (on a multi-host URL with ``target_session_attrs=read-write``) carry on.

What docs/deployment.md promises, checked end to end: every token a client received before the crash still works
afterwards, nothing spent before it (a rotated refresh token, a used assertion ``jti``) becomes usable again, the
nodes report ready again on their own, and configuration changes reach every node. The two PostgreSQL servers are
this test's own (``initdb`` + ``pg_basebackup`` of the machine's PostgreSQL binaries, on free ports, in a temporary
directory, run as the ``postgres`` user when the test runs as root); the machine's shared server is not touched.
"""

from __future__ import annotations

import contextlib
import getpass
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.helpers.clients import make_admin_client, make_client
from tests.helpers.cluster import Cluster
from tests.helpers.config import JWT_BEARER
from tests.helpers.servers import LiveServer, free_port

SCHEMA = "ssoidc_failover"


@dataclass
class ReplicatedPostgres:
    """A primary and a synchronous standby (``synchronous_standby_names = 'standby1'``)."""

    bin: Path
    workdir: Path
    primary_port: int
    standby_port: int

    def run(self, *args: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_postgres, *args], check=True, capture_output=True, timeout=60)

    def sql(self, port: int, statement: str) -> str:
        out = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-Atc",
                statement,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return out.stdout.strip()

    def pg_ctl(self, data: str, *args: str) -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.workdir / data), *args)

    @property
    def url(self) -> str:
        """Both hosts; the driver picks the one that accepts writes."""
        hosts = f"127.0.0.1:{self.primary_port},127.0.0.1:{self.standby_port}"
        return f"postgresql://{getpass.getuser()}@{hosts}/test?target_session_attrs=read-write"

    def crash_primary_and_promote(self) -> None:
        """``kill -9``-like stop of the primary, then what an operator (or Patroni) does: promote the standby, and
        stop requiring a synchronous standby there until a new one is attached (else every commit would wait)."""
        self.pg_ctl("primary", "-m", "immediate", "stop")
        self.pg_ctl("standby", "-w", "promote")
        self.sql(self.standby_port, "ALTER SYSTEM SET synchronous_standby_names = ''")
        self.sql(self.standby_port, "SELECT pg_reload_conf()")


@pytest.fixture()
def replicated() -> Iterator[ReplicatedPostgres]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail(
            "PostgreSQL server binaries (initdb) are missing: the failover test needs them", pytrace=False
        )
    workdir = Path(tempfile.mkdtemp(prefix="ssoidc-failover-"))
    workdir.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
    pg = ReplicatedPostgres(Path(found[-1]).parent, workdir, free_port(), free_port())
    try:
        pg.run(str(pg.bin / "initdb"), "-D", str(workdir / "primary"), "-A", "trust", "-U", "postgres")
        with (workdir / "primary" / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {pg.primary_port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{workdir}'\n"
                "wal_level = replica\nmax_wal_senders = 4\nsynchronous_standby_names = 'standby1'\n"
                "synchronous_commit = on\nfsync = on\n"
            )
        with (workdir / "primary" / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        pg.pg_ctl("primary", "-l", str(workdir / "primary.log"), "-w", "start")
        pg.run(
            str(pg.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(pg.primary_port), "-U", "postgres",
            "-D", str(workdir / "standby"), "-R",
        )  # fmt: skip
        with (workdir / "standby" / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {pg.standby_port}\n")
        with (workdir / "standby" / "postgresql.auto.conf").open("a") as conf:
            conf.write(
                f"primary_conninfo = 'host=127.0.0.1 port={pg.primary_port} user=postgres"
                " application_name=standby1'\n"
            )
        pg.pg_ctl("standby", "-l", str(workdir / "standby.log"), "-w", "start")
        user = getpass.getuser()
        if user != "postgres":
            pg.sql(pg.primary_port, f'CREATE ROLE "{user}" SUPERUSER LOGIN')
        pg.sql(pg.primary_port, f'CREATE DATABASE test OWNER "{user}"')
        deadline = time.monotonic() + 30
        while pg.sql(pg.primary_port, "SELECT sync_state FROM pg_stat_replication") != "sync":
            assert time.monotonic() < deadline, "the standby never became synchronous"
            time.sleep(0.1)
        yield pg
    finally:
        for data in ("standby", "primary"):
            if (workdir / data / "postmaster.pid").exists():
                with contextlib.suppress(subprocess.CalledProcessError):
                    pg.pg_ctl(data, "-m", "immediate", "stop")
        shutil.rmtree(workdir, ignore_errors=True)


def grant(node: LiveServer, **params: str) -> dict[str, str]:
    resp = make_client(node).create_token_with_iam(clientId=node.apps["main"], **params)
    return {k: v for k, v in resp.items() if isinstance(v, str)}


def refused(node: LiveServer, **params: str) -> str:
    with pytest.raises(ClientError) as err:
        make_client(node).create_token_with_iam(clientId=node.apps["main"], **params)
    return str(err.value.response["Error"]["Code"])


def test_nodes_survive_a_primary_crash_without_losing_or_reviving_anything(
    replicated: ReplicatedPostgres, tmp_path: Path
) -> None:
    base = replicated.url
    cluster = Cluster(tmp_path, base, SCHEMA, f"{base}&search_path={SCHEMA}", n=2)
    try:
        cluster.start()
        a, b = cluster.nodes
        # Before the crash: two sessions; the first one's refresh token is rotated (spent), one assertion used.
        used_assertion = a.assertion()
        first = grant(a, grantType=JWT_BEARER, assertion=used_assertion)
        second = grant(b, grantType=JWT_BEARER, assertion=a.assertion())
        rotated = grant(b, grantType="refresh_token", refreshToken=first["refreshToken"])

        replicated.crash_primary_and_promote()

        for node in (a, b):  # each node finds the new primary by itself and says so
            deadline = time.monotonic() + 30
            while httpx.get(f"{node.url}/readyz", timeout=5).status_code != 200:
                assert time.monotonic() < deadline, f"{node.url} never became ready on the promoted standby"
                time.sleep(0.2)

        # Everything a client received before the crash still works, through either node ...
        assert grant(a, grantType="refresh_token", refreshToken=second["refreshToken"])["refreshToken"]
        assert grant(b, grantType="refresh_token", refreshToken=rotated["refreshToken"])["refreshToken"]
        # ... and nothing spent before the crash came back.
        assert refused(a, grantType=JWT_BEARER, assertion=used_assertion) == "InvalidGrantException"
        time.sleep(1.1)  # past the refresh grace window (1 s in the test nodes)
        assert (
            refused(b, grantType="refresh_token", refreshToken=first["refreshToken"])
            == "InvalidGrantException"
        )
        # New work and configuration changes go on, across nodes.
        assert grant(b, grantType=JWT_BEARER, assertion=a.assertion())["accessToken"]
        store_id = make_admin_client(a, "sso-admin").list_instances()["Instances"][0]["IdentityStoreId"]
        user_id = make_admin_client(a, "identitystore").create_user(
            IdentityStoreId=store_id,
            UserName="after-failover",
            DisplayName="After Failover",
            Name={"GivenName": "After", "FamilyName": "Failover"},
        )["UserId"]
        deadline = time.monotonic() + 10
        while True:
            try:
                make_admin_client(b, "identitystore").describe_user(IdentityStoreId=store_id, UserId=user_id)
                break
            except ClientError:
                assert time.monotonic() < deadline, "node b never served the user created through node a"
                time.sleep(0.1)
    finally:
        cluster.close()

"""Several ``ssoidc serve`` nodes on one PostgreSQL schema, as behind a load balancer (tests/multinode, and
``tests/storage/test_pgbouncer.py``).

* PostgreSQL comes from ``SSOIDC_TEST_PG_URL`` (``tests.helpers.pg``; default ``postgresql://127.0.0.1:5432/test``).
  ``start_cluster`` FAILS the calling test if the server cannot be reached; it never skips.
* Each cluster gets a fresh schema ``ssoidc_mn_<xdist worker>_<random>`` (selected with ``?search_path=``; the
  first node to start creates it, under the store's migration lock), dropped by ``Cluster.close``.
* Every node shares one random master key, the bootstrap admin of ``tests.helpers.config``, and one configuration file:
  the e2e configuration of ``tests.helpers.config``, whose demo trusted token issuer is node 0's ``/demo-issuer`` (every
  node serves the same demo-issuer key: it is stored once in the database). ``SSOIDC_PUBLIC_URL`` is node 0's URL
  on every node, as a load balancer's address would be, so every node signs idTokens with the same ``iss``.
* All nodes are launched at the same moment (``Popen`` back to back, then each is waited for), so their first-start
  work (migrations, signing keys, bootstrap credential, configuration) races for real.
* Each node runs in its own session: its process group id is the pid we started, and ``kill`` (SIGKILL to that
  group) takes down exactly that node, as a crashed machine would.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssoidc.base64url import b64u
from tests.helpers.config import ADMIN_KEY, ADMIN_SECRET, e2e_config
from tests.helpers.pg import drop_schema, new_schema, pg_base_url, pg_run, require_postgres, with_query
from tests.helpers.servers import LiveServer, free_port, spawn_server, wait_healthy


@dataclass
class Cluster:
    """``n`` nodes on one schema. ``nodes[i]`` is a ``LiveServer`` (assertions, codes, counts) of node ``i``."""

    tmp: Path
    base_url: str
    schema: str
    database_url: str
    n: int = 3
    workers: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    master: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    ports: list[int] = field(default_factory=list)
    nodes: list[LiveServer] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.tmp / "config.yaml"

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def start(self, timeout: float = 45.0) -> None:
        while len(set(self.ports)) < self.n:
            self.ports = [free_port() for _ in range(self.n)]
        self.config_path.write_text(yaml.safe_dump(e2e_config(self.url(0))))
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SSOIDC_")},
            "SSOIDC_MASTER_KEY": b64u(self.master),
            "SSOIDC_BOOTSTRAP_ACCESS_KEY_ID": ADMIN_KEY,
            "SSOIDC_BOOTSTRAP_SECRET_ACCESS_KEY": ADMIN_SECRET,
            "SSOIDC_REFRESH_GRACE_SECONDS": "1",
            "SSOIDC_PUBLIC_URL": self.url(0),
            "SSOIDC_DATABASE_URL": self.database_url,
            **self.extra_env,
        }
        procs = [self._spawn(i) for i in range(self.n)]  # at the same moment: their first starts race
        try:
            for i, proc in enumerate(procs):
                self._wait_ready(i, proc, timeout)
        except BaseException:
            for proc in procs:
                _killpg(proc, signal.SIGKILL)
            for proc in procs:
                proc.wait(10)
            raise
        first = LiveServer(
            self.url(0),
            self.ports[0],
            self.tmp / "node0" / "data",
            self.master,
            self.env,
            procs[0],
            database_url=self.database_url,
            issuer_base_url=self.url(0),
        )
        first.load()
        self.nodes = [first]
        for i in range(1, self.n):
            node = LiveServer(
                self.url(i),
                self.ports[i],
                self.tmp / f"node{i}" / "data",
                self.master,
                self.env,
                procs[i],
                apps=first.apps,
                users=first.users,
                instance_arn=first.instance_arn,
                _signer=first._signer,
                database_url=self.database_url,
                issuer_base_url=self.url(0),
            )
            self.nodes.append(node)

    def _spawn(self, i: int) -> subprocess.Popen[bytes]:
        data_dir = self.tmp / f"node{i}" / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        return spawn_server(
            port=self.ports[i],
            data_dir=data_dir,
            config_path=self.config_path,
            env=self.env,
            log_path=self._log_path(i),
            workers=self.workers,
            database_url=self.database_url,
            new_session=True,  # its own process group: kill() signals this node and nothing else
        )

    def _wait_ready(self, i: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
        wait_healthy(proc, self.url(i), self._log_path(i), timeout=timeout, name=f"node {i}")

    def _log_path(self, i: int) -> Path:
        return self.tmp / f"node{i}.log"

    def log(self, i: int) -> str:
        path = self._log_path(i)
        return path.read_text(errors="replace") if path.exists() else ""

    def kill(self, i: int) -> None:
        """``kill -9`` node ``i`` (its whole process group: the serve process and any uvicorn workers)."""
        proc = self.nodes[i].proc
        _killpg(proc, signal.SIGKILL)
        proc.wait(10)

    def restart(self, i: int, timeout: float = 45.0) -> None:
        """Start node ``i`` again on the same port, with the same data dir, configuration and environment."""
        proc = self._spawn(i)
        try:
            self._wait_ready(i, proc, timeout)
        except BaseException:
            _killpg(proc, signal.SIGKILL)
            proc.wait(10)
            raise
        self.nodes[i].proc = proc

    def fetchval(self, sql: str, *args: Any) -> Any:
        return self.run(lambda conn: conn.fetchval(sql, *args))

    def fetch(self, sql: str, *args: Any) -> list[Any]:
        return list(self.run(lambda conn: conn.fetch(sql, *args)))

    def run(self, op: Any) -> Any:
        """``await op(connection)`` on a fresh connection to this cluster's schema."""
        return pg_run(self.database_url, op)

    def close(self) -> None:
        for node in self.nodes:
            _killpg(node.proc, signal.SIGTERM)
        for node in self.nodes:
            try:
                node.proc.wait(10)
            except subprocess.TimeoutExpired:
                _killpg(node.proc, signal.SIGKILL)
                node.proc.wait(5)
            _killpg(node.proc, signal.SIGKILL)  # stragglers of that node's own group only
        drop_schema(self.base_url, self.schema)


def _killpg(proc: subprocess.Popen[bytes], sig: int) -> None:
    # start_new_session=True: the node's process group id is the pid of the child we started.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def start_cluster(
    tmp: Path,
    *,
    n: int = 3,
    workers: int = 1,
    pool_max_size: int = 5,
    extra_env: dict[str, str] | None = None,
) -> Cluster:
    """A fresh schema and ``n`` nodes on it, started at the same moment. ``Cluster.close`` drops the schema."""
    base = pg_base_url()
    require_postgres(base, "The multi-node tests")
    schema = new_schema("ssoidc_mn")
    url = with_query(base, search_path=schema, pool_min_size="1", pool_max_size=str(pool_max_size))
    cluster = Cluster(tmp, base, schema, url, n=n, workers=workers, extra_env=dict(extra_env or {}))
    try:
        cluster.start()
    except BaseException:
        cluster.close()
        raise
    return cluster


def cluster_fixture(name: str, **kw: Any) -> Any:
    """A module-scoped fixture: ``cluster = cluster_fixture("multinode")`` starts ``start_cluster(tmp, **kw)``
    in a fresh temporary directory named after ``name`` and closes it after the module."""

    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
        c = start_cluster(tmp_path_factory.mktemp(name), **kw)
        yield c
        c.close()

    return fixture

"""Liveness (``/healthz``) and readiness (``/readyz``), on SQLite and on PostgreSQL reached through a TCP proxy that
the test cuts and restores: a node whose database is gone reports 503 on ``/readyz`` (so a load balancer takes it
out), stays live on ``/healthz`` (so nothing restarts it), answers token requests with AWS's 500
InternalServerException, and is ready again, serving tokens, once the database is back.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.helpers.clients import make_admin_client, make_client
from tests.helpers.config import JWT_BEARER
from tests.helpers.pg import drop_schema, new_schema, pg_base_url, require_postgres, with_query
from tests.helpers.servers import LiveServer, running_server


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; ``cut`` closes the listener and every open connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.open()

    def open(self) -> None:
        lst = socket.socket()
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(("127.0.0.1", self.port))
        lst.listen(64)
        self.port = lst.getsockname()[1]
        self._listener = lst
        threading.Thread(target=self._accept, args=(lst,), daemon=True).start()

    def _accept(self, lst: socket.socket) -> None:
        while True:
            try:
                client, _ = lst.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        assert self._listener is not None
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
        self._listener.close()
        self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        if self._listener is not None:
            self.cut()


def poll(url: str, want: int, timeout: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        resp = httpx.get(url, timeout=5)
        if resp.status_code == want or time.monotonic() > deadline:
            return resp
        time.sleep(0.2)


def test_sqlite_node_is_live_and_ready(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    resp = httpx.get(f"{server.url}/readyz")
    assert (resp.status_code, resp.json()) == (200, {"status": "ready", "store": "sqlite"})
    assert resp.headers["cache-control"] == "no-store"
    # A load balancer's probe: curl --fail exits 0 on 200.
    assert subprocess.run(["curl", "-fsS", f"{server.url}/readyz"], capture_output=True).returncode == 0


@pytest.fixture()
def proxied(tmp_path: Path) -> Iterator[tuple[LiveServer, TcpProxy]]:
    base = pg_base_url()
    require_postgres(base, "The readiness test")
    parts = urllib.parse.urlsplit(base)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    schema = new_schema("ssoidc_ready")
    url = with_query(
        urllib.parse.urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.port}")), search_path=schema
    )
    if parts.username:
        url = url.replace("//127.0.0.1", f"//{parts.username}@127.0.0.1", 1)
    try:
        with running_server(tmp_path, database_url=url) as server:
            yield server, proxy
    finally:
        proxy.close()
        drop_schema(base, schema)


def test_postgres_node_not_ready_while_the_database_is_away(proxied: tuple[LiveServer, TcpProxy]) -> None:
    server, proxy = proxied
    oidc = make_client(server)
    ready = httpx.get(f"{server.url}/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "store": "postgresql"})
    oidc.create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
    )

    proxy.cut()
    down = poll(f"{server.url}/readyz", 503)
    assert down.status_code == 503
    assert down.json() == {
        "status": "unavailable",
        "store": "postgresql",
        "reason": "the store does not answer",
    }
    assert str(proxy.port) not in down.text  # the store's address is not disclosed
    assert subprocess.run(["curl", "-fsS", f"{server.url}/readyz"], capture_output=True).returncode == 22
    assert httpx.get(f"{server.url}/healthz").status_code == 200  # live: nothing should restart it
    with pytest.raises(ClientError) as err:
        oidc.create_token_with_iam(
            clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
        )
    assert err.value.response["Error"]["Code"] == "InternalServerException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    with pytest.raises(ClientError) as admin_err:
        make_admin_client(server, "sso-admin").list_instances()
    assert admin_err.value.response["Error"]["Code"] == "InternalServerException"
    assert admin_err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    cli = subprocess.run(
        ["aws", "sso-admin", "list-instances", "--endpoint-url", server.url, "--cli-read-timeout", "10"],
        env={**server.aws_env(), "AWS_MAX_ATTEMPTS": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode != 0 and "InternalServerException" in cli.stderr, cli.stderr

    proxy.open()
    back = poll(f"{server.url}/readyz", 200)
    assert back.status_code == 200
    resp = oidc.create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
    )
    assert resp["accessToken"].startswith("aoa")
    log = (server.data_dir.parent / "server.log").read_text(errors="replace")
    assert "does not answer" in log and "answers again" in log

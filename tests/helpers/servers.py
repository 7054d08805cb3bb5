"""Live ``ssoidc serve`` subprocesses on loopback with the e2e configuration (``tests.helpers.config``), and
fixture factories for a module's own server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
import pytest
import yaml

from ssoidc.base64url import b64u
from ssoidc.model import ConfigSnapshot, Configuration
from ssoidc.oauth.authorize import CodeIssuer
from ssoidc.oauth.keys import Signer
from ssoidc.oauth.pkce import s256
from ssoidc.storage.base import SigningKey, Store
from ssoidc.storage.postgres import PostgresStore
from ssoidc.storage.sqlite import SqliteStore
from tests.helpers.config import ADMIN_KEY, ADMIN_SECRET, AUDIENCE, REDIRECT_URI, ROOT, e2e_config
from tests.helpers.pg import pg_fetchval

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    port: int
    data_dir: Path
    master_key: bytes
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    apps: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    instance_arn: str = ""
    _signer: Signer | None = None
    database_url: str = ""
    """The PostgreSQL URL this server stores into ("" = SQLite in ``data_dir``)."""
    issuer_base_url: str = ""
    """Base URL of the demo issuer named in the configuration ("" = this server's own ``url``)."""

    @property
    def issuer_url(self) -> str:
        return f"{self.issuer_base_url or self.url}/demo-issuer"

    def store(self) -> Store:
        if self.database_url:
            return PostgresStore(self.database_url, master_key=self.master_key)
        return SqliteStore(self.data_dir / "ssoidc.db", master_key=self.master_key)

    def with_store(self, op: Callable[[Store], Awaitable[T]]) -> T:
        """``await op(store)`` on a fresh connection to this server's store, closed afterwards."""

        async def go() -> T:
            st = self.store()
            try:
                return await op(st)
            finally:
                await st.close()

        return asyncio.run(go())

    def configuration(self) -> Configuration:
        """The configuration the server has stored now."""
        config, _ = self.with_store(lambda st: st.load_configuration())
        assert config is not None
        return config

    def load(self) -> None:
        async def go(st: Store) -> tuple[Configuration | None, list[SigningKey]]:
            config, _ = await st.load_configuration()
            return config, [k for k in await st.signing_keys("demo-issuer") if k.active]

        config, keys = self.with_store(go)
        assert config is not None
        self.apps = {a.name: a.arn for a in config.applications}
        self.users = {u.user_name: u.user_id for u in config.users}
        self.instance_arn = config.instance.instance_arn
        self._signer = Signer(keys[0])

    def assertion(self, email: str | list[str] | None = "alice@example.com", **overrides: Any) -> str:
        """A valid assertion from the demo issuer for ``email`` (its ``sub`` and ``email`` claims; the negative
        tests send a null or a non-string one); ``overrides`` replace claims (None deletes one)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer_url,
            "sub": email,
            "aud": AUDIENCE,
            "email": email,
            "email_verified": True,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(16),
        }
        for k, v in overrides.items():
            if v is None:
                claims.pop(k, None)
            else:
                claims[k] = v
        assert self._signer is not None
        return self._signer.sign(claims)

    def mint_code(
        self,
        app: str = "web",
        user: str = "alice",
        *,
        redirect_uri: str = REDIRECT_URI,
        verifier: str | None = None,
        method: str = "S256",
        scopes: list[str] | None = None,
        issued_ago: float = 0.0,
        nonce: str | None = None,
    ) -> str:
        """Mint an authorization code through the domain service (as the sign-in flow will); ``app`` is an
        application of the e2e configuration by name, or an application ARN."""
        challenge = None if verifier is None else (s256(verifier) if method == "S256" else verifier)

        async def go(st: Store) -> str:
            config, version = await st.load_configuration()
            assert config is not None
            issuer = CodeIssuer(
                store=st,
                code_ttl=300,
                session_ttl=8 * 3600,
                default_scopes=("openid", "aws", "sts:identity_context"),
            )
            return await issuer.issue_code(
                ConfigSnapshot(config, version),
                application_arn=self.apps.get(app, app),
                user_id=self.users[user],
                redirect_uri=redirect_uri,
                scopes=scopes,
                code_challenge=challenge,
                code_challenge_method=None if verifier is None else method,
                now=time.time() - issued_ago,
                nonce=nonce,
            )

        return self.with_store(go)

    def count(self, table: str) -> int:
        if self.database_url:
            return int(pg_fetchval(self.database_url, f"SELECT COUNT(*) FROM {table}"))
        db = sqlite3.connect(f"file:{self.data_dir / 'ssoidc.db'}?mode=ro", uri=True)
        try:
            return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        finally:
            db.close()

    def aws_env(self) -> dict[str, str]:
        """Environment for a real AWS client: our endpoint and the bootstrap admin credential."""
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "AWS_ACCESS_KEY_ID": ADMIN_KEY,
            "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_SSO_OIDC": self.url,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def spawn_server(
    *,
    port: int,
    data_dir: Path,
    config_path: Path | None,
    env: dict[str, str],
    log_path: Path,
    workers: int = 1,
    database_url: str = "",
    new_session: bool = False,
    demo: bool = True,
) -> subprocess.Popen[bytes]:
    """``python -m ssoidc serve [--demo] [--config FILE]`` in the background, its output appended to
    ``log_path``; ``new_session``: in its own process group (whose id is the child's pid)."""
    with open(log_path, "ab") as log:  # the child holds its own copy open
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ssoidc",
                "serve",
                *(["--demo"] if demo else []),
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                *(["--config", str(config_path)] if config_path is not None else []),
                "--workers",
                str(workers),
                *(["--database-url", database_url] if database_url else []),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=new_session,
        )


def wait_healthy(
    proc: subprocess.Popen[bytes], url: str, log_path: Path, *, timeout: float = 30.0, name: str = "server"
) -> None:
    """Poll ``url``/healthz until it answers 200; raise (with the tail of its log) if ``proc`` exits first or
    ``timeout`` seconds pass. The caller decides what to do with a process that never became healthy."""

    def log_tail() -> str:
        return log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {log_tail()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not start within {timeout}s: {log_tail()}")


def start_server(
    tmp: Path, *, workers: int = 1, extra_env: dict[str, str] | None = None, database_url: str = ""
) -> LiveServer:
    """``ssoidc serve`` on a free port with the e2e configuration; ``database_url``: store in PostgreSQL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = tmp / "config.yaml"
    config_path.write_text(yaml.safe_dump(e2e_config(url)))
    master = secrets.token_bytes(32)
    env = {
        **os.environ,
        "SSOIDC_MASTER_KEY": b64u(master),
        "SSOIDC_BOOTSTRAP_ACCESS_KEY_ID": ADMIN_KEY,
        "SSOIDC_BOOTSTRAP_SECRET_ACCESS_KEY": ADMIN_SECRET,
        "SSOIDC_REFRESH_GRACE_SECONDS": "1",
        **(extra_env or {}),
    }
    log_path = tmp / "server.log"  # test_negative reads it: no secret may reach the log
    proc = spawn_server(
        port=port,
        data_dir=data_dir,
        config_path=config_path,
        env=env,
        log_path=log_path,
        workers=workers,
        database_url=database_url,
    )
    try:
        wait_healthy(proc, url, log_path)
        server = LiveServer(url, port, data_dir, master, env, proc, database_url=database_url)
        server.load()
    except BaseException:  # never leave a server running that no test will stop
        proc.kill()
        proc.wait(10)
        raise
    return server


@contextlib.contextmanager
def running_server(tmp: Path, **kw: Any) -> Iterator[LiveServer]:
    """``start_server(tmp, **kw)``, stopped on leaving the block."""
    server = start_server(tmp, **kw)
    try:
        yield server
    finally:
        server.stop()


def both_stores(request: pytest.FixtureRequest) -> LiveServer:
    """Body of a module-level ``server`` fixture parameterized over ``["sqlite", "postgres"]``."""
    server: LiveServer = request.getfixturevalue(f"{request.param}_server")
    return server


def private_server(name: str, *, scope: Literal["function", "module"] = "module") -> Any:
    """A fixture for a module's own live server: ``live = private_server("walkthrough")``. Started in a fresh
    temporary directory named after ``name`` and stopped at the end of ``scope``, for tests that change what the
    shared server's other users rely on."""

    @pytest.fixture(scope=scope)
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
        with running_server(tmp_path_factory.mktemp(name)) as s:
            yield s

    return fixture


def create_credential(server: LiveServer, principal_arn: str, *extra: str) -> tuple[str, str]:
    """Register a credential through the CLI (as an operator would) and return (key id, secret)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ssoidc",
            "credentials",
            "create",
            "--data-dir",
            str(server.data_dir),
            "--principal-arn",
            principal_arn,
            *extra,
        ],
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    doc = json.loads(out.stdout)
    return doc["AccessKeyId"], doc["SecretAccessKey"]

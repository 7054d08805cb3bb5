"""Shared pieces of the load benchmark (``bench/run.py``) and the profile (``bench/profile.py``).

* the benchmark configuration (one demo trusted token issuer, one application with the JWT-bearer and
  refresh_token grants, an ActorPolicy allowing the account, one user) with every identifier pinned, so the
  client id stays the same however often the configuration is re-applied (``serve --demo`` applies the demo data
  and then the file at every process start, in every worker);
* starting and stopping servers (uvicorn through ``ssoidc serve``, or granian) in their own session, so the
  process group id is the pid we started and only that group is ever signalled;
* seeding refresh tokens straight into a data dir before its server starts (``seed_refresh_tokens``:
  ``TokenIssuer.build`` with the node's minter and a stub idToken signer, and ``SqliteStore.issue``, in this
  process);
* serving another git revision's ``ssoidc/`` (``export_revision``, ``Server(src=...)``) for history rows;
* PostgreSQL: a server (``Server(database_url=...)``, several of them on one schema for the multi-node rows) and
  the CPU of the PostgreSQL server's processes (``postgres_cpu_s``); the schema URL and the server's counters are
  in ``bench/pgstats.py``;
* pre-signing CreateTokenWithIAM requests, SigV4-signed with botocore's ``SigV4Auth`` exactly as an AWS SDK would
  and rendered as raw HTTP/1.1 bytes: JWT bearer (a fresh RS256 assertion with a unique ``jti`` per request) or
  refresh_token (one seeded refresh token per request);
* CPU accounting from ``/proc``.

Everything binds and connects to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type name
GRANTS = {"jwt-bearer": JWT_BEARER, "refresh": REFRESH_TOKEN}  # short names used by the scripts
ACCOUNT = "123456789012"
REGION = "us-east-1"
SIGNING_NAME = "sso-oauth"
ADMIN_KEY = "AKIASSOIDCBENCHADMIN"
ADMIN_SECRET = "bench/admin/secret/0123456789abcdefghijklmn"  # noqa: S105 - a fixed benchmark credential
MASTER_KEY_B64U = "YmVuY2gtbWFzdGVyLWtleS0wMTIzNDU2Nzg5YWJjZGU"  # 32 bytes, benchmark only
AUDIENCE = "bench-audience"
USER_EMAIL = "bench@example.com"
# Pinned identifiers (patterns from ssoidc/config/schema.py).
INST_ID = "ssoins-bench00000000000"
INSTANCE_ARN = f"arn:aws:sso:::instance/{INST_ID}"
APP_ARN = f"arn:aws:sso::{ACCOUNT}:application/{INST_ID}/apl-bench00000000000"
TTI_ARN = f"arn:aws:sso::{ACCOUNT}:trustedTokenIssuer/{INST_ID}/tti-00000000-0000-4000-8000-000000000001"
USER_ID = "0000000001-00000000-0000-4000-8000-000000000001"
CLK = os.sysconf("SC_CLK_TCK")
DEFAULT_PG_URL = "postgresql://127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def user_email(i: int) -> str:
    """The e-mail of bench user ``i`` (0 is the one user of the default configuration)."""
    return USER_EMAIL if i == 0 else f"bench{i}@example.com"


def user_id(i: int) -> str:
    return USER_ID if i == 0 else f"0000000002-00000000-0000-4000-8000-{i:012d}"


def bench_config(base_url: str, users: int = 1) -> dict[str, Any]:
    """Minimal configuration: the demo issuer (served by ``--demo``) trusted by one application; ``users`` users
    (``--users``: JWT-bearer assertions go round them, so that each holds fewer sessions than the family cap)."""
    return {
        "Instance": {"Name": "bench", "InstanceArn": INSTANCE_ARN, "IdentityStoreId": "d-00000000b0"},
        "TrustedTokenIssuers": [
            {
                "Name": "bench-issuer",
                "TrustedTokenIssuerArn": TTI_ARN,
                "TrustedTokenIssuerConfiguration": {
                    "OidcJwtConfiguration": {
                        "IssuerUrl": f"{base_url}/demo-issuer",
                        "ClaimAttributePath": "email",
                        "IdentityStoreAttributePath": "emails.value",
                    }
                },
            }
        ],
        "Applications": [
            {
                "Name": "bench-app",
                "ApplicationArn": APP_ARN,
                "Grants": {
                    JWT_BEARER: {
                        "JwtBearer": {
                            "AuthorizedTokenIssuers": [
                                {"TrustedTokenIssuerArn": "bench-issuer", "AuthorizedAudiences": [AUDIENCE]}
                            ]
                        }
                    },
                    "refresh_token": {"RefreshToken": {}},
                },
                "AuthenticationMethods": {
                    "IAM": {
                        "Iam": {
                            "ActorPolicy": {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Principal": {"AWS": ACCOUNT},
                                        "Action": "sso-oauth:CreateTokenWithIAM",
                                        "Resource": "*",
                                    }
                                ],
                            }
                        }
                    }
                },
                "AssignmentRequired": False,
            }
        ],
        "Users": [
            {
                "UserName": "bench" if i == 0 else f"bench{i}",
                "UserId": user_id(i),
                "Emails": [{"Value": user_email(i)}],
            }
            for i in range(users)
        ],
    }


def base_env(synchronous: str = "NORMAL") -> dict[str, str]:
    return {
        "SSOIDC_MASTER_KEY": MASTER_KEY_B64U,
        "SSOIDC_BOOTSTRAP_ACCESS_KEY_ID": ADMIN_KEY,
        "SSOIDC_BOOTSTRAP_SECRET_ACCESS_KEY": ADMIN_SECRET,
        "SSOIDC_SQLITE_SYNCHRONOUS": synchronous,
    }


def master_key() -> bytes:
    from ssoidc.base64url import b64u_decode

    return b64u_decode(MASTER_KEY_B64U)


# ---------------------------------------------------------------------------------------------------- servers
@dataclass
class Server:
    kind: str  # "uvicorn" | "granian"
    port: int
    workdir: Path
    workers: int
    synchronous: str
    src: Path | None = None
    """A directory holding another revision's ``ssoidc/`` package to serve instead of this tree's (uvicorn only)."""
    database_url: str = ""
    """Store in PostgreSQL at this URL (``ssoidc serve --database-url``); "" = SQLite in ``data_dir``."""
    users: int = 1
    """Users in the configuration file (``bench_config``)."""
    extra_env: tuple[tuple[str, str], ...] = ()
    """``SSOIDC_*`` settings of this server only (``bench/run.py --ab-set``)."""
    config_base_url: str = ""
    """Base URL of the demo issuer in the configuration file ("" = this server's own URL). Nodes sharing one
    database must apply the same file, or each start would change the configuration."""
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=Path)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def config_path(self) -> Path:
        return self.workdir / "config.yaml"

    @property
    def pgid(self) -> int:
        assert self.proc is not None
        return self.proc.pid  # start_new_session=True: the group id is the pid of the child we started

    def settings(self) -> Any:
        from ssoidc.settings import Settings

        return Settings(
            data_dir=self.data_dir,
            host="127.0.0.1",
            port=self.port,
            workers=self.workers,
            demo=True,
            allow_insecure_issuers=True,
            config_file=self.config_path,
            sqlite_synchronous=self.synchronous,
            database_url=self.database_url,
        ).validate()

    def env(self) -> dict[str, str]:
        from ssoidc.settings import export_env

        env = {k: v for k, v in os.environ.items() if not k.startswith(("SSOIDC_", "AWS_", "GRANIAN_"))}
        env.update(base_env(self.synchronous))
        # SSOIDC_BENCH_SET_<NAME>=v in the benchmark's environment sets SSOIDC_<NAME>=v for every server it starts
        # (old revisions too), e.g. SSOIDC_BENCH_SET_MAX_REFRESH_FAMILIES=0 for an A/B without the family cap
        prefix = "SSOIDC_BENCH_SET_"
        if self.kind == "granian":  # every setting's value, so the overrides below must come after it
            env.update(export_env(self.settings()))
        env.update({"SSOIDC_" + k[len(prefix) :]: v for k, v in os.environ.items() if k.startswith(prefix)})
        env.update(self.extra_env)
        if self.src is not None:
            env["PYTHONPATH"] = str(self.src)
        return env

    def prepare(self) -> None:
        """Data dir and configuration file (``start`` does this too; call it first to seed the store)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            yaml.safe_dump(bench_config(self.config_base_url or self.url, self.users))
        )

    def start(self, timeout: float = 60.0) -> None:
        self.prepare()
        self.log_path = self.workdir / f"{self.kind}.log"
        env = self.env()
        if self.kind == "uvicorn":
            cmd = [
                sys.executable, "-m", "ssoidc", "serve", "--demo", "--host", "127.0.0.1", "--port", str(self.port),
                "--data-dir", str(self.data_dir), "--config", str(self.config_path),
                "--workers", str(self.workers),
            ]  # fmt: skip
            if self.database_url:
                cmd += ["--database-url", self.database_url]
        elif self.kind == "granian":
            if self.src is not None or self.database_url:
                raise ValueError("another revision's source and PostgreSQL are only supported with uvicorn")
            # First-start work (migrations, keys, bootstrap credential, configuration) once, before the workers.
            subprocess.run(
                [sys.executable, "-c", _BOOTSTRAP], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                timeout=120,
            )  # fmt: skip
            cmd = [
                str(VENV_BIN / "granian"), "--interface", "asgi", "--factory", "--workers", str(self.workers),
                "--loop", "uvloop", "--http", "1", "--no-ws", "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "warning", "ssoidc.web.app:app_from_env",
            ]  # fmt: skip
        else:
            raise ValueError(self.kind)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                env=env,
                cwd=self.src or ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.kind} not ready after {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def worker_pids(self) -> list[int]:
        return [pid for pid, _ in group_processes(self.pgid)]

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pgid, signal.SIGKILL)
                self.proc.wait(5)
        with contextlib.suppress(ProcessLookupError):  # stragglers of our own group only
            os.killpg(self.pgid, signal.SIGKILL)


_BOOTSTRAP = """
import asyncio
from ssoidc.bootstrap import bootstrap
from ssoidc.clock import SystemClock
from ssoidc.compose import open_store
from ssoidc.settings import settings_from_env

async def main():
    settings = settings_from_env()
    store, _ = open_store(settings)
    try:
        await bootstrap(store, settings, SystemClock())
    finally:
        await store.close()

asyncio.run(main())
"""


# ---------------------------------------------------------------------------------------------------- /proc
def proc_stats() -> Iterator[tuple[int, list[str]]]:
    """(pid, the fields of ``/proc/<pid>/stat`` after the command name) of every live process: ``[1]`` is the
    parent pid, ``[2]`` the process group, ``[11]`` and ``[12]`` user and system CPU ticks."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                st = f.read()
        except OSError:
            continue
        yield int(name), st[st.rindex(")") + 2 :].split()


def group_processes(pgid: int, *, system_only: bool = False) -> list[tuple[int, float]]:
    """(pid, utime+stime seconds, or stime only) of every live process in process group ``pgid``."""
    out = []
    for pid, fields in proc_stats():
        if int(fields[2]) == pgid:
            ticks = int(fields[12]) if system_only else int(fields[11]) + int(fields[12])
            out.append((pid, ticks / CLK))
    return out


def group_cpu_s(pgid: int, *, system_only: bool = False) -> float:
    return sum(cpu for _, cpu in group_processes(pgid, system_only=system_only))


def machine_ticks() -> tuple[int, int, int]:
    """(busy, total, steal) ticks over all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v), v[7] if len(v) > 7 else 0


# ---------------------------------------------------------------------------------------------------- store
def read_demo_issuer_key(data_dir: Path) -> tuple[str, bytes]:
    """(kid, private PEM) of the active demo-issuer key, read out of the SQLite store.

    Plain SQL on a read-only connection, not ``SqliteStore`` (which would apply this tree's migrations to a store
    that a server of another revision is using)."""
    import sqlite3

    from ssoidc.crypto import Sealer

    db = sqlite3.connect(f"file:{data_dir / 'ssoidc.db'}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT kid, private_enc FROM signing_keys WHERE purpose = 'demo-issuer' AND active = 1"
            " ORDER BY created_at DESC"
        ).fetchone()
    finally:
        db.close()
    if row is None:
        raise RuntimeError(f"no demo-issuer key in {data_dir}")
    kid = str(row[0])
    return kid, Sealer(master_key(), "signing-key").open(row[1], kid.encode())


def count_rows(data_dir: Path, table: str, where: str = "") -> int:
    import sqlite3

    db = sqlite3.connect(f"file:{data_dir / 'ssoidc.db'}?mode=ro", uri=True)
    try:
        sql = f"SELECT COUNT(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return int(db.execute(sql).fetchone()[0])
    finally:
        db.close()


@contextlib.contextmanager
def bench_environ(synchronous: str) -> Any:
    """The server's ``SSOIDC_*`` environment in this process (master key, bootstrap credential), then restored."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("SSOIDC_")}
    for k in saved:
        del os.environ[k]
    os.environ.update(base_env(synchronous))
    try:
        yield
    finally:
        for k in [k for k in os.environ if k.startswith("SSOIDC_")]:
            del os.environ[k]
        os.environ.update(saved)


def seed_refresh_tokens(
    settings: Any, counts: list[int], batch: int = 1000, src: Path | None = None
) -> list[list[str]]:
    """``seed_refresh_tokens_async`` from synchronous code, with the server's ``SSOIDC_*`` environment.

    ``src`` (another revision's ``ssoidc/``, for history rows): seed in a subprocess running that revision's code,
    so the rows, the sealed secrets and the token format are the ones its server reads.
    """
    if src is None:
        with bench_environ(settings.sqlite_synchronous):
            return asyncio.run(seed_refresh_tokens_async(settings, counts, batch))
    from ssoidc.settings import export_env

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tokens.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SSOIDC_")}
        env.update(export_env(settings))
        env.update(base_env(settings.sqlite_synchronous))
        env["PYTHONPATH"] = os.pathsep.join([str(src), str(Path(__file__).resolve().parent)])
        subprocess.run(
            [sys.executable, "-c", "import sys, harness; harness.seed_main(sys.argv[1], sys.argv[2], sys.argv[3])",
             orjson.dumps(counts).decode(), str(batch), str(out)],
            env=env, cwd=src, check=True, timeout=600,
        )  # fmt: skip
        tokens: list[list[str]] = orjson.loads(out.read_bytes())
        return tokens


def seed_main(counts: str, batch: str, out: str) -> None:
    """Entry point of the seeding subprocess: settings from ``SSOIDC_*``, tokens as JSON into ``out``."""
    from ssoidc.settings import settings_from_env

    tokens = asyncio.run(seed_refresh_tokens_async(settings_from_env(), orjson.loads(counts), int(batch)))
    Path(out).write_bytes(orjson.dumps(tokens))


async def seed_refresh_tokens_async(settings: Any, counts: list[int], batch: int = 1000) -> list[list[str]]:
    """Issue ``sum(counts)`` refresh tokens into the store of ``settings.data_dir``, before its server starts.

    This opens the data dir as the server will (same master key; ``bootstrap`` applies the configuration file)
    and mints each token set with ``TokenIssuer.build``, as a JWT-bearer session of the bench user would have it
    (8-hour session, the trusted token issuer as ``act``, every token its own family), and stores the records
    with ``SqliteStore.issue``, ``batch`` token sets per call (one transaction). The issuer is the node's, except
    that its idToken signer is a stub: the idToken of a seeded set is thrown away, and the stored records do not
    depend on it. Returns the plaintext refresh tokens, one list per entry of ``counts``; they go into request
    files only and are never printed.
    """
    from ssoidc.model import GRANT_REFRESH_TOKEN
    from ssoidc.oauth.issuer import IssueSpec, TokenIssuer
    from ssoidc.oauth.scopes import available_scopes

    class StubSigner:
        def sign(self, claims: Any) -> str:
            return ""

    node, directory, close = await _open_node(settings)
    try:
        app = directory.applications[APP_ARN]
        scopes = available_scopes(settings.default_scopes, (s.scope for s in app.access_scopes))
        issuer = TokenIssuer(
            minter=node.minter,
            signer=StubSigner(),  # type: ignore[arg-type]
            store=node.store,
            base_url=settings.base_url,
            access_ttl=settings.access_token_ttl,
        )
        out: list[list[str]] = []
        for n in counts:
            tokens: list[str] = []
            for start in range(0, n, batch):
                now = time.time()
                records = []
                for _ in range(min(batch, n - start)):
                    spec = IssueSpec(
                        application=app,
                        user_id=USER_ID,
                        scopes=scopes,
                        grant_type=GRANT_REFRESH_TOKEN,
                        now=now,
                        session_expires_at=now + settings.session_ttl,
                        auth_time=now,
                        act={"sub": TTI_ARN},
                        with_refresh=True,
                    )
                    result, recs = issuer.build(spec, directory)
                    assert result.refresh_token is not None
                    tokens.append(result.refresh_token)
                    records += recs
                await node.store.issue(records)
            out.append(tokens)
        return out
    finally:
        await close()


async def _open_node(settings: Any) -> tuple[Any, Any, Callable[[], Awaitable[None]]]:
    """The services of ``settings`` (bootstrapped), their configuration snapshot and how to close them, with this
    tree's composition root or, for a ``--history`` revision from before it, that revision's ``Node``."""
    try:
        from ssoidc.compose import build_services
    except ImportError:  # a --history revision before ssoidc/compose.py (up to 7eee6a5)
        from ssoidc.node import Node  # type: ignore[import-not-found, unused-ignore]

        node = Node(settings)
        await node.bootstrap()
        await node.start(bootstrap=False)
        return node, await node.refresh(), node.stop
    services = await build_services(settings)
    return services, services.snapshot.current, services.close


# ---------------------------------------------------------------------------------------------------- PostgreSQL
def postgres_cpu_s(postmaster_pid: int) -> float:
    """utime+stime seconds of the PostgreSQL server: the postmaster and its children (backends, WAL writer,
    checkpointer, ...), read from /proc. Backends of other clients count too; exited backends do not."""
    total = 0.0
    for pid, fields in proc_stats():
        if postmaster_pid in (pid, int(fields[1])):
            total += (int(fields[11]) + int(fields[12])) / CLK
    return total


# ---------------------------------------------------------------------------------------------------- signing
@dataclass(frozen=True)
class SignSpec:
    """Everything a signing process needs (picklable)."""

    port: int
    kid: str = ""  # the demo issuer's key signs JWT-bearer assertions; unused for refresh requests
    pem: bytes = b""
    client_id: str = APP_ARN
    lifetime: int = 600
    users: int = 1  # assertions go round users 0 .. users-1 (``bench_config``)


_signer_state: dict[str, Any] = {}


def _signer_init(spec: SignSpec) -> None:
    if _signer_state.get("spec") == spec:
        return
    from botocore.auth import SigV4Auth
    from botocore.credentials import Credentials

    from ssoidc.oauth.keys import Signer
    from ssoidc.storage.base import SigningKey

    _signer_state["spec"] = spec
    _signer_state["jwt"] = (
        Signer(SigningKey(spec.kid, "demo-issuer", "RS256", spec.pem, time.time(), True))
        if spec.pem
        else None
    )
    _signer_state["sigv4"] = SigV4Auth(Credentials(ADMIN_KEY, ADMIN_SECRET), SIGNING_NAME, REGION)


def signed_request(refresh_token: str | None = None) -> tuple[list[tuple[str, str]], bytes]:
    """One fresh CreateTokenWithIAM request: (headers in wire order, body). Call ``_signer_init`` first.

    JWT bearer with a new assertion, or, given ``refresh_token``, the refresh_token grant redeeming it."""
    spec: SignSpec = _signer_state["spec"]
    if refresh_token is not None:
        body = orjson.dumps(
            {"clientId": spec.client_id, "grantType": REFRESH_TOKEN, "refreshToken": refresh_token}
        )
        return _sigv4(spec, body)
    now = int(time.time())
    issuer = f"http://127.0.0.1:{spec.port}/demo-issuer"
    email = user_email(secrets.randbelow(spec.users))
    assertion = _signer_state["jwt"].sign(
        {
            "iss": issuer,
            "sub": email,
            "aud": AUDIENCE,
            "email": email,
            "email_verified": True,
            "iat": now,
            "nbf": now,
            "exp": now + spec.lifetime,
            "jti": secrets.token_urlsafe(16),
        }
    )
    body = orjson.dumps({"clientId": spec.client_id, "grantType": JWT_BEARER, "assertion": assertion})
    return _sigv4(spec, body)


def _sigv4(spec: SignSpec, body: bytes) -> tuple[list[tuple[str, str]], bytes]:
    from botocore.awsrequest import AWSRequest

    req = AWSRequest(
        method="POST",
        url=f"http://127.0.0.1:{spec.port}/token?aws_iam=t",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    _signer_state["sigv4"].add_auth(req)
    headers = [("Host", f"127.0.0.1:{spec.port}")]
    headers += [(k, v if isinstance(v, str) else v.decode()) for k, v in req.headers.items()]
    headers.append(("Content-Length", str(len(body))))
    return headers, body


def one_signed_request(
    spec: SignSpec, refresh_token: str | None = None
) -> tuple[list[tuple[str, str]], bytes]:
    _signer_init(spec)
    return signed_request(refresh_token)


def raw_request(headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = "POST /token?aws_iam=t HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("latin-1") + body


def _sign_chunk(job: tuple[SignSpec, int]) -> bytes:
    """``n`` raw requests in the file format of bench/wrk_requests.lua: ``<length>\\n<bytes>`` each."""
    spec, n = job
    _signer_init(spec)
    out = bytearray()
    for _ in range(n):
        raw = raw_request(*signed_request())
        out += f"{len(raw)}\n".encode() + raw
    return bytes(out)


def _sign_refresh_chunk(job: tuple[SignSpec, list[str]]) -> bytes:
    """One refresh_token request per token, in the same file format as ``_sign_chunk``."""
    spec, tokens = job
    _signer_init(spec)
    out = bytearray()
    for token in tokens:
        raw = raw_request(*signed_request(token))
        out += f"{len(raw)}\n".encode() + raw
    return bytes(out)


def write_request_file(pool: Any, spec: SignSpec, path: Path, n: int, chunk: int = 250) -> float:
    """Sign ``n`` JWT-bearer requests with the worker pool into ``path``; returns the seconds it took."""
    t0 = time.monotonic()
    sizes = [chunk] * (n // chunk) + ([n % chunk] if n % chunk else [])
    with open(path, "wb") as f:
        for blob in pool.imap(_sign_chunk, [(spec, k) for k in sizes]):
            f.write(blob)
    return time.monotonic() - t0


def write_refresh_file(pool: Any, spec: SignSpec, path: Path, tokens: list[str], chunk: int = 1000) -> float:
    """Sign one refresh_token request per token into ``path`` (in token order); returns the seconds it took."""
    t0 = time.monotonic()
    jobs = [(spec, tokens[i : i + chunk]) for i in range(0, len(tokens), chunk)]
    with open(path, "wb") as f:
        for blob in pool.imap(_sign_refresh_chunk, jobs):
            f.write(blob)
    return time.monotonic() - t0


def source_fingerprint(src: Path | None = None, rev: str = "") -> dict[str, Any]:
    """Which server code is measured: git HEAD, uncommitted changes under ssoidc/, and a hash of its sources
    (other people edit the tree while benchmarks run; a run whose fingerprint differs measured other code).
    With ``src`` (another revision exported by ``export_revision``): that revision and its hash."""
    import hashlib

    base = src or ROOT
    digest = hashlib.sha256()
    for path in sorted((base / "ssoidc").rglob("*")):
        if path.suffix in (".py", ".sql") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes())
    if src is not None:
        return {"head": rev, "dirty": [], "sources_sha256": digest.hexdigest()[:16]}
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "ssoidc"], capture_output=True, text=True
    ).stdout
    return {
        "head": head,
        "dirty": dirty.split("\n")[:-1] if dirty else [],
        "sources_sha256": digest.hexdigest()[:16],
    }


def export_revision(rev: str, into: Path) -> tuple[str, Path]:
    """``git archive`` the ``ssoidc/`` package of ``rev`` into ``into/<short rev>`` (read-only on the repository);
    returns (short rev, that directory)."""
    git = ["git", "-C", str(ROOT)]
    short = subprocess.run(
        [*git, "rev-parse", "--short", rev], capture_output=True, text=True, check=True
    ).stdout.strip()
    dest = into / short
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run([*git, "archive", short, "ssoidc"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return short, dest


def scratch_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))

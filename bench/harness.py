"""Shared pieces of the load benchmark (``bench/run.py``) and the profile (``bench/profile.py``).

* the benchmark configuration (one demo trusted token issuer, one application with the JWT-bearer and
  refresh_token grants, an ActorPolicy allowing the account, one user) with every identifier pinned, so the
  client id stays the same however often the configuration is re-applied (``serve --demo`` applies the demo data
  and then the file at every process start, in every worker);
* starting and stopping servers (uvicorn through ``ssoidc serve``, or granian) in their own session, so the
  process group id is the pid we started and only that group is ever signalled;
* pre-signing CreateTokenWithIAM requests: a fresh RS256 assertion (unique ``jti``) in a JSON body, SigV4-signed
  with botocore's ``SigV4Auth`` exactly as an AWS SDK would, rendered as raw HTTP/1.1 bytes;
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_config(base_url: str) -> dict[str, Any]:
    """Minimal configuration: the demo issuer (served by ``--demo``) trusted by one application."""
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
        "Users": [{"UserName": "bench", "UserId": USER_ID, "Emails": [{"Value": USER_EMAIL}]}],
    }


def base_env(synchronous: str = "NORMAL") -> dict[str, str]:
    return {
        "SSOIDC_MASTER_KEY": MASTER_KEY_B64U,
        "SSOIDC_BOOTSTRAP_ACCESS_KEY_ID": ADMIN_KEY,
        "SSOIDC_BOOTSTRAP_SECRET_ACCESS_KEY": ADMIN_SECRET,
        "SSOIDC_SQLITE_SYNCHRONOUS": synchronous,
    }


def master_key() -> bytes:
    from ssoidc.crypto import b64u_decode

    return b64u_decode(MASTER_KEY_B64U)


# ---------------------------------------------------------------------------------------------------- servers
@dataclass
class Server:
    kind: str  # "uvicorn" | "granian"
    port: int
    workdir: Path
    workers: int
    synchronous: str
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
        ).validate()

    def env(self) -> dict[str, str]:
        from ssoidc.settings import export_env

        env = {k: v for k, v in os.environ.items() if not k.startswith(("SSOIDC_", "AWS_", "GRANIAN_"))}
        env.update(base_env(self.synchronous))
        if self.kind == "granian":
            env.update(export_env(self.settings()))
        return env

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(bench_config(self.url)))
        self.log_path = self.workdir / f"{self.kind}.log"
        env = self.env()
        if self.kind == "uvicorn":
            cmd = [
                sys.executable, "-m", "ssoidc", "serve", "--demo", "--host", "127.0.0.1", "--port", str(self.port),
                "--data-dir", str(self.data_dir), "--config", str(self.config_path),
                "--workers", str(self.workers),
            ]  # fmt: skip
        elif self.kind == "granian":
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
                cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
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
from ssoidc.node import Node
from ssoidc.settings import settings_from_env

async def main():
    node = Node(settings_from_env())
    try:
        await node.bootstrap()
    finally:
        await node.stop()

asyncio.run(main())
"""


# ---------------------------------------------------------------------------------------------------- /proc
def group_processes(pgid: int, *, system_only: bool = False) -> list[tuple[int, float]]:
    """(pid, utime+stime seconds, or stime only) of every live process in process group ``pgid``."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            ticks = int(fields[12]) if system_only else int(fields[11]) + int(fields[12])
            out.append((int(name), ticks / CLK))
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
    """(kid, private PEM) of the active demo-issuer key, read out of the SQLite store."""
    from ssoidc.storage.sqlite import SqliteStore

    async def go() -> tuple[str, bytes]:
        st = SqliteStore(data_dir / "ssoidc.db", master_key=master_key())
        try:
            keys = [k for k in await st.signing_keys("demo-issuer") if k.active]
        finally:
            await st.close()
        if not keys:
            raise RuntimeError(f"no demo-issuer key in {data_dir}")
        return keys[0].kid, keys[0].private_pem

    return asyncio.run(go())


def count_rows(data_dir: Path, table: str) -> int:
    import sqlite3

    db = sqlite3.connect(f"file:{data_dir / 'ssoidc.db'}?mode=ro", uri=True)
    try:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        db.close()


# ---------------------------------------------------------------------------------------------------- signing
@dataclass(frozen=True)
class SignSpec:
    """Everything a signing process needs (picklable)."""

    port: int
    kid: str
    pem: bytes
    client_id: str = APP_ARN
    lifetime: int = 600


_signer_state: dict[str, Any] = {}


def _signer_init(spec: SignSpec) -> None:
    if _signer_state.get("spec") == spec:
        return
    from botocore.auth import SigV4Auth
    from botocore.credentials import Credentials

    from ssoidc.oauth.keys import Signer
    from ssoidc.storage.base import SigningKey

    _signer_state["spec"] = spec
    _signer_state["jwt"] = Signer(SigningKey(spec.kid, "demo-issuer", "RS256", spec.pem, time.time(), True))
    _signer_state["sigv4"] = SigV4Auth(Credentials(ADMIN_KEY, ADMIN_SECRET), SIGNING_NAME, REGION)


def signed_request() -> tuple[list[tuple[str, str]], bytes]:
    """One fresh CreateTokenWithIAM request: (headers in wire order, body). Call ``_signer_init`` first."""
    from botocore.awsrequest import AWSRequest

    spec: SignSpec = _signer_state["spec"]
    now = int(time.time())
    issuer = f"http://127.0.0.1:{spec.port}/demo-issuer"
    assertion = _signer_state["jwt"].sign(
        {
            "iss": issuer,
            "sub": USER_EMAIL,
            "aud": AUDIENCE,
            "email": USER_EMAIL,
            "iat": now,
            "nbf": now,
            "exp": now + spec.lifetime,
            "jti": secrets.token_urlsafe(16),
        }
    )
    body = orjson.dumps({"clientId": spec.client_id, "grantType": JWT_BEARER, "assertion": assertion})
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


def one_signed_request(spec: SignSpec) -> tuple[list[tuple[str, str]], bytes]:
    _signer_init(spec)
    return signed_request()


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


def write_request_file(pool: Any, spec: SignSpec, path: Path, n: int, chunk: int = 250) -> float:
    """Sign ``n`` requests with the worker pool into ``path``; returns the seconds it took."""
    t0 = time.monotonic()
    sizes = [chunk] * (n // chunk) + ([n % chunk] if n % chunk else [])
    with open(path, "wb") as f:
        for blob in pool.imap(_sign_chunk, [(spec, k) for k in sizes]):
            f.write(blob)
    return time.monotonic() - t0


def source_fingerprint() -> dict[str, Any]:
    """Which server code is measured: git HEAD, uncommitted changes under ssoidc/, and a hash of its sources
    (other people edit the tree while benchmarks run; a run whose fingerprint differs measured other code)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((ROOT / "ssoidc").rglob("*")):
        if path.suffix in (".py", ".sql") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
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


def scratch_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))

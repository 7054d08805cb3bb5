"""The AWS CLIs the tests drive as subprocesses: v2 from Debian (``/usr/bin/aws``, and newer ones in ``.tools``),
v1 from the venv (the ``awscli`` dev dependency, which vendors its own botocore), ``AwsCli`` to run one against a
server, and what keeps them honest (a dead proxy, the
pinned botocore models for either CLI through ``AWS_DATA_PATH``)."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore

V1_AWS = Path(sys.executable).parent / "aws"
V2_AWS = Path("/usr/bin/aws")
# AWS CLI v2 releases from Debian's archive (``make cli-v2``, tools/awscli-v2/): 2.23.6, the oldest tested with
# the PKCE login that is ``aws sso login``'s default since 2.22, and "newest", Debian unstable's (2.38.1 as pinned
# in the Makefile; .tools/awscli-v2/newest/VERSION says which)
CLI_V2_DIR = Path(__file__).resolve().parents[2] / ".tools" / "awscli-v2"
NEWER_V2 = {name: CLI_V2_DIR / name / "bin" / "aws" for name in ("2.23.6", "newest")}
DEAD_PROXY = "http://127.0.0.1:9"
MODELS = ("sso-admin", "identitystore", "sso-oidc")


def proxy_env() -> dict[str, str]:
    """Every outbound request through a proxy that is not there: a CLI that ignored ``--endpoint-url`` fails fast
    instead of reaching AWS."""
    env = {"HTTPS_PROXY": DEAD_PROXY, "HTTP_PROXY": DEAD_PROXY, "NO_PROXY": "127.0.0.1,localhost"}
    return env | {k.lower(): v for k, v in env.items()}


def data_path(root: Path) -> Path:
    """An ``AWS_DATA_PATH`` holding the pinned botocore's models of ``MODELS`` (Debian's CLI v2 predates some
    operations)."""
    data = Path(botocore.__file__).parent / "data"
    for service in MODELS:
        (version,) = [p for p in (data / service).iterdir() if p.is_dir()]
        dst = root / service / version.name
        dst.mkdir(parents=True)
        for src in version.iterdir():
            if src.name.endswith(".gz"):
                with gzip.open(src, "rb") as fin, open(dst / src.name[:-3], "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            else:
                shutil.copy(src, dst / src.name)
    return root


SERVICE_ERROR_RC = 254
"""AWS CLI v2's exit status for an error answered by the service (v1 has no such distinct status)."""


class AwsCli:
    """One AWS CLI (``exe``) against one live server (a ``tests.helpers.servers.LiveServer``): the bootstrap admin
    credential, one attempt per call, no pager, JSON output, every request through the dead proxy of
    ``proxy_env``; ``models``: an ``AWS_DATA_PATH`` (``data_path``) for CLIs that predate the operations;
    ``quiet``: ``ok`` also requires an empty stderr."""

    def __init__(self, exe: Path, server: Any, models: Path | None = None, *, quiet: bool = False) -> None:
        if not exe.exists():
            raise AssertionError(f"{exe} (AWS CLI) is missing: run make install")
        self.exe = exe
        self.server = server
        self.quiet = quiet
        self.env: dict[str, str] = server.aws_env() | {
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
            **proxy_env(),
        }
        if models is not None:
            self.env["AWS_DATA_PATH"] = str(models)

    def run(self, service: str, op: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(self.exe), service, op, *args, "--endpoint-url", self.server.url, "--output", "json"]
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60)

    def ok(self, service: str, op: str, *args: str) -> dict[str, Any]:
        """Run a call that must succeed; its parsed JSON output ({} for none)."""
        proc = self.run(service, op, *args)
        assert proc.returncode == 0, f"aws {service} {op} exited {proc.returncode}: {proc.stderr}"
        if self.quiet:
            assert proc.stderr == "", proc.stderr
        out: dict[str, Any] = json.loads(proc.stdout) if proc.stdout.strip() else {}
        return out

    def fails(self, code: str, service: str, op: str, *args: str) -> str:
        """Run a call that must fail with the modelled error ``code``, printing nothing on stdout; its stderr."""
        proc = self.run(service, op, *args)
        operation = "".join(part.capitalize() for part in op.split("-"))
        assert proc.returncode != 0 and proc.stdout == "", (op, proc.returncode, proc.stdout)
        if self.exe != V1_AWS:
            assert proc.returncode == SERVICE_ERROR_RC, (op, proc.returncode, proc.stderr)
        assert f"An error occurred ({code}) when calling the {operation} operation" in proc.stderr, (
            proc.stderr
        )
        return proc.stderr

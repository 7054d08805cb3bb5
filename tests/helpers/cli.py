"""The AWS CLIs the tests drive as subprocesses: v2 from Debian (``/usr/bin/aws``), v1 from the venv (the
``awscli`` dev dependency, which vendors its own botocore), and what keeps them honest (a dead proxy, the
pinned botocore models for either CLI through ``AWS_DATA_PATH``)."""

from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path

import botocore

V1_AWS = Path(sys.executable).parent / "aws"
V2_AWS = Path("/usr/bin/aws")
# AWS CLI v2 releases from Debian's archive (``make cli-v2``, tools/awscli-v2/): 2.23.6, the oldest tested with
# the PKCE login that is ``aws sso login``'s default since 2.22, and 2.38.1, the newest packaged
CLI_V2_DIR = Path(__file__).resolve().parents[2] / ".tools" / "awscli-v2"
NEWER_V2 = {version: CLI_V2_DIR / version / "bin" / "aws" for version in ("2.23.6", "2.38.1")}
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

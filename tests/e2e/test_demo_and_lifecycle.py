"""`make run`'s demo mode: the printed commands work when pasted; the server starts, restarts and stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.config import ROOT
from tests.helpers.servers import free_port, spawn_server, wait_healthy


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SSOIDC_", "AWS_"))}


def start_demo(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``ssoidc serve --demo`` as ``make run`` starts it (no configuration file), healthy."""
    proc = spawn_server(
        port=port, data_dir=data_dir, config_path=None, env=clean_env(), log_path=log, new_session=True
    )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", log, name="demo server")
    except RuntimeError:
        proc.kill()
        proc.wait(10)
        raise
    return proc


def pasted_commands(banner: str) -> str:
    """The shell lines the banner tells a newcomer to paste (export + aws ...)."""
    lines = banner.splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.strip().startswith("export AWS_SHARED_CREDENTIALS_FILE")
    )
    out: list[str] = []
    for line in lines[start:]:
        if not line.strip():
            if out and not out[-1].rstrip().endswith("\\"):
                break
            continue
        out.append(line.strip())
    return "\n".join(out)


@pytest.fixture()
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, int]]:
    port = free_port()
    log = tmp_path / "demo.log"
    proc = start_demo(tmp_path / "data", port, log)
    yield proc, log, port
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def test_printed_cli_command_works_when_pasted(demo: tuple[subprocess.Popen[bytes], Path, int]) -> None:
    _proc, log, port = demo
    script = pasted_commands(log.read_text())
    assert f"--endpoint-url http://127.0.0.1:{port}" in script
    env = clean_env()
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"  # the venv's aws and ssoidc, as after `make run`
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert '"accessToken": "aoa' in out.stdout
    assert '"tokenType": "Bearer"' in out.stdout


def test_printed_boto3_command_works(demo: tuple[subprocess.Popen[bytes], Path, int]) -> None:
    _proc, log, _ = demo
    banner = log.read_text()
    export = next(line.strip() for line in banner.splitlines() if line.strip().startswith("export AWS_"))
    python = next(line.strip() for line in banner.splitlines() if re.match(r"\s*\S*python3 -c ", line))
    env = clean_env()
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    out = subprocess.run(
        ["bash", "-c", f"{export}\n{python}"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"aoa.{9}\.\.\.\n", out.stdout)


def test_sigterm_shuts_down_gracefully_and_restart_keeps_state(
    demo: tuple[subprocess.Popen[bytes], Path, int], tmp_path: Path
) -> None:
    proc, log, port = demo
    first_banner = log.read_text()
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(20) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean shutdown
    text = log.read_text()
    assert "Application shutdown complete" in text
    assert "Traceback" not in text
    log2 = tmp_path / "demo2.log"
    proc2 = start_demo(tmp_path / "data", port, log2)
    try:
        apps = re.search(r"Applications: (.*)", first_banner)
        assert apps is not None
        assert apps.group(1) in log2.read_text()  # same ARNs after a restart
        key = re.search(r"credential: (AKIA\w+)", first_banner)
        assert key is not None and key.group(1) in log2.read_text()
    finally:
        os.killpg(proc2.pid, signal.SIGTERM)
        proc2.wait(20)


def test_demo_issuer_only_in_demo_mode(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "plain.log"
    proc = spawn_server(
        port=port,
        data_dir=tmp_path / "d",
        config_path=None,
        env=clean_env(),
        log_path=log,
        new_session=True,
        demo=False,
    )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", log)
        r = httpx.get(f"http://127.0.0.1:{port}/demo-issuer/.well-known/openid-configuration")
        assert r.status_code == 404
        cred = (tmp_path / "d" / "bootstrap-credentials").stat()
        assert oct(cred.st_mode & 0o777) == "0o600"
        assert oct((tmp_path / "d" / "master.key").stat().st_mode & 0o777) == "0o600"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def test_printed_sso_admin_command_works_when_pasted(demo: tuple[subprocess.Popen[bytes], Path, int]) -> None:
    _proc, log, port = demo
    lines = [line.strip() for line in log.read_text().splitlines()]
    export = lines[lines.index(next(x for x in lines if x.startswith("export AWS_SHARED_CREDENTIALS_FILE")))]
    i = lines.index(export)
    while lines[i].endswith("\\"):  # the export line may continue
        i += 1
        export += "\n" + lines[i]
    admin = next(x for x in lines if x.startswith("aws sso-admin"))
    assert f"--endpoint-url http://127.0.0.1:{port}" in admin
    env = clean_env()
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    out = subprocess.run(
        ["bash", "-c", f"{export}\n{admin} --output json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert '"InstanceArn": "arn:aws:sso:::instance/ssoins-' in out.stdout

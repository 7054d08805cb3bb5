"""PgBouncer in transaction-pooling mode in front of the test PostgreSQL, for the tests of ``pooler=transaction``.

Debian's ``pgbouncer`` (installed by ``make install``) runs from a temporary directory on a free port, with one
database entry per schema (``connect_query`` sets its ``search_path``: a transaction pooler cannot carry it per
client). As root it drops to the ``postgres`` user, as PgBouncer refuses to run as root. A missing pgbouncer FAILS
the tests; it never skips them.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.servers import free_port

PGBOUNCER = "/usr/sbin/pgbouncer"


@contextlib.contextmanager
def transaction_pooler(pg_url: str, schema: str) -> Iterator[str]:
    """PgBouncer (pool_mode = transaction) in front of ``pg_url``; yields the ``postgresql://`` URL of ``schema``
    through it, with ``pooler=transaction``. The schema must exist."""
    if not Path(PGBOUNCER).exists():
        pytest.fail(f"{PGBOUNCER} is missing: `make install` installs Debian's pgbouncer", pytrace=False)
    target = urllib.parse.urlsplit(pg_url)
    port = free_port()
    user = getpass.getuser()
    workdir = Path(tempfile.mkdtemp(prefix="ssoidc-pgbouncer-"))
    workdir.chmod(0o755)  # readable by the postgres user PgBouncer drops to
    alias = f"ssoidc_{schema}"
    dbname = target.path.lstrip("/") or "postgres"
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"{alias} = host={target.hostname or '127.0.0.1'} port={target.port or 5432} dbname={dbname}"
        f" connect_query='SET search_path = \"{schema}\"'\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {workdir / 'users.txt'}\n"
        "pool_mode = transaction\nmax_client_conn = 500\ndefault_pool_size = 20\n"
    )
    (workdir / "users.txt").write_text(f'"{user}" ""\n')
    for f in workdir.iterdir():
        f.chmod(0o644)
    cmd = [PGBOUNCER, *(["-u", "postgres"] if os.geteuid() == 0 else []), str(ini)]
    log = (workdir / "out.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                pytest.fail(f"pgbouncer exited: {(workdir / 'out.log').read_text()[-2000:]}", pytrace=False)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("pgbouncer did not start listening within 10 s", pytrace=False)
                time.sleep(0.05)
        yield f"postgresql://{user}@127.0.0.1:{port}/{alias}?pooler=transaction"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)

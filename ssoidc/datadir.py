"""The data directory is private to the user ssoidc runs as.

It holds the master key, the SQLite database (password hashes, token digests, encrypted secrets) with its
``-wal``/``-shm`` files, the bootstrap credential, the generated AWS CLI configuration and endpoint rule sets, and
``ssoidc dev-cert``'s TLS key. ``secure_data_dir``
runs before any of them is opened: it creates the directory ``0700`` and, at every start, tightens the directory
and the files ssoidc keeps there (``DATA_FILES``) that group or others could read or write, logging each change;
a file it cannot tighten (owned by someone else) stops the start with a ``ConfigError``. Files ssoidc creates are
created ``0600`` (``create_private``); SQLite creates the ``-wal`` and ``-shm`` files with the database file's
mode (its unix VFS copies it), so they are ``0600`` too. Other files in the directory are not touched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

from ssoidc.errors import ConfigError

log = logging.getLogger("ssoidc.datadir")

DATA_FILES = (
    "master.key",
    "ssoidc.db",
    "ssoidc.db-wal",
    "ssoidc.db-shm",
    "ssoidc.db-journal",
    "ssoidc.db-writelock",
    "bootstrap-credentials",
    "aws-cli-config",
)
"""The files of a data directory that ssoidc writes (relative names)."""
DATA_DIRS = ("tls", "aws-data")
"""The directories ssoidc makes in a data directory: ``ssoidc dev-cert``'s certificate and key, and the AWS CLI
endpoint rule sets of demo mode / ``ssoidc cli-endpoints``."""

_OPEN = stat.S_IRWXG | stat.S_IRWXO


def _tighten(path: Path, mode: int) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & _OPEN:
        return
    try:
        os.chmod(path, mode)
    except OSError as exc:
        raise ConfigError(
            f"{path} is readable or writable by other users (mode {stat.S_IMODE(st.st_mode):04o}) and could not "
            f"be made private: {exc.strerror}; fix its owner or mode (chmod {mode:o})"
        ) from None
    log.warning("made %s private: mode %04o -> %04o", path, stat.S_IMODE(st.st_mode), mode)


def secure_data_dir(data_dir: Path, files: tuple[str, ...] = DATA_FILES) -> None:
    """Create ``data_dir`` private if missing; make it, ssoidc's files and its own directories in it private if
    they are not (a directory 0700, a file 0600; the files in ``DATA_DIRS`` too)."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(data_dir, 0o700)
    for name in files:
        _tighten(data_dir / name, 0o600)
    for name in DATA_DIRS:
        sub = data_dir / name
        if sub.is_dir() and not sub.is_symlink():
            _tighten(sub, 0o700)
            for entry in sub.rglob("*"):
                _tighten(entry, 0o700 if entry.is_dir() else 0o600)


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode ``0600`` unless it exists (so a later open does not create it ``0644``)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

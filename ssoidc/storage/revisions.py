"""Directory row revisions (identitystore ``Revision``, migration 0014): what the three stores share.

Every user and group row carries a revision, the next value of one store-wide counter at each write of the row
(SQLite: meta ``directory_revision``; PostgreSQL: the ``dir_revision`` sequence; memory: ``MemoryData``), so a
row never sees the same revision twice. A conditional write (``expected_revision``) is one statement
``... WHERE id = ? AND revision = ?``; when it matches no row, the same transaction tells ``Missing`` (no row)
from ``StaleRevision`` (another revision) and writes nothing.
"""

from __future__ import annotations

import dataclasses

from ssoidc.model import Group, User
from ssoidc.storage.common import group_of, user_of

REVISION_META = "directory_revision"
"""SQLite's counter (a ``meta`` row): the last revision handed out."""


def user_at(doc: str | bytes, revision: int) -> User:
    """The user of a ``dir_users`` row (its document and revision)."""
    return dataclasses.replace(user_of(doc), revision=int(revision))


def group_at(doc: str | bytes, revision: int) -> Group:
    """The group of a ``dir_groups`` row, without members (its document and revision)."""
    return dataclasses.replace(group_of(doc), revision=int(revision))

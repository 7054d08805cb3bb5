-- Version 16: the refresh-family cap (SSOIDC_MAX_REFRESH_FAMILIES) keeps its ring in one family_rings row per
-- (user, application) instead of a family_starts counter and one family_slots row per slot. A new family then
-- reads that row and writes it back by rowid: one table page per commit instead of two tables and both ends of an
-- expiry index (docs/benchmarks.md). A rowid table, not WITHOUT ROWID: its cells stay on their page up to about
-- 4 KB, where an index b-tree (WITHOUT ROWID) moves anything past about 1 KB to an overflow page; a ring at the
-- default cap of 100 is about 3.3 KB, and updating it never touches the key index.
-- ring: the last ring_n families started, oldest first, each as ssoidc.storage.common.RING_RECORD (session end,
-- id length) + the id; expires_at: the latest session end in it, for the purge's sweep (by rowid, no index). The
-- Python step of this migration (sqlite.py, _move_family_slots) fills the rings from family_slots' live rows and
-- drops the two tables of migration 0011. PostgreSQL keeps them (its 0016 changes nothing).
CREATE TABLE family_rings (
    user_id TEXT NOT NULL,
    application_arn TEXT NOT NULL,
    ring BLOB NOT NULL,
    ring_n INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
CREATE UNIQUE INDEX family_rings_key ON family_rings (user_id, application_arn);

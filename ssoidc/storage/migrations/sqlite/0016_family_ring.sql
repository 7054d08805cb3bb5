-- Version 16: the refresh-family cap (SSOIDC_MAX_REFRESH_FAMILIES) keeps its ring in the (user, application)'s
-- family_starts row instead of one family_slots row per slot. A new family then changes one row: one page per
-- commit instead of four (family_starts, family_slots and the two ends of its expiry index), which is what made
-- the cap cost 7% of CreateTokenWithIAM's throughput (docs/benchmarks.md).
-- ring: the last ring_n families started, oldest first, each as ssoidc.storage.common.RING_RECORD (session end,
-- id length) + the id; expires_at: the latest session end in it, for the purge's sweep. The Python step of this
-- migration (sqlite.py, _move_family_slots) fills each ring from family_slots' live rows and drops that table.
ALTER TABLE family_starts ADD COLUMN ring BLOB NOT NULL DEFAULT x'';
ALTER TABLE family_starts ADD COLUMN ring_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE family_starts ADD COLUMN expires_at REAL NOT NULL DEFAULT 0;

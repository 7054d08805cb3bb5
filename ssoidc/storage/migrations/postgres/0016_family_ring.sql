-- Version 16: SQLite moves the refresh-family cap's ring into one row per (user, application) (see
-- migrations/sqlite/0016_family_ring.sql). PostgreSQL keeps migration 0011's family_starts and family_slots, which
-- its one-statement issue (postgres.py, _family_cap) updates without an extra round trip; this version keeps the
-- two dialects' version numbers meaning the same schema generation.
SELECT 1;

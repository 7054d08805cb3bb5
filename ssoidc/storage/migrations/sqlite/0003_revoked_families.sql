-- Version 3: family revocation is one row in revoked_families (O(1), no per-token index to maintain).
-- Every token of a family shares the session end of its original grant, so expires_at bounds the row's use.
CREATE TABLE revoked_families (
    family_id TEXT PRIMARY KEY,
    revoked_at REAL NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
INSERT INTO revoked_families (family_id, revoked_at, expires_at)
    SELECT family_id, MIN(revoked_at), MAX(session_expires_at) FROM tokens WHERE revoked_at IS NOT NULL
    GROUP BY family_id;
DROP INDEX tokens_family;

-- Version 11: the cap on live refresh-token families per user and application (SSOIDC_MAX_REFRESH_FAMILIES).
-- family_starts counts the families each (user, application) has started; its row is what two concurrent starts
-- of the same pair queue on. family_slots is a ring of the last `cap` of them: the n-th family started takes
-- slot (n - 1) mod cap and revokes the family that held it, the one started `cap` families earlier (the oldest).
-- prev_family_id / prev_expires_at: what the slot held before its last write (PostgreSQL's upsert RETURNs it).
CREATE TABLE family_starts (
    user_id TEXT NOT NULL,
    application_arn TEXT NOT NULL,
    started INTEGER NOT NULL,
    PRIMARY KEY (user_id, application_arn)
) WITHOUT ROWID;
CREATE TABLE family_slots (
    user_id TEXT NOT NULL,
    application_arn TEXT NOT NULL,
    slot INTEGER NOT NULL,
    family_id TEXT NOT NULL,
    expires_at REAL NOT NULL,
    prev_family_id TEXT,
    prev_expires_at REAL,
    PRIMARY KEY (user_id, application_arn, slot)
) WITHOUT ROWID;
CREATE INDEX family_slots_expires ON family_slots (expires_at);

-- Version 5: sso-admin writes. ClientToken idempotency records (purged after IDEMPOTENCY_TTL_SECONDS) and
-- revoked subjects: "user:<id>" / "application:<arn>" -> when; tokens and codes of that subject issued at or before
-- revoked_at are dead. Both are looked up by primary key only.
CREATE TABLE idempotency (
    key TEXT PRIMARY KEY,
    request_sha256 BLOB NOT NULL,
    response TEXT NOT NULL,
    created_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX idempotency_created ON idempotency (created_at);
CREATE TABLE revoked_subjects (
    subject TEXT PRIMARY KEY,
    revoked_at REAL NOT NULL
) WITHOUT ROWID;

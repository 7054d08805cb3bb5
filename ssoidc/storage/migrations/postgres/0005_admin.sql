-- Version 5: sso-admin writes. ClientToken idempotency records (purged after IDEMPOTENCY_TTL_SECONDS) and
-- revoked subjects: "user:<id>" / "application:<arn>" -> when; tokens and codes of that subject issued at or before
-- revoked_at are dead. Both are looked up by primary key only.
CREATE TABLE idempotency (
    key text PRIMARY KEY,
    request_sha256 bytea NOT NULL,
    response text NOT NULL,
    created_at double precision NOT NULL
);
CREATE INDEX idempotency_created ON idempotency (created_at);
CREATE TABLE revoked_subjects (
    subject text PRIMARY KEY,
    revoked_at double precision NOT NULL
);

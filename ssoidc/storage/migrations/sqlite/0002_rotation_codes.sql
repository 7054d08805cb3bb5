-- Version 2: refresh-token rotation and authorization codes.
ALTER TABLE tokens ADD COLUMN retired_at REAL;
CREATE TABLE auth_codes (
    code_hash BLOB PRIMARY KEY,
    application_arn TEXT NOT NULL,
    user_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    code_challenge_method TEXT,
    scopes TEXT NOT NULL,
    family_id TEXT NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    session_expires_at REAL NOT NULL,
    auth_time REAL NOT NULL,
    consumed_at REAL
) WITHOUT ROWID;
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

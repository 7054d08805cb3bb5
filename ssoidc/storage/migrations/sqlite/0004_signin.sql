-- Version 4: sign-in (passwords, browser sessions, failed-attempt throttling).
CREATE TABLE user_passwords (
    user_id TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE web_sessions (
    sid_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL,
    auth_time REAL NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
CREATE TABLE login_attempts (
    attempt_key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    first_failure_at REAL NOT NULL,
    locked_until REAL
);

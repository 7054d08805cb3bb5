-- Version 4: sign-in (passwords, browser sessions, failed-attempt throttling).
CREATE TABLE user_passwords (
    user_id text PRIMARY KEY,
    password_hash text NOT NULL,
    updated_at double precision NOT NULL
);
CREATE TABLE web_sessions (
    sid_hash bytea PRIMARY KEY,
    user_id text NOT NULL,
    auth_time double precision NOT NULL,
    expires_at double precision NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
CREATE TABLE login_attempts (
    attempt_key text PRIMARY KEY,
    failures integer NOT NULL,
    first_failure_at double precision NOT NULL,
    locked_until double precision
);

-- ssoidc schema, version 1 (PostgreSQL dialect; same tables and versions as migrations/sqlite).
CREATE TABLE meta (
    key text PRIMARY KEY,
    value text NOT NULL
);
-- seq keeps the documents in the order they were written (SQLite: rowid).
CREATE TABLE config_resources (
    kind text NOT NULL,
    id text NOT NULL,
    seq integer NOT NULL,
    doc text NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE credentials (
    access_key_id text PRIMARY KEY,
    secret_enc bytea NOT NULL,
    principal_arn text NOT NULL,
    session_token_sha256 bytea,
    policy text,
    description text NOT NULL DEFAULT '',
    created_at double precision NOT NULL
);
CREATE TABLE signing_keys (
    kid text PRIMARY KEY,
    purpose text NOT NULL,
    alg text NOT NULL,
    private_enc bytea NOT NULL,
    created_at double precision NOT NULL,
    active boolean NOT NULL
);
-- fillfactor 90: room on each page for the retired_at update of a rotation (a HOT update, no index write).
CREATE TABLE tokens (
    token_hash bytea PRIMARY KEY,
    kind text NOT NULL,
    family_id text NOT NULL,
    parent_hash bytea,
    application_arn text NOT NULL,
    user_id text NOT NULL,
    scopes text NOT NULL,
    issued_at double precision NOT NULL,
    expires_at double precision NOT NULL,
    session_expires_at double precision NOT NULL,
    grant_type text NOT NULL,
    context text NOT NULL,
    revoked_at double precision
) WITH (fillfactor = 90);
CREATE INDEX tokens_family ON tokens (family_id);
CREATE INDEX tokens_expires ON tokens (expires_at);
CREATE TABLE used_jtis (
    issuer text NOT NULL,
    jti text NOT NULL,
    expires_at double precision NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX used_jtis_expires ON used_jtis (expires_at);

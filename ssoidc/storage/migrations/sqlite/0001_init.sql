-- ssoidc schema, version 1 (SQLite dialect).
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE config_resources (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE credentials (
    access_key_id TEXT PRIMARY KEY,
    secret_enc BLOB NOT NULL,
    principal_arn TEXT NOT NULL,
    session_token_sha256 BLOB,
    policy TEXT,
    description TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    alg TEXT NOT NULL,
    private_enc BLOB NOT NULL,
    created_at REAL NOT NULL,
    active INTEGER NOT NULL
);
CREATE TABLE tokens (
    token_hash BLOB PRIMARY KEY,
    kind TEXT NOT NULL,
    family_id TEXT NOT NULL,
    parent_hash BLOB,
    application_arn TEXT NOT NULL,
    user_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    session_expires_at REAL NOT NULL,
    grant_type TEXT NOT NULL,
    context TEXT NOT NULL,
    revoked_at REAL
) WITHOUT ROWID;
CREATE INDEX tokens_family ON tokens (family_id);
CREATE INDEX tokens_expires ON tokens (expires_at);
CREATE TABLE used_jtis (
    issuer TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (issuer, jti)
) WITHOUT ROWID;
CREATE INDEX used_jtis_expires ON used_jtis (expires_at);

-- Version 15: session credentials (the portal's GetRoleCredentials, STS AssumeRole): the secret access key sealed
-- under the master key, the session token only as SHA-256; read by access key id, purged after expiry.
CREATE TABLE session_credentials (
    access_key_id TEXT PRIMARY KEY,
    secret_enc BLOB NOT NULL,
    session_token_sha256 BLOB NOT NULL,
    principal_arn TEXT NOT NULL,
    source TEXT NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    role_arn TEXT,
    on_behalf_of_user_id TEXT,
    on_behalf_of_identity_store_arn TEXT,
    session_policy TEXT
) WITHOUT ROWID;
CREATE INDEX session_credentials_expires ON session_credentials (expires_at);

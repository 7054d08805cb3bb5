-- Version 15: session credentials (the portal's GetRoleCredentials, STS AssumeRole): the secret access key sealed
-- under the master key, the session token only as SHA-256; read by access key id, purged after expiry.
CREATE TABLE session_credentials (
    access_key_id text PRIMARY KEY,
    secret_enc bytea NOT NULL,
    session_token_sha256 bytea NOT NULL,
    principal_arn text NOT NULL,
    source text NOT NULL,
    issued_at double precision NOT NULL,
    expires_at double precision NOT NULL,
    role_arn text,
    on_behalf_of_user_id text,
    on_behalf_of_identity_store_arn text,
    session_policy text
);
CREATE INDEX session_credentials_expires ON session_credentials (expires_at);

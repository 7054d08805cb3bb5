-- Version 12: public clients (RegisterClient) and device authorizations (StartDeviceAuthorization, RFC 8628).
-- No client secret is stored (it is sealed for the client id and its expiry); device and user codes only as
-- hashes (the user code keyed under the master key).
CREATE TABLE public_clients (
    client_id TEXT PRIMARY KEY,
    client_name TEXT NOT NULL,
    client_type TEXT NOT NULL,
    scopes TEXT NOT NULL,
    grant_types TEXT,
    redirect_uris TEXT NOT NULL,
    issuer_url TEXT,
    entitled_application_arn TEXT,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX public_clients_expires ON public_clients (expires_at);
CREATE TABLE device_codes (
    device_hash BLOB PRIMARY KEY,
    user_code_hash BLOB NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    start_url TEXT NOT NULL,
    family_id TEXT NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    poll_interval REAL NOT NULL,
    status TEXT NOT NULL,
    user_id TEXT,
    auth_time REAL,
    decided_at REAL,
    last_poll_at REAL,
    slowed INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX device_codes_expires ON device_codes (expires_at);

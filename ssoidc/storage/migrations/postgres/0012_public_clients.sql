-- Version 12: public clients (RegisterClient) and device authorizations (StartDeviceAuthorization, RFC 8628).
-- No client secret is stored (it is sealed for the client id and its expiry); device and user codes only as
-- hashes (the user code keyed under the master key).
CREATE TABLE public_clients (
    client_id text PRIMARY KEY,
    client_name text NOT NULL,
    client_type text NOT NULL,
    scopes text NOT NULL,
    grant_types text,
    redirect_uris text NOT NULL,
    issuer_url text,
    entitled_application_arn text,
    created_at double precision NOT NULL,
    expires_at double precision NOT NULL
);
CREATE INDEX public_clients_expires ON public_clients (expires_at);
CREATE TABLE device_codes (
    device_hash bytea PRIMARY KEY,
    user_code_hash bytea NOT NULL UNIQUE,
    client_id text NOT NULL,
    scopes text NOT NULL,
    start_url text NOT NULL,
    family_id text NOT NULL,
    issued_at double precision NOT NULL,
    expires_at double precision NOT NULL,
    poll_interval double precision NOT NULL,
    status text NOT NULL,
    user_id text,
    auth_time double precision,
    decided_at double precision,
    last_poll_at double precision,
    slowed integer NOT NULL DEFAULT 0
);
CREATE INDEX device_codes_expires ON device_codes (expires_at);

-- Version 2: refresh-token rotation and authorization codes.
ALTER TABLE tokens ADD COLUMN retired_at double precision;
CREATE TABLE auth_codes (
    code_hash bytea PRIMARY KEY,
    application_arn text NOT NULL,
    user_id text NOT NULL,
    redirect_uri text NOT NULL,
    code_challenge text,
    code_challenge_method text,
    scopes text NOT NULL,
    family_id text NOT NULL,
    issued_at double precision NOT NULL,
    expires_at double precision NOT NULL,
    session_expires_at double precision NOT NULL,
    auth_time double precision NOT NULL,
    consumed_at double precision
) WITH (fillfactor = 90);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

-- Version 7: a revoked subject's marker can be forgotten once nothing it revoked can still be used. expires_at is
-- NULL until the purge settles it (REVOCATION_SETTLE_SECONDS after the revocation) to the latest expiry of any
-- token or code then stored; the purge deletes the marker after that instant.
ALTER TABLE revoked_subjects ADD COLUMN expires_at REAL;

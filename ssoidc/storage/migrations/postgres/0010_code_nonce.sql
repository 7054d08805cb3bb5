-- Version 10: the OpenID Connect nonce of an authorization request, kept with its code so the idToken issued
-- for the code carries it (OIDC Core 3.1.2.1, 3.1.3.6). NULL: the request had no nonce.
ALTER TABLE auth_codes ADD COLUMN nonce text;

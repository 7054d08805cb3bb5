"""The grant registry: every grant type CreateTokenWithIAM serves, one row each (AWS SSO OIDC
``CreateTokenWithIAM``; RFC 6749 section 4.1 / 6, RFC 7523, RFC 8693).

Everything that depends on the set of grant types reads ``GRANTS``: the token service (supported and configured
checks, undeclared request members), OIDC discovery's ``grant_types_supported``, the configuration file's
``Grants`` schema, ``ssoidc apply`` and ``ssoidc export``, the storage codec, the sso-admin ``Grant`` union
mapping and ``ssoidc.admin.rules``. Adding a grant type is one module (its handler and ``GrantType`` row) and one
entry here; see CONTRIBUTING.md, "Adding a grant".
"""

from __future__ import annotations

from ssoidc.oauth.grants.authorization_code import AUTHORIZATION_CODE
from ssoidc.oauth.grants.base import GrantRegistry
from ssoidc.oauth.grants.jwt_bearer import JWT_BEARER
from ssoidc.oauth.grants.public import (
    DEVICE_CODE,
    PUBLIC_AUTHORIZATION_CODE,
    PUBLIC_REFRESH_TOKEN,
    PublicGrantType,
)
from ssoidc.oauth.grants.refresh_token import REFRESH_TOKEN
from ssoidc.oauth.grants.token_exchange import TOKEN_EXCHANGE

GRANTS = GrantRegistry((AUTHORIZATION_CODE, REFRESH_TOKEN, JWT_BEARER, TOKEN_EXCHANGE))
"""The four grant types of IAM Identity Center, in the order AWS documents them (``grantType``)."""

PUBLIC_GRANTS: tuple[PublicGrantType, ...] = (DEVICE_CODE, PUBLIC_AUTHORIZATION_CODE, PUBLIC_REFRESH_TOKEN)
"""The grant types of CreateToken (public clients registered with RegisterClient): RFC 8628's device code, the
authorization code with PKCE and the refresh token (``ssoidc.oauth.grants.public``)."""

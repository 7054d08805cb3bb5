"""What a token family was granted through, checked again whenever the family is continued.

A token family (RFC 9700 section 4.14.2: every token descended from one grant) remembers where it came from in
``act`` (RFC 8693 section 4.1), which each token of the family carries (the store row's context, and the sealed
refresh token):

* a JWT-bearer grant records ``{"sub": <trusted token issuer ARN>}``;
* a token exchange records ``{"sub": <the subject token's application ARN>, "act": <the subject's act>}``;
* an authorization-code grant records nothing (the user signed in here).

``origin_problem`` walks that chain from the application continuing the family outwards and says what no longer
holds, if anything: the trusted token issuer must still exist and still be authorized on the JwtBearer grant of the
application that redeemed the assertion (sso-admin DeleteTrustedTokenIssuer, PutApplicationGrant); the application
a token was exchanged from must still exist and still list the receiving application (or the instance) in the
AuthorizedTargets of one of its access scopes (PutApplicationAccessScope, DeleteApplicationAccessScope). Deleting or
changing what a session was granted through ends the session at its next refresh or exchange (OpenID Connect Core
1.0 section 12.1 and RFC 6749 section 6: the authorization server may refuse a refresh when the grant behind it was
revoked). Families minted before ``act`` existed carry none and are treated as authorization-code families.

The snapshot is the one the request refreshed, so a change made through any node is seen on every node by its next
request (``ssoidc.snapshot``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ssoidc.model import GRANT_JWT_BEARER, Application, ConfigSnapshot, JwtBearerGrantConfig

MAX_ACT_DEPTH = 32
"""Longer ``act`` chains than this are refused (they cannot be minted: each exchange adds one level)."""


def origin_problem(
    act: Mapping[str, Any] | None, application: Application, directory: ConfigSnapshot
) -> str | None:
    """None if everything the family was granted through still holds, else why not (safe to show)."""
    receiver = application
    level: Any = act
    for _ in range(MAX_ACT_DEPTH):
        if not isinstance(level, Mapping):
            return None
        sub = level.get("sub")
        if not isinstance(sub, str):
            return "its origin is unreadable"
        if ":trustedTokenIssuer/" in sub:
            if sub not in directory.issuers:
                return "the trusted token issuer it was granted through no longer exists"
            grant = receiver.grants.get(GRANT_JWT_BEARER)
            if not isinstance(grant, JwtBearerGrantConfig) or not any(
                a.trusted_token_issuer_arn == sub for a in grant.authorized_token_issuers
            ):
                return (
                    "the trusted token issuer it was granted through is no longer authorized on the JwtBearer"
                    " grant of the application that redeemed the assertion"
                )
            return None  # an assertion starts a chain: nothing lies behind it
        source = directory.applications.get(sub)
        if source is None:
            return "the application whose token it was exchanged from no longer exists"
        targets = (receiver.arn, directory.instance.instance_arn)
        if not any(t in s.authorized_targets for s in source.access_scopes for t in targets):
            return (
                "the application whose token it was exchanged from no longer lists this application in the"
                " AuthorizedTargets of any access scope"
            )
        receiver = source
        level = level.get("act")
    return "its origin chain is too long"

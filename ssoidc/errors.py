"""Domain exceptions for ssoidc.

No HTTP and no AWS names live here: ``ssoidc.aws.errors`` is the single table that maps each class to an AWS
error shape and status. ``message`` is always safe to show to the caller; internal detail belongs in the
exception's ``__cause__`` and the logs, never in ``message`` (and never a token, code, assertion or key).

Hierarchy::

    SsoidcError
    ├── OAuthError                       CreateTokenWithIAM failures (RFC 6749 section 5.2 style)
    │   ├── InvalidRequest
    │   ├── InvalidClient
    │   ├── InvalidGrant
    │   ├── UnauthorizedClient
    │   ├── UnsupportedGrantType
    │   ├── InvalidScope
    │   ├── AccessDenied
    │   ├── ExpiredToken
    │   ├── AuthorizationPending         device flow: the user has not decided yet (RFC 8628 section 3.5)
    │   ├── SlowDown                     device flow: polled sooner than the interval (RFC 8628 section 3.5)
    │   ├── InvalidClientMetadata        RegisterClient: a bad member (RFC 7591 section 3.2.2)
    │   └── InvalidRedirectUri           RegisterClient: a redirect URI a public client may not use
    ├── AuthError                        request authentication (SigV4) failures, before any operation runs
    │   ├── MissingAuthenticationToken
    │   ├── IncompleteSignature
    │   ├── InvalidSignature
    │   └── UnrecognizedClient
    ├── AdminError                       configuration-plane (sso-admin / identitystore) failures
    │   ├── ValidationFailed             a member breaks a modelled constraint or a domain rule (names it)
    │   ├── ResourceNotFound
    │   ├── Conflict                     uniqueness, ClientToken reuse, concurrent modification
    │   ├── AdminAccessDenied            the caller's identity policy does not allow the action
    │   └── ServiceQuotaExceeded
    ├── StsError                         STS AssumeRole refusals (docs/sts.md)
    │   ├── RoleAccessDenied             the trust policy (or the caller's identity policy) does not allow it
    │   ├── MalformedPolicy              a session policy that is not a valid policy document
    │   ├── PolicyTooLarge               a session policy over the size STS packs
    │   ├── InvalidParameterValue        a member ssoidc cannot honour (unknown context provider, tampered
    │   │                                identity context, managed policy ARNs, tags...)
    │   └── ContextExpired               an identity context past its expiry
    ├── InvalidInput                     the request breaks its operation's model (any service, any protocol)
    ├── Throttled                        a rate limit refused the request (any service; carries a retry hint)
    ├── OperationError                   the request names no served operation (any service, any protocol)
    │   ├── NotImplementedOperation      a modelled operation ssoidc does not serve
    │   └── UnknownOperation             the X-Amz-Target / Action names no operation of the service
    └── ConfigError                      an invalid configuration file or value (names the field)
"""

from __future__ import annotations

import math
from typing import ClassVar


class SsoidcError(Exception):
    """Root of every error ssoidc raises on purpose. ``message`` is safe to show to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OAuthError(SsoidcError):
    """An OAuth-style failure of a token request. ``error`` is the RFC 6749 error code."""

    error: ClassVar[str] = "invalid_request"


class InvalidRequest(OAuthError):
    """The request is missing a member, has a malformed one, or combines members that do not fit."""

    error = "invalid_request"


class InvalidClient(OAuthError):
    """``clientId`` does not name an application that can use CreateTokenWithIAM."""

    error = "invalid_client"


class InvalidGrant(OAuthError):
    """The grant (code, refresh token, assertion, subject token) is invalid, expired, revoked or replayed."""

    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    """The application is not configured for the requested grant type."""

    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    """``grantType`` is not one of the grant types the service supports."""

    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    """A requested scope is not available to this application or wider than the grant allows."""

    error = "invalid_scope"


class AccessDenied(OAuthError):
    """The caller or the user is not allowed to do this (actor policy, assignment gate)."""

    error = "access_denied"


class ExpiredToken(OAuthError):
    """A device or token has expired (device flow only; refresh tokens report InvalidGrant, as AWS does)."""

    error = "expired_token"


class AuthorizationPending(OAuthError):
    """The device authorization is still pending: the user has not approved or denied it (RFC 8628 3.5)."""

    error = "authorization_pending"


class SlowDown(OAuthError):
    """The client polls a device code faster than its interval (RFC 8628 section 3.5)."""

    error = "slow_down"


class InvalidClientMetadata(OAuthError):
    """A RegisterClient member is invalid (RFC 7591 section 3.2.2 ``invalid_client_metadata``)."""

    error = "invalid_client_metadata"


class InvalidRedirectUri(OAuthError):
    """A RegisterClient redirect URI is not one a public client may use (RFC 7591 ``invalid_redirect_uri``)."""

    error = "invalid_redirect_uri"


class AuthError(SsoidcError):
    """The request could not be authenticated (SigV4). Raised before any operation runs."""


class MissingAuthenticationToken(AuthError):
    """No Authorization header (or query signature) was sent at all."""


class IncompleteSignature(AuthError):
    """An Authorization header was sent but lacks a required element or signs too little."""


class InvalidSignature(AuthError):
    """The signature does not match, is outside the clock-skew window, or has the wrong scope."""


class UnrecognizedClient(AuthError):
    """The access key id is unknown, or the session token does not belong to it."""


class ExpiredCredentials(AuthError):
    """The request is signed with session credentials (access key id, secret, session token) that have expired:
    AWS's ``ExpiredToken`` / ``ExpiredTokenException`` of request authentication."""


class PortalError(SsoidcError):
    """A failure of the access portal (the ``sso`` service: accounts, roles and role credentials)."""


class PortalUnauthorized(PortalError):
    """The bearer token is not a live portal access token (unknown, expired, revoked, another kind of token, not a
    public client's, or without the ``sso:account:access`` scope)."""


class PortalForbidden(PortalError):
    """The user has no such role on that account (or no such account): AWS's unmodelled ``ForbiddenException``."""


class AdminError(SsoidcError):
    """A configuration-plane failure (sso-admin, identitystore)."""


class ValidationFailed(AdminError):
    """A member breaks a modelled constraint or a domain rule. ``field`` names the member path."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field

    @classmethod
    def at(cls, path: str, message: str) -> ValidationFailed:
        """A modelled constraint broken at ``path``, worded as AWS's validator words it:
        ``1 validation error detected: Value at '<path>' <message>``."""
        return cls(f"1 validation error detected: Value at '{path}' {message}", path)


class ResourceNotFound(AdminError):
    """The named resource does not exist. ``resource_type`` is USER, GROUP, APPLICATION... where known."""

    def __init__(self, message: str, resource_type: str = "", resource_id: str = "") -> None:
        super().__init__(message)
        self.resource_type = resource_type
        self.resource_id = resource_id


class Conflict(AdminError):
    """Uniqueness violation, ClientToken reused with another request, or a concurrent modification."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class AdminAccessDenied(AdminError):
    """The caller is not an administrator for this action (identity policy)."""


class ServiceQuotaExceeded(AdminError):
    """A per-resource quota (10 trusted token issuers, 25 access scopes...) would be exceeded."""


class StsError(SsoidcError):
    """An STS (AssumeRole) refusal, raised before anything is minted."""


class RoleAccessDenied(StsError):
    """The role's trust policy (or the caller's identity policy) does not allow the caller ``sts:AssumeRole`` (or
    ``sts:SetContext``); also an unknown role, which AWS does not tell apart."""


class MalformedPolicy(StsError):
    """A session policy (AssumeRole ``Policy``) that is not JSON or not a valid identity policy."""


class PolicyTooLarge(StsError):
    """A session policy over the size STS accepts (2,048 characters)."""


class InvalidParameterValue(StsError):
    """A member's value ssoidc cannot honour (an unknown context provider, a context assertion that is not one
    of ours, managed policy ARNs, session tags...)."""


class ContextExpired(StsError):
    """A provided context (identity context) whose expiry has passed."""


class InvalidInput(SsoidcError):
    """The request breaks its operation's model (a member's type, a modelled constraint, the body size limit).

    Raised by the AWS skeleton for every service; each protocol words and shapes it as its service does
    (sso-oidc and the portal InvalidRequestException, sso-admin/identitystore ValidationException, STS
    ValidationError). ``path`` names the member (``scope[0]``), empty when the whole body is at fault.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class Throttled(SsoidcError):
    """A request rate limit (``ssoidc.ratelimit``) refused the request before it did anything.

    ``retry_after`` is the number of seconds after which one more request of the same key fits again. Rendered as
    sso-oidc's ``SlowDownException`` (RFC 8628 section 3.5's ``slow_down``), the admin services'
    ``ThrottlingException`` and STS's ``Throttling``, each with a ``Retry-After`` header.
    """

    error: ClassVar[str] = "slow_down"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def retry_after_seconds(self) -> int:
        """The hint in whole seconds, at least 1 (the ``Retry-After`` header, RFC 9110 section 10.2.3)."""
        return max(1, math.ceil(self.retry_after))


class OperationError(SsoidcError):
    """The request names no operation ssoidc serves; rendered in every protocol, by every service."""


class NotImplementedOperation(OperationError):
    """A modelled operation that ssoidc does not serve (for example permission sets)."""


class UnknownOperation(OperationError):
    """The request (``X-Amz-Target``, Query ``Action``) names no operation of the service."""


class ConfigError(SsoidcError):
    """An invalid configuration file or value. ``message`` names the offending field."""

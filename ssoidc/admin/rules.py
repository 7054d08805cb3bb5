"""Invariants every stored configuration keeps, whichever front door (admin API or ``ssoidc apply``) changed it.

* names are unique: user ``UserName`` (case-insensitive, as the identity store compares them), group
  ``DisplayName``, application ``Name`` and trusted token issuer ``Name`` (names are how ``ssoidc apply`` and
  ``ssoidc export`` match entities, so a duplicate would break the round trip);
* an instance holds at most 10 trusted token issuers and an application at most 25 access scopes (AWS quotas);
* authorization-code redirect URIs are absolute, without a fragment, with a valid port;
* references resolve: JWT-bearer grants name existing issuers, access-scope targets are applications of the
  instance (or the instance), assignments and memberships name existing principals and applications.

Violations of uniqueness are ``Conflict``; broken references are ``ValidationFailed``. ``ssoidc.config.apply``
reports the same problems with file paths before they get here.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from ssoidc.errors import Conflict, ServiceQuotaExceeded, ValidationFailed
from ssoidc.model import AuthorizationCodeGrant, Configuration, JwtBearerGrant

MAX_ISSUERS = 10
MAX_ACCESS_SCOPES = 25


def _unique(names: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise Conflict(f"A {what} named {n!r} already exists", "UNIQUENESS_CONSTRAINT_VIOLATION")
        seen.add(n)


def check_redirect_uri(uri: str, path: str) -> None:
    """An absolute URI without a fragment, with a valid port (RFC 6749 section 3.1.2)."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        raise ValidationFailed("A redirect URI must be an absolute URI with a valid port", path) from None
    if not parts.scheme or "#" in uri or (parts.scheme in ("http", "https") and not parts.hostname):
        raise ValidationFailed("A redirect URI must be an absolute URI without a fragment", path)


def check(config: Configuration) -> None:
    _unique((u.user_name.lower() for u in config.users), "user")
    _unique((g.display_name for g in config.groups), "group")
    _unique((a.name for a in config.applications), "application")
    _unique((t.name for t in config.trusted_token_issuers), "trusted token issuer")
    if len(config.trusted_token_issuers) > MAX_ISSUERS:
        raise ServiceQuotaExceeded(f"An instance can have at most {MAX_ISSUERS} trusted token issuers")
    issuers = {t.arn for t in config.trusted_token_issuers}
    apps = {a.arn for a in config.applications}
    users = {u.user_id for u in config.users}
    groups = {g.group_id for g in config.groups}
    for a in config.applications:
        if len(a.access_scopes) > MAX_ACCESS_SCOPES:
            raise ServiceQuotaExceeded(f"An application can have at most {MAX_ACCESS_SCOPES} access scopes")
        for grant in a.grants.values():
            if isinstance(grant, AuthorizationCodeGrant):
                for i, uri in enumerate(grant.redirect_uris):
                    check_redirect_uri(uri, f"Grant.AuthorizationCode.RedirectUris[{i}]")
            if isinstance(grant, JwtBearerGrant):
                for ati in grant.authorized_token_issuers:
                    if ati.trusted_token_issuer_arn not in issuers:
                        raise ValidationFailed(
                            f"Trusted token issuer {ati.trusted_token_issuer_arn} does not exist",
                            "Grant.JwtBearer.AuthorizedTokenIssuers",
                        )
        for s in a.access_scopes:
            for t in s.authorized_targets:
                if t not in apps and t != config.instance.instance_arn:
                    raise ValidationFailed(f"Authorized target {t} does not exist", "AuthorizedTargets")
    for g in config.groups:
        for uid in g.member_user_ids:
            if uid not in users:
                raise ValidationFailed(f"User {uid} does not exist", "MemberId")
    for asg in config.assignments:
        if asg.application_arn not in apps:
            raise ValidationFailed(f"Application {asg.application_arn} does not exist", "ApplicationArn")
        known = users if asg.principal_type == "USER" else groups
        if asg.principal_id not in known:
            raise ValidationFailed(f"Principal {asg.principal_id} does not exist", "PrincipalId")

"""Invariants every stored configuration keeps, whichever front door (admin API or ``ssoidc apply``) changed it.

* names are unique: user ``UserName`` (case-insensitive, as the identity store compares them), group
  ``DisplayName``, application ``Name`` and trusted token issuer ``Name`` (names are how ``ssoidc apply`` and
  ``ssoidc export`` match entities, so a duplicate would break the round trip); a trusted token issuer's
  ``IssuerUrl`` is unique too (two issuers with one URL would make an assertion's ``iss`` ambiguous);
* ``Administrator`` and ``AWSAdministrators`` are reserved user and group names (case-insensitive);
* an instance holds at most 10 trusted token issuers and an application at most 25 access scopes (AWS quotas);
  the instance, each application and each trusted token issuer hold at most 50 tags, none with a key starting
  with ``aws:``;
* a user's identity-store extensions are the enterprise extension only, a JSON object of its known attributes,
  each a string of 1 to 1024 characters (``manager`` also as ``{"value": ...}``);
* authorization-code redirect URIs pass ``ssoidc.oauth.redirect_uri.validate_redirect_uri``: https, http on a
  loopback host, or a reverse-domain private-use scheme; no fragment, userinfo or ``*``; at most 2,048 printable
  ASCII characters (RFC 6749 section 3.1.2, RFC 9700 section 2.1, RFC 8252 sections 7.1 and 7.3);
* references resolve: JWT-bearer grants name existing issuers, each once, access-scope targets are applications
  of the instance (or the instance), assignments and memberships name existing principals and applications.

Violations of uniqueness are ``Conflict``; quotas are ``ServiceQuotaExceeded``; reserved names, bad tag keys, bad
extensions and broken references are ``ValidationFailed`` naming the member. Some admin operations check what
their request names before they get here, with the same functions, where that lets the message name the request
member more precisely; ``ssoidc.config.apply`` reports uniqueness and references with file paths before they get
here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ssoidc.errors import Conflict, ServiceQuotaExceeded, ValidationFailed
from ssoidc.model import Configuration
from ssoidc.oauth.grants.registry import GRANTS

MAX_ISSUERS = 10
MAX_ACCESS_SCOPES = 25
MAX_TAGS = 50
#: User and group names IAM Identity Center reserves (compared case-insensitively).
RESERVED_NAMES = frozenset({"administrator", "awsadministrators"})
#: The one identity-store extension, and its attributes.
ENTERPRISE = "aws:identitystore:enterprise"
ENTERPRISE_ATTRIBUTES = ("employeeNumber", "costCenter", "organization", "division", "department", "manager")


def _unique(names: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise Conflict(f"A {what} named {n!r} already exists", "UNIQUENESS_CONSTRAINT_VIOLATION")
        seen.add(n)


def check_tags(tags: Mapping[str, str]) -> None:
    """At most ``MAX_TAGS`` tags (``ServiceQuotaExceeded``); keys starting with ``aws:`` are reserved."""
    if len(tags) > MAX_TAGS:
        raise ServiceQuotaExceeded(f"A resource can have at most {MAX_TAGS} tags")
    for k in tags:
        if k.lower().startswith("aws:"):
            raise ValidationFailed("Tag keys starting with aws: are reserved", "Tags")


def check_name(name: str, field: str) -> None:
    """``Administrator`` and ``AWSAdministrators`` are reserved user and group names."""
    if name.lower() in RESERVED_NAMES:
        raise ValidationFailed(f"{field} is a reserved name (Administrator, AWSAdministrators)", field)


def check_extension(name: str, value: Any, path: str) -> dict[str, Any]:
    """One identity-store extension: the enterprise extension, an object of its attributes. Returns a copy."""
    if name != ENTERPRISE:
        raise ValidationFailed(
            f"Extension {name} is not supported; {ENTERPRISE} is the only supported extension", path
        )
    if not isinstance(value, dict):
        raise ValidationFailed(f"Value at '{path}' must be a JSON object", path)
    for k, v in value.items():
        if k not in ENTERPRISE_ATTRIBUTES:
            key = str(k)[:64]  # a file's YAML may give a key that is not a string
            raise ValidationFailed(
                f"Attribute {key!r} is not an attribute of {ENTERPRISE} ({', '.join(ENTERPRISE_ATTRIBUTES)})",
                f"{path}.{key}",
            )
        check_enterprise_value(k, v, f"{path}.{k}")
    return dict(value)


def check_enterprise_value(attr: str, v: Any, path: str) -> None:
    """A string of 1 to 1024 characters; ``manager`` may also be ``{"value": <such a string>}``."""
    if attr == "manager" and isinstance(v, dict):
        if set(v) != {"value"}:
            raise ValidationFailed(f"Value at '{path}' must be an object with one member, value", path)
        v = v["value"]
    if not isinstance(v, str) or not 1 <= len(v) <= 1024:
        raise ValidationFailed(f"Value at '{path}' must be a string of 1 to 1024 characters", path)


def check_extensions(extensions: Any, path: str = "Extensions") -> None:
    """A user's ``Extensions``: an object whose members each pass ``check_extension``."""
    if not isinstance(extensions, dict):
        raise ValidationFailed(f"Value at '{path}' must be a JSON object", path)
    for name, value in extensions.items():
        check_extension(str(name), value, f"{path}.{name}")


def check(config: Configuration) -> None:
    if len(config.trusted_token_issuers) > MAX_ISSUERS:
        raise ServiceQuotaExceeded(f"An instance can have at most {MAX_ISSUERS} trusted token issuers")
    _unique((u.user_name.lower() for u in config.users), "user")
    _unique((g.display_name for g in config.groups), "group")
    _unique((a.name for a in config.applications), "application")
    _unique((t.name for t in config.trusted_token_issuers), "trusted token issuer")
    urls: dict[str, str] = {}
    for issuer in config.trusted_token_issuers:
        if issuer.issuer_url in urls:
            raise Conflict(
                f"A trusted token issuer with this IssuerUrl already exists ({urls[issuer.issuer_url]})"
            )
        urls[issuer.issuer_url] = issuer.arn
    for u in config.users:
        check_name(u.user_name, "UserName")
        if "Extensions" in u.profile:
            check_extensions(u.profile["Extensions"])
    for g in config.groups:
        check_name(g.display_name, "DisplayName")
    check_tags(config.instance.tags)
    for issuer in config.trusted_token_issuers:
        check_tags(issuer.tags)
    apps = {a.arn for a in config.applications}
    users = {u.user_id for u in config.users}
    groups = {g.group_id for g in config.groups}
    for a in config.applications:
        check_tags(a.tags)
        if len(a.access_scopes) > MAX_ACCESS_SCOPES:
            raise ServiceQuotaExceeded(f"An application can have at most {MAX_ACCESS_SCOPES} access scopes")
        for grant in a.grants.values():
            GRANTS.of(grant).check(grant, config)  # the grant type's own rules (its registry row)
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

"""Domain model: frozen value objects for the configuration plane and the token service.

Names are snake_case and wire-neutral; ``ssoidc.aws`` and ``ssoidc.config`` translate to and from AWS's
PascalCase/camelCase shapes (sso-admin ``Application``, ``Grant``, ``TrustedTokenIssuer``...; identitystore
``User``, ``Group``...). ``ConfigSnapshot`` is an immutable snapshot of the whole configuration with the indexes the
hot path needs; it is rebuilt when the stored configuration's version changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

GRANT_AUTHORIZATION_CODE = "authorization_code"
GRANT_REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type name, not a secret
GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
TOKEN_TYPE_ACCESS = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
TOKEN_TYPE_REFRESH = "urn:ietf:params:oauth:token-type:refresh_token"  # noqa: S105

PrincipalType = Literal["USER", "GROUP"]


@dataclass(frozen=True, slots=True)
class Instance:
    instance_arn: str
    identity_store_id: str
    owner_account_id: str
    name: str
    status: str = "ACTIVE"
    """ACTIVE, or DELETED after sso-admin DeleteInstance (ssoidc serves one account instance; see docs/admin-api.md)."""
    created_at: float = 0.0
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def instance_id(self) -> str:
        return self.instance_arn.rsplit("/", 1)[1]

    @property
    def identity_store_arn(self) -> str:
        return f"arn:aws:identitystore::{self.owner_account_id}:identitystore/{self.identity_store_id}"


@dataclass(frozen=True, slots=True)
class TrustedTokenIssuer:
    arn: str
    name: str
    issuer_url: str
    claim_attribute_path: str
    identity_store_attribute_path: str
    allowed_algorithms: tuple[str, ...] = ("RS256",)
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuthorizedTokenIssuer:
    trusted_token_issuer_arn: str
    authorized_audiences: tuple[str, ...]


class GrantConfig:
    """Base of every grant type's configuration: the body of one sso-admin ``Grant`` union member.

    A grant type is one row of ``ssoidc.oauth.grants.registry.GRANTS``, which names its config class; the four
    below are the AWS ones. A new grant type subclasses this (as a frozen dataclass) in its own module.
    """

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class AuthorizationCodeGrantConfig(GrantConfig):
    redirect_uris: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JwtBearerGrantConfig(GrantConfig):
    authorized_token_issuers: tuple[AuthorizedTokenIssuer, ...]


@dataclass(frozen=True, slots=True)
class RefreshTokenGrantConfig(GrantConfig):
    pass


@dataclass(frozen=True, slots=True)
class TokenExchangeGrantConfig(GrantConfig):
    pass


@dataclass(frozen=True, slots=True)
class AccessScope:
    scope: str
    authorized_targets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Application:
    arn: str
    name: str
    instance_arn: str
    provider_arn: str = "arn:aws:sso::aws:applicationProvider/custom"
    status: str = "ENABLED"
    description: str = ""
    grants: Mapping[str, GrantConfig] = field(default_factory=dict)
    actor_policy: Mapping[str, Any] | None = None
    access_scopes: tuple[AccessScope, ...] = ()
    assignment_required: bool = True
    created_at: float = 0.0
    tags: Mapping[str, str] = field(default_factory=dict)
    portal_visibility: str = "ENABLED"
    sign_in_origin: str = "IDENTITY_CENTER"
    application_url: str = ""


@dataclass(frozen=True, slots=True)
class Email:
    value: str
    type: str = "work"
    primary: bool = True


@dataclass(frozen=True, slots=True)
class ExternalId:
    issuer: str
    id: str


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    user_name: str
    display_name: str = ""
    given_name: str = ""
    family_name: str = ""
    emails: tuple[Email, ...] = ()
    external_ids: tuple[ExternalId, ...] = ()
    profile: Mapping[str, Any] = field(default_factory=dict)
    """Further identity-store profile attributes (NickName, Addresses, PhoneNumbers, Name.MiddleName...), kept
    verbatim in identitystore's shape: ssoidc stores and returns them but never decides anything on them."""


@dataclass(frozen=True, slots=True)
class Group:
    group_id: str
    display_name: str
    description: str = ""
    member_user_ids: tuple[str, ...] = ()
    external_ids: tuple[ExternalId, ...] = ()


@dataclass(frozen=True, slots=True)
class Membership:
    """A user's membership of a group (identitystore ``GroupMembership``); its id is derived from the pair."""

    membership_id: str
    group_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class Assignment:
    application_arn: str
    principal_type: PrincipalType
    principal_id: str


@dataclass(frozen=True, slots=True)
class Configuration:
    """Everything ``ssoidc apply`` declares, in domain form. Persisted by the storage layer."""

    instance: Instance
    trusted_token_issuers: tuple[TrustedTokenIssuer, ...] = ()
    applications: tuple[Application, ...] = ()
    users: tuple[User, ...] = ()
    groups: tuple[Group, ...] = ()
    assignments: tuple[Assignment, ...] = ()


class ConfigSnapshot:
    """An immutable, indexed snapshot of a ``Configuration`` for fast lookups on the hot path."""

    def __init__(self, config: Configuration, version: int) -> None:
        self.config = config
        self.version = version
        self.instance = config.instance
        self.applications: dict[str, Application] = {a.arn: a for a in config.applications}
        self.issuers: dict[str, TrustedTokenIssuer] = {t.arn: t for t in config.trusted_token_issuers}
        self.users: dict[str, User] = {u.user_id: u for u in config.users}
        self.groups: dict[str, Group] = {g.group_id: g for g in config.groups}
        self._by_attr: dict[str, dict[str, list[str]]] = {
            "username": {},
            "emails.value": {},
            "externalids": {},
        }
        for u in config.users:
            self._by_attr["username"].setdefault(u.user_name, []).append(u.user_id)
            for e in u.emails:
                self._by_attr["emails.value"].setdefault(e.value, []).append(u.user_id)
            for x in u.external_ids:
                self._by_attr["externalids"].setdefault(x.id, []).append(u.user_id)
                self._by_attr.setdefault(f"externalids.{x.issuer.lower()}", {}).setdefault(x.id, []).append(
                    u.user_id
                )
        self._groups_of: dict[str, set[str]] = {}
        for g in config.groups:
            for uid in g.member_user_ids:
                self._groups_of.setdefault(uid, set()).add(g.group_id)
        self._assigned: dict[str, set[tuple[str, str]]] = {}
        for a in config.assignments:
            self._assigned.setdefault(a.application_arn, set()).add((a.principal_type, a.principal_id))

    def users_by_attribute(self, path: str, value: str) -> list[str]:
        """User ids whose identity-store attribute at ``path`` equals ``value`` exactly.

        Supported paths (case-insensitive): ``userName``, ``emails.value``, ``externalIds.id`` (any issuer) and
        ``externalIds.<issuer>`` (the id under that issuer). Unknown paths match nobody.
        """
        key = path.lower()
        if key == "externalids.id":
            key = "externalids"
        return list(self._by_attr.get(key, {}).get(value, []))

    def may_use(self, application: Application, user_id: str) -> bool:
        """The assignment gate (sso-admin ``AssignmentRequired``): true if the application does not require
        assignment, or the user is assigned to it (``is_assigned``)."""
        return not application.assignment_required or self.is_assigned(application, user_id)

    def require_assigned(
        self, application: Application, user_id: str, error: Callable[[], Exception]
    ) -> None:
        """Raise ``error()`` unless the user passes the assignment gate (``may_use``). Each caller keeps its own
        AWS error: AccessDenied (JWT bearer, token exchange) or InvalidGrant (code, refresh token)."""
        if not self.may_use(application, user_id):
            raise error()

    def is_assigned(self, application: Application, user_id: str) -> bool:
        """The assignment gate: true if the user, or a group they belong to, is assigned to the application."""
        assigned = self._assigned.get(application.arn, set())
        if ("USER", user_id) in assigned:
            return True
        return any(("GROUP", gid) in assigned for gid in self._groups_of.get(user_id, ()))

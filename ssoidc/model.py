"""Domain model: frozen value objects for the configuration plane and the token service.

Names are snake_case and wire-neutral; ``ssoidc.aws`` and ``ssoidc.config`` translate to and from AWS's
PascalCase/camelCase shapes (sso-admin ``Application``, ``Grant``, ``TrustedTokenIssuer``...; identitystore
``User``, ``Group``...). ``ConfigSnapshot`` is an immutable snapshot of the whole configuration with the indexes the
hot path needs; it is rebuilt when the stored configuration's version changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

GRANT_AUTHORIZATION_CODE = "authorization_code"
GRANT_REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type name, not a secret
GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
TOKEN_TYPE_ACCESS = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
TOKEN_TYPE_REFRESH = "urn:ietf:params:oauth:token-type:refresh_token"  # noqa: S105

PrincipalType = Literal["USER", "GROUP"]


@dataclass(frozen=True, slots=True)
class Region:
    """An additional region of the instance (sso-admin AddRegion): recorded and listed, never served (ssoidc
    serves one region, ``Settings.region``, the primary one; docs/admin-api.md)."""

    name: str
    added_at: float = 0.0


@dataclass(frozen=True, slots=True)
class AccessControlAttribute:
    """One attribute of the instance's attribute-based access control (sso-admin ``AccessControlAttribute``): a
    key and its one value source (an identity-store attribute path such as ``${path:name.givenName}``)."""

    key: str
    source: str


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
    regions: tuple[Region, ...] = ()
    """The additional regions (AddRegion), in the order added; the primary region is not among them."""
    access_control_attributes: tuple[AccessControlAttribute, ...] | None = None
    """The attribute-based access control configuration (CreateInstanceAccessControlAttributeConfiguration);
    None while there is none (``()``: enabled with no attributes)."""
    identity_store_api_allow_ips: tuple[str, ...] = ()
    """identitystore UpdateIdentityStore ``NetworkConfiguration.ApiAllowSourceIps`` (CIDR ranges exempt from
    network controls; ssoidc has none to exempt them from, so they restrict nothing)."""
    identity_store_scim_allow_ips: tuple[str, ...] = ()
    """``NetworkConfiguration.ScimAllowSourceIps``, as ``identity_store_api_allow_ips``."""

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
    accept_unverified_email: bool = False
    """ssoidc extension (the file's ``AcceptUnverifiedEmail``; no sso-admin member): when false, an assertion
    mapped to a user by e-mail must say ``email_verified: true`` (the JWT-bearer grant)."""
    revision: int = field(default=0, compare=False)
    """Bumped by every sso-admin UpdateTrustedTokenIssuer, even one that changes nothing else: every node drops its
    cached JWKS of an issuer whose record or revision changed (``ssoidc.snapshot.issuer_changes``). Bookkeeping, not
    configuration: not in the file (``ssoidc apply`` keeps the stored one), not on the wire, and left out of
    equality, so an exported file still applies back to an equal configuration."""


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
    user_background_sessions: bool = False
    """sso-admin PutApplicationSessionConfiguration ``UserBackgroundSessionApplicationStatus`` (ENABLED / DISABLED,
    the default): recorded and returned; ssoidc starts no background sessions (docs/admin-api.md)."""


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
    revision: int = field(default=0, compare=False)
    """The stored row's revision (identitystore ``Revision``), set by the store on every read; 0 for a user not
    read from a store. Every write of the row gives it a new one, drawn from a store-wide counter, so a revision
    is never repeated for a row, even across ``ssoidc apply``. Bookkeeping, not data: not in the file, not in the
    row's document, and left out of equality."""


@dataclass(frozen=True, slots=True)
class Group:
    group_id: str
    display_name: str
    description: str = ""
    member_user_ids: tuple[str, ...] = ()
    external_ids: tuple[ExternalId, ...] = ()
    revision: int = field(default=0, compare=False)
    """As ``User.revision``: the stored row's revision (identitystore ``Revision``); memberships do not change it."""


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
class CustomerManagedPolicyReference:
    """A customer managed policy a permission set names (sso-admin ``CustomerManagedPolicyReference``): the IAM
    policy ``<path><name>`` expected in every account the permission set is provisioned to."""

    name: str
    path: str = "/"


@dataclass(frozen=True, slots=True)
class PermissionsBoundary:
    """A permission set's permissions boundary (sso-admin ``PermissionsBoundary``): exactly one of an AWS managed
    policy ARN or a customer managed policy reference."""

    managed_policy_arn: str = ""
    customer_managed_policy_reference: CustomerManagedPolicyReference | None = None


@dataclass(frozen=True, slots=True)
class PermissionSet:
    """An sso-admin permission set: the role (``AWSReservedSSO_<name>_<suffix>``) provisioned to the accounts
    it is assigned on, with its policies. One row per permission set (docs/permission-sets.md)."""

    arn: str
    name: str
    instance_arn: str
    description: str = ""
    session_duration: str = "PT1H"
    """ISO 8601 duration (sso-admin ``SessionDuration``): how long the portal's role credentials live."""
    relay_state: str = ""
    inline_policy: Mapping[str, Any] | None = None
    """The inline IAM policy document, parsed (None: none)."""
    managed_policy_arns: tuple[str, ...] = ()
    customer_managed_policies: tuple[CustomerManagedPolicyReference, ...] = ()
    permissions_boundary: PermissionsBoundary | None = None
    created_at: float = 0.0
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def permission_set_id(self) -> str:
        return self.arn.rsplit("/", 1)[1]


@dataclass(frozen=True, slots=True)
class AccountAssignment:
    """A principal (user or group) assigned a permission set on an AWS account (sso-admin ``AccountAssignment``)."""

    account_id: str
    permission_set_arn: str
    principal_type: PrincipalType
    principal_id: str


@dataclass(frozen=True, slots=True)
class Account:
    """An AWS account as the access portal shows it (sso ``AccountInfo``). ssoidc emulates no accounts: any 12-digit
    id may be assigned; declared accounts only give the portal a name and an e-mail (``account_info``)."""

    account_id: str
    name: str
    email: str


AccessRequestKind = Literal["assignment_creation", "assignment_deletion", "provisioning"]
ACCESS_CREATE_ASSIGNMENT: AccessRequestKind = "assignment_creation"
ACCESS_DELETE_ASSIGNMENT: AccessRequestKind = "assignment_deletion"
ACCESS_PROVISION: AccessRequestKind = "provisioning"


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """The status record of an asynchronous sso-admin request (CreateAccountAssignment, DeleteAccountAssignment,
    ProvisionPermissionSet): ssoidc completes them at once but keeps the record, so the Describe...Status and
    List...Status operations answer them. ``account_id`` is the target account ("" for a provisioning to all
    provisioned accounts); the principal is "" for a provisioning."""

    request_id: str
    kind: AccessRequestKind
    status: str
    """IN_PROGRESS, FAILED or SUCCEEDED (sso-admin ``StatusValues``)."""
    created_at: float
    permission_set_arn: str
    account_id: str = ""
    principal_type: str = ""
    principal_id: str = ""
    failure_reason: str = ""


@dataclass(frozen=True, slots=True)
class Role:
    """An IAM role declared in the configuration file (IAM ``CreateRole`` + ``PutRolePolicy``; docs/sts.md).

    ssoidc has no IAM API: roles come from the file only. STS ``AssumeRole`` assumes them
    (``ssoidc.iam.assume_role``): ``trust_policy`` (``AssumeRolePolicyDocument``) decides who may, ``policies``
    (the inline permission policies, name -> document) what the role's sessions may call on ssoidc's own APIs.
    """

    arn: str
    """``arn:aws:iam::<account>:role<path><name>``."""
    role_name: str
    role_id: str
    """``AROA`` + 17 characters derived from the account and name (``ssoidc.ids.unique_id``), stable."""
    trust_policy: Mapping[str, Any]
    path: str = "/"
    max_session_duration: int = 3600
    description: str = ""
    policies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Configuration:
    """Everything ``ssoidc apply`` declares, in domain form. Persisted by the storage layer."""

    instance: Instance
    trusted_token_issuers: tuple[TrustedTokenIssuer, ...] = ()
    applications: tuple[Application, ...] = ()
    users: tuple[User, ...] = ()
    groups: tuple[Group, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    accounts: tuple[Account, ...] = ()
    """Declared AWS accounts (names and e-mails for the portal): catalogue documents."""
    permission_sets: tuple[PermissionSet, ...] = ()
    """Per-entity rows, like the directory: written by ``replace_configuration``, empty in ``load_catalogue``."""
    account_assignments: tuple[AccountAssignment, ...] = ()
    """Per-entity rows, like the directory (their permission sets are provisioned to their accounts)."""
    roles: tuple[Role, ...] = ()


DEFAULT_ACCOUNT_EMAIL_DOMAIN = "example.com"


def account_info(config: Configuration, account_id: str) -> Account:
    """The account as the portal shows it: the declared one (``Accounts:`` in the file), else a default named by its
    id with the non-routable e-mail ``aws+<id>@example.com`` (RFC 2606)."""
    for account in config.accounts:
        if account.account_id == account_id:
            return account
    return Account(account_id, account_id, f"aws+{account_id}@{DEFAULT_ACCOUNT_EMAIL_DOMAIN}")


UNCONFIGURED_INSTANCE_ARN = "arn:aws:sso:::instance/ssoins-0000000000000000"


def unconfigured(account_id: str) -> Configuration:
    """The configuration of a store with no instance yet: a DELETED placeholder that sso-admin CreateInstance
    replaces (what a node serves, and what a first catalogue edit starts from)."""
    return Configuration(
        instance=Instance(
            UNCONFIGURED_INSTANCE_ARN, "d-0000000000", account_id, "unconfigured", status="DELETED"
        )
    )


class DirectoryReader(Protocol):
    """What request handling reads of the directory (``ssoidc.storage.base.DirectoryStore`` has it all)."""

    async def get_user(self, user_id: str) -> User | None: ...

    async def find_users(self, attribute: str, value: str, *, limit: int = 2) -> list[User]: ...

    async def is_assigned(self, application_arn: str, user_id: str) -> bool: ...


class ConfigDirectory:
    """A ``DirectoryReader`` over the users, groups and assignments of a ``Configuration`` held in memory (a file
    read by the CLI, tests). A serving node reads the store's directory tables instead."""

    def __init__(self, config: Configuration) -> None:
        self._users = {u.user_id: u for u in config.users}
        self._by_attr: dict[tuple[str, str], list[User]] = {}
        for u in config.users:
            keys = {("username", u.user_name.lower())}
            keys |= {("emails.value", e.value) for e in u.emails if e.value}
            for x in u.external_ids:
                keys |= {("externalids", x.id), (f"externalids.{x.issuer.lower()}", x.id)}
            for key in sorted(keys):
                self._by_attr.setdefault(key, []).append(u)
        groups_of: dict[str, set[str]] = {}
        for g in config.groups:
            for uid in g.member_user_ids:
                groups_of.setdefault(uid, set()).add(g.group_id)
        self._groups_of = groups_of
        self._assigned = {(a.application_arn, a.principal_type, a.principal_id) for a in config.assignments}

    async def get_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    async def find_users(self, attribute: str, value: str, *, limit: int = 2) -> list[User]:
        key = value.lower() if attribute == "username" else value
        return sorted(self._by_attr.get((attribute, key), []), key=lambda u: u.user_id)[:limit]

    async def is_assigned(self, application_arn: str, user_id: str) -> bool:
        if (application_arn, "USER", user_id) in self._assigned:
            return True
        return any((application_arn, "GROUP", g) in self._assigned for g in self._groups_of.get(user_id, ()))


#: ``users_by_attribute`` paths (lower case) -> the directory's lookup attribute.
_LOOKUP = {"username": "username", "emails.value": "emails.value", "externalids.id": "externalids"}


class ConfigSnapshot:
    """What one request sees: the catalogue (instance, issuers, applications) as an immutable, indexed snapshot,
    and the directory, read through ``directory`` (indexed store reads, never held whole in memory).

    ``version`` changes when the catalogue or the SigV4 credentials do, never for a directory write (the policy
    caches key on it); ``catalogue_version`` is the version of the catalogue's last write.
    """

    def __init__(
        self,
        config: Configuration,
        version: int,
        directory: DirectoryReader | None = None,
        *,
        catalogue_version: int | None = None,
    ) -> None:
        self.config = config
        self.version = version
        self.catalogue_version = version if catalogue_version is None else catalogue_version
        self.instance = config.instance
        self.applications: dict[str, Application] = {a.arn: a for a in config.applications}
        self.issuers: dict[str, TrustedTokenIssuer] = {t.arn: t for t in config.trusted_token_issuers}
        self.roles: dict[str, Role] = {r.arn: r for r in config.roles}
        self.directory: DirectoryReader = directory if directory is not None else ConfigDirectory(config)

    async def has_user(self, user_id: str) -> bool:
        return await self.directory.get_user(user_id) is not None

    async def users_by_attribute(self, path: str, value: str) -> list[str]:
        """Ids of the users (at most two: callers need exactly one) whose identity-store attribute at ``path``
        equals ``value`` exactly.

        Supported paths (case-insensitive): ``userName``, ``emails.value``, ``externalIds.id`` (any issuer) and
        ``externalIds.<issuer>`` (the id under that issuer). Unknown paths match nobody.
        """
        key = path.lower()
        attribute = _LOOKUP.get(key) or (key if key.startswith("externalids.") else None)
        if attribute is None:
            return []
        found = await self.directory.find_users(attribute, value, limit=2)
        if (
            attribute == "username"
        ):  # the store compares names case-insensitively; a mapped claim must match exactly
            found = [u for u in found if u.user_name == value]
        return [u.user_id for u in found][:2]

    async def may_use(self, application: Application, user_id: str) -> bool:
        """The assignment gate (sso-admin ``AssignmentRequired``): true if the application does not require
        assignment, or the user is assigned to it (``is_assigned``)."""
        return not application.assignment_required or await self.is_assigned(application, user_id)

    async def require_assigned(
        self, application: Application, user_id: str, error: Callable[[], Exception]
    ) -> None:
        """Raise ``error()`` unless the user passes the assignment gate (``may_use``). Each caller keeps its own
        AWS error: AccessDenied (JWT bearer, token exchange) or InvalidGrant (code, refresh token)."""
        if not await self.may_use(application, user_id):
            raise error()

    async def is_assigned(self, application: Application, user_id: str) -> bool:
        """The assignment gate: true if the user, or a group they belong to, is assigned to the application."""
        return await self.directory.is_assigned(application.arn, user_id)

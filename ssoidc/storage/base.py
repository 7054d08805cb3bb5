"""Storage contracts: narrow Protocols per need (fosite's per-handler storage).

The domain (``ssoidc.oauth``, ``ssoidc.config``) depends only on these. Three implementations keep the same
contract (tests/storage/test_contract.py runs on each): ``ssoidc.storage.sqlite`` (one file, several worker
processes), ``ssoidc.storage.postgres`` (several nodes on one database) and ``ssoidc.storage.memory`` (dicts, for
tests only). Tokens and secrets are stored only as hashes
(tokens) or encrypted under the master key (secrets the server must read back, such as SigV4 secret keys).
Single-use artefacts are consumed with conditional writes, never read-then-write.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson

from ssoidc.model import (
    AccessRequest,
    AccessRequestKind,
    AccountAssignment,
    Assignment,
    Configuration,
    ExternalId,
    Group,
    Membership,
    PermissionSet,
    User,
)


class StorageError(Exception):
    """An unexpected storage failure (driver error). Never shown to clients verbatim."""


class JtiReplay(Exception):
    """The (issuer, jti) pair was already redeemed."""


class AlreadyExists(Exception):
    """A create found its key taken (a credential's access key id): nothing was written.

    An internal signal between a store and its callers, deliberately not a ``KeyError``, so a ``KeyError`` bug is
    never mistaken for a duplicate.
    """


class Missing(Exception):
    """A directory write named a row that does not exist (``kind``: user, group, application, membership).

    Nothing was written. Like ``AlreadyExists``, an internal signal the domain maps to its own error.
    """

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(kind, key)
        self.kind = kind
        self.key = key


class QuotaReached(Exception):
    """A create found as many rows of its kind as the limit its caller passed: nothing was written. Counted in the
    write's own transaction, so concurrent creates cannot pass the limit together. An internal signal, like
    ``Missing``."""


class InUse(Exception):
    """A delete named a row that others still reference (``kind``: what references it, e.g.
    ``account_assignment``): nothing was written. An internal signal, like ``Missing``."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(kind, key)
        self.kind = kind
        self.key = key


class StaleRevision(Exception):
    """A conditional directory write (``expected_revision``) found the row at another revision: nothing was
    written. Like ``Missing``, an internal signal the domain maps to its own error (identitystore
    ``ConflictException`` with reason CONCURRENT_MODIFICATION)."""


class VersionConflict(Exception):
    """A conditional configuration write lost a race: the stored version moved, or the idempotency key exists.

    Nothing was written; the caller reloads and retries (optimistic concurrency).
    """


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """The remembered outcome of an admin call made with a ``ClientToken`` (sso-admin idempotency).

    ``key`` names the operation, the caller and the token; ``request_sha256`` fingerprints the request so a reused
    token with a different request is detected; ``response`` is the JSON the first call answered.
    """

    key: str
    request_sha256: bytes
    response: str
    created_at: float


IDEMPOTENCY_TTL_SECONDS = 24 * 3600.0
"""How long a ClientToken is remembered; ``purge_expired`` removes older records."""


@dataclass(frozen=True, slots=True)
class StoredCredential:
    """A SigV4 credential in the registry. ``secret_access_key`` is decrypted; it is encrypted at rest."""

    access_key_id: str
    secret_access_key: str = field(repr=False)  # never in a log line or a traceback's repr
    principal_arn: str
    session_token_sha256: bytes | None = None
    policy: Mapping[str, Any] | None = None
    description: str = ""
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class SessionCredentialRecord:
    """Temporary SigV4 credentials (the portal's GetRoleCredentials, STS AssumeRole; migration 0015).

    ``secret_access_key`` is decrypted here and sealed at rest; the session token is never stored, only its
    SHA-256. ``source`` is the ARN of what grants the session its authority (a permission set ARN for a portal
    role, an IAM role ARN for AssumeRole); ``role_arn`` is the role the session is of, with its path;
    ``on_behalf_of_*`` name the Identity Center user an identity-enhanced session acts for; ``session_policy``
    (an IAM policy document) can only narrow what ``source`` grants."""

    access_key_id: str
    secret_access_key: str = field(repr=False)  # never in a log line or a traceback's repr
    session_token_sha256: bytes
    principal_arn: str
    source: str
    issued_at: float
    expires_at: float
    role_arn: str | None = None
    on_behalf_of_user_id: str | None = None
    on_behalf_of_identity_store_arn: str | None = None
    session_policy: Mapping[str, Any] | None = None


SESSION_PURGE_GRACE_SECONDS = 3600.0
"""Session credentials are purged this long after they expire (until then a request signed with them is told
that they expired, rather than that they are unknown)."""


class SessionCredentialStore(Protocol):
    """Session credentials by access key id: one indexed row each, never all loaded at once."""

    async def create_session_credential(self, cred: SessionCredentialRecord) -> None:
        """Store ``cred`` (``AlreadyExists`` if its access key id is taken: nothing written). Does not bump the
        configuration version: session credentials are not part of the configuration."""
        ...

    async def get_session_credential(self, access_key_id: str) -> SessionCredentialRecord | None:
        """The session credential of this access key id, expired or not (until purged)."""
        ...


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    purpose: str
    alg: str
    private_pem: bytes
    created_at: float
    active: bool


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """One issued access or refresh token, by hash. ``context`` carries what later grants need to continue."""

    token_hash: bytes
    kind: Literal["access", "refresh"]
    family_id: str
    parent_hash: bytes | None
    application_arn: str
    user_id: str
    scopes: tuple[str, ...]
    issued_at: float
    expires_at: float
    session_expires_at: float
    grant_type: str
    context: Mapping[str, Any] = field(default_factory=dict)
    revoked_at: float | None = None
    retired_at: float | None = None


@dataclass(frozen=True, slots=True)
class CodeRecord:
    """An authorization code, by hash, bound to application, user, redirect URI and PKCE challenge; ``nonce`` is
    the authorization request's OpenID Connect nonce, returned in the code's idToken (OIDC Core 3.1.3.6)."""

    code_hash: bytes
    application_arn: str
    user_id: str
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None
    scopes: tuple[str, ...]
    family_id: str
    issued_at: float
    expires_at: float
    session_expires_at: float
    auth_time: float
    consumed_at: float | None = None
    nonce: str | None = None


class Redemption(enum.Enum):
    """Outcome of a single-use redemption (refresh-token rotation or code redemption)."""

    OK = "ok"
    """Redeemed now; the new tokens were stored in the same transaction."""
    RETRY_IN_GRACE = "grace"
    """A refresh token retired moments ago (inside the grace window): refused, family left alone."""
    REUSED = "reused"
    """Already redeemed: the whole family was revoked in the same transaction."""
    INVALID = "invalid"
    """Unknown, expired, revoked or bound elsewhere: refused, nothing written."""


class ConfigStore(Protocol):
    async def config_version(self) -> int:
        """The configuration version, cheap enough to ask on every request.

        It reflects this store's own writes at once; writes made through other store instances (other workers,
        other nodes) may show up to one second late (PostgreSQL pushes them with NOTIFY, normally within
        milliseconds). ``load_configuration`` always reads the stored version.
        """
        ...

    async def load_configuration(self) -> tuple[Configuration | None, int]: ...

    async def replace_configuration(
        self,
        config: Configuration,
        *,
        expected_version: int | None = None,
        idempotency: IdempotencyRecord | None = None,
        revoke_subjects: Sequence[str] = (),
        now: float = 0.0,
    ) -> int:
        """Replace the whole configuration (catalogue and directory: ``ssoidc apply``) and bump the version, as one
        transaction; returns the new version.

        * ``expected_version``: write only if the stored version still equals it, else raise ``VersionConflict``.
        * ``idempotency``: insert this record in the same transaction; raise ``VersionConflict`` (writing
          nothing) if a record with its key already exists.
        * ``revoke_subjects``: ``"user:<user id>"`` / ``"application:<arn>"`` markers stamped with ``now``; every
          token of that user or application issued at or before ``now`` is revoked from then on (``find_token``
          reports ``revoked_at``; ``rotate_refresh`` and ``redeem_code`` answer INVALID).
        """
        ...

    async def load_catalogue(self) -> tuple[Configuration | None, int]:
        """The instance, trusted token issuers and applications, and the version; the directory fields (users,
        groups, assignments) are empty: they are read per entity (``DirectoryStore``)."""
        ...

    async def edit_catalogue(
        self, change: Callable[[Configuration | None], CatalogueWrite], *, now: float = 0.0
    ) -> int:
        """Read the stored catalogue (None: no instance yet) and write what ``change`` makes of it, in one
        transaction that excludes every other configuration write, so catalogue edits never lose a race and never
        retry; returns the new version. ``change`` is a pure, quick function; if it raises, nothing is written.

        Rows that did not change are left alone, an application that is gone takes its assignments with it, and
        when the instance is replaced or no longer ACTIVE the whole directory is emptied and its users' tokens
        revoked. ``CatalogueWrite.idempotency`` is inserted in the same transaction (``VersionConflict``, writing
        nothing, if its key exists); ``revoke_subjects`` as in ``replace_configuration``.
        """
        ...

    async def get_idempotency(self, key: str) -> IdempotencyRecord | None: ...


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change feed: the configuration version a write made, and an entity it changed.

    ``kind`` is ``catalogue`` (the instance, trusted token issuers and applications: ``key`` empty),
    ``credential`` (an access key id), ``user``, ``group`` (an id), ``membership`` (``<group id>|<user id>``) or
    ``assignment`` (``<application ARN>|<principal type>|<principal id>``), ``permission_set`` (an ARN),
    ``account_assignment`` (``<account id>|<permission set ARN>|<principal type>|<principal id>``) or
    ``provisioning`` (``<permission set ARN>|<account id>``); ``directory`` (empty key) means the whole
    directory (with the permission sets and account assignments) was replaced (``replace_configuration``, an
    instance deleted).
    """

    version: int
    kind: str
    key: str


def external_key(x: ExternalId) -> str:
    """The ``externalid`` lookup value of ``DirectoryStore``: the pair as a JSON array (unambiguous whatever the
    two strings hold)."""
    return orjson.dumps([x.issuer, x.id]).decode()


CHANGE_RETENTION = 10_000
"""How many versions of change-feed entries ``purge_expired`` keeps; a reader further behind reloads everything."""


class DirectoryStore(Protocol):
    """The identity store and the application assignments, one row per entity (identitystore, sso-admin).

    Every write is one transaction that touches only the rows it names and what they cascade to; it bumps the
    configuration version and records a ``Change`` per entity, so two writes conflict only when they touch the
    same entity (or the same unique name). Uniqueness and references are enforced by the store: ``AlreadyExists``
    (``args[0]``: ``user_id``, ``user_name``, ``group_id``, ``group_name`` or ``membership``) and ``Missing``.

    Lookup attributes (``find_users`` / ``find_groups``): ``username`` (a user's UserName, case-insensitively),
    ``displayname`` (a group's DisplayName, exactly), ``emails.value``, ``externalids`` (an external id's Id under
    any issuer), ``externalids.<issuer in lower case>`` (the Id under that issuer) and ``externalid`` (the exact
    pair, as ``external_key`` writes it: a JSON array). Lists are ordered by id, and ``after`` is
    the last id of the previous page. Groups are returned without their members (``member_user_ids`` is empty): memberships have their own rows.

    Revisions (identitystore ``Revision``, migration 0014): every user and group row has one, returned in
    ``User.revision`` / ``Group.revision`` by every read. Each write of a row (create, update, ``ssoidc apply``)
    gives it the next value of one store-wide counter, so a row never sees the same revision twice; rows that
    predate migration 0014 start at 1.
    """

    async def get_user(self, user_id: str) -> User | None: ...

    async def find_users(self, attribute: str, value: str, *, limit: int = 2) -> list[User]: ...

    async def list_users(self, *, after: str = "", limit: int = 100) -> list[User]: ...

    async def create_user(self, user: User) -> int:
        """Store the user; returns its first revision (``AlreadyExists`` for a taken id or name)."""
        ...

    async def update_user(self, user: User, *, expected_revision: int | None = None) -> int:
        """Replace the stored user of ``user.user_id``; returns the row's new revision. ``Missing`` if none;
        ``AlreadyExists`` for a taken name; with ``expected_revision``, ``StaleRevision`` (nothing written) unless
        the row is still at that revision, checked by the write's own statement."""
        ...

    async def delete_user(self, user_id: str, *, now: float, expected_revision: int | None = None) -> bool:
        """Delete the user, its memberships, application and account assignments, and revoke its tokens
        (``user:<id>`` at ``now``), in one transaction; False if there is none. With ``expected_revision``, ``StaleRevision`` (nothing written) unless the row is
        still at that revision."""
        ...

    async def get_group(self, group_id: str) -> Group | None: ...

    async def find_groups(self, attribute: str, value: str, *, limit: int = 2) -> list[Group]: ...

    async def list_groups(self, *, after: str = "", limit: int = 100) -> list[Group]: ...

    async def create_group(self, group: Group) -> int:
        """Store the group; returns its first revision."""
        ...

    async def update_group(self, group: Group, *, expected_revision: int | None = None) -> int:
        """As ``update_user``, for a group (memberships are not touched)."""
        ...

    async def delete_group(self, group_id: str, *, expected_revision: int | None = None) -> bool:
        """Delete the group with its memberships, application and account assignments, in one transaction (members' tokens are not revoked); as
        ``delete_user`` for ``expected_revision``."""
        ...

    async def get_membership(self, membership_id: str) -> Membership | None: ...

    async def find_membership(self, group_id: str, user_id: str) -> Membership | None: ...

    async def list_memberships(
        self, *, group_id: str | None = None, user_id: str | None = None, after: str = "", limit: int = 100
    ) -> list[Membership]:
        """Memberships of a group, or of a user, ordered by membership id."""
        ...

    async def member_groups(self, user_id: str, group_ids: Sequence[str]) -> set[str]:
        """Which of ``group_ids`` the user is a member of."""
        ...

    async def create_membership(self, membership: Membership) -> None:
        """``Missing("group" | "user")`` if either is gone; ``AlreadyExists("membership")`` for the same pair."""
        ...

    async def delete_membership(self, membership_id: str) -> bool: ...

    async def is_assigned(self, application_arn: str, user_id: str) -> bool:
        """True if the user, or a group the user is a member of, is assigned to the application."""
        ...

    async def has_assignment(self, assignment: Assignment) -> bool: ...

    async def list_assignments(
        self,
        *,
        application_arn: str | None = None,
        principal: tuple[str, str] | None = None,
        after: str = "",
        limit: int = 100,
    ) -> list[Assignment]:
        """An application's assignments ordered by ``<type>/<principal id>``, or a principal's (``(type, id)``)
        ordered by application ARN; ``after`` is that key of the previous page's last item."""
        ...

    async def create_assignment(self, assignment: Assignment) -> bool:
        """Store the assignment; False if it existed (nothing written). ``Missing("application" | "user" |
        "group")`` if what it names is gone."""
        ...

    async def delete_assignment(self, assignment: Assignment) -> bool: ...

    async def changes_since(self, version: int, *, limit: int = 1000) -> list[Change] | None:
        """The changes after ``version``, oldest first, at most ``limit``; None if the feed no longer reaches back
        to ``version`` (or holds more than ``limit``): the reader then reloads everything."""
        ...


class AccountAccessReader(Protocol):
    """What the access portal and the credential issuer read of permission sets and account assignments."""

    async def get_permission_set(self, arn: str) -> PermissionSet | None: ...

    async def account_roles(self, user_id: str) -> list[tuple[str, str]]:
        """(account_id, permission_set_arn) assigned to the user directly or through any group they belong
        to: distinct, sorted by account id then permission set name."""
        ...


class AccountAccessStore(AccountAccessReader, Protocol):
    """Permission sets, account assignments, provisioning state and the asynchronous request records of sso-admin,
    one row per entity (migration 0013), like the directory.

    Every write is one transaction that bumps the configuration version and records a ``Change`` per entity it
    changes. Permission set names are unique case-insensitively (``AlreadyExists("permission_set_name")``; a
    taken ARN is ``AlreadyExists("permission_set")``). An account assignment references its permission set and
    its principal (deleting either deletes it); a permission set is provisioned to an account while it has an
    assignment there, or after ``provision_permission_set`` named the account, until its last assignment there
    is deleted. A provisioning is ``outdated`` when the permission set changed after it. Lists are ordered by
    the key each method names, and ``after`` is that key of the previous page's last item.
    """

    async def list_permission_sets(self, *, after: str = "", limit: int = 100) -> list[PermissionSet]:
        """Ordered by ARN."""
        ...

    async def create_permission_set(self, permission_set: PermissionSet, *, limit: int = 0) -> None:
        """Store a new permission set: ``AlreadyExists("permission_set" | "permission_set_name")`` if its ARN or
        name is taken; with ``limit``, ``QuotaReached`` if that many permission sets exist already (counted in the
        write's transaction, concurrent creates queued). Nothing is written either way."""
        ...

    async def update_permission_set(self, permission_set: PermissionSet, *, outdated: bool = True) -> None:
        """Replace the stored permission set (``Missing("permission_set")`` if none); ``outdated``: its
        provisionings no longer match it (a change of what is provisioned, not of its tags)."""
        ...

    async def edit_permission_set(
        self, arn: str, change: Callable[[PermissionSet], tuple[PermissionSet, bool]]
    ) -> PermissionSet:
        """Read the stored permission set and write what ``change`` makes of it, ``(new, outdated)``, in one
        transaction that excludes every other write of it (no lost update, no retry); returns the new one.
        ``Missing("permission_set")`` if there is none; if ``change`` raises, nothing is written. The ARN and
        the name stay (``change`` keeps them)."""
        ...

    async def delete_permission_set(self, arn: str) -> bool:
        """Delete the permission set with its provisionings; False if there was none. ``InUse("account_assignment")``
        (nothing written) while an account assignment names it."""
        ...

    async def list_account_assignments(
        self, account_id: str, permission_set_arn: str, *, after: str = "", limit: int = 100
    ) -> list[AccountAssignment]:
        """The assignments of a permission set on an account, ordered by ``<principal type>/<principal id>``."""
        ...

    async def list_principal_account_assignments(
        self,
        principal_type: str,
        principal_id: str,
        *,
        account_id: str | None = None,
        after: str = "",
        limit: int = 100,
    ) -> list[AccountAssignment]:
        """A principal's assignments (on one account if given), ordered by ``<account id>|<permission set ARN>``."""
        ...

    async def create_account_assignment(self, assignment: AccountAssignment, request: AccessRequest) -> bool:
        """Store the assignment, provision its permission set to its account and store ``request``, in one
        transaction; False if the assignment existed (the request is still stored). ``Missing("permission_set" |
        "user" | "group")`` (nothing written) if what it names is gone."""
        ...

    async def delete_account_assignment(self, assignment: AccountAssignment, request: AccessRequest) -> bool:
        """Delete the assignment (its account's provisioning too, if it was the last assignment of the permission
        set there) and store ``request``; False (nothing written) if there was no such assignment."""
        ...

    async def provision_permission_set(self, request: AccessRequest) -> None:
        """Provision ``request.permission_set_arn`` to ``request.account_id`` (to every account it is provisioned
        to when that is ""): the provisionings are no longer outdated; store ``request``. ``Missing
        ("permission_set")`` (nothing written) if it is gone."""
        ...

    async def list_provisioned_accounts(
        self, permission_set_arn: str, *, outdated: bool | None = None, after: str = "", limit: int = 100
    ) -> list[str]:
        """Accounts the permission set is provisioned to (only outdated ones, or only current ones, if
        ``outdated`` is given), ordered by account id."""
        ...

    async def list_provisioned_permission_sets(
        self, account_id: str, *, outdated: bool | None = None, after: str = "", limit: int = 100
    ) -> list[str]:
        """ARNs of the permission sets provisioned to the account, ordered by ARN."""
        ...

    async def get_access_request(self, request_id: str) -> AccessRequest | None: ...

    async def list_access_requests(
        self, kind: AccessRequestKind, *, status: str | None = None, after: str = "", limit: int = 100
    ) -> list[AccessRequest]:
        """The stored requests of ``kind`` (with ``status``, if given), ordered by request id."""
        ...


@dataclass(frozen=True, slots=True)
class CatalogueWrite:
    """What an ``edit_catalogue`` change writes: the new catalogue (its directory fields are ignored), the
    idempotency record of the call, and the subjects whose tokens die."""

    config: Configuration
    idempotency: IdempotencyRecord | None = None
    revoke_subjects: Sequence[str] = ()


class CredentialStore(Protocol):
    async def load_credentials(self) -> list[StoredCredential]: ...

    async def create_credential(self, cred: StoredCredential) -> None:
        """Register ``cred`` and bump the configuration version; ``AlreadyExists`` if its access key id is taken."""
        ...

    async def delete_credential(self, access_key_id: str) -> bool: ...


class KeyStore(Protocol):
    async def signing_keys(self, purpose: str) -> list[SigningKey]: ...

    async def ensure_signing_key(
        self, purpose: str, alg: str, make: Callable[[], tuple[str, bytes]]
    ) -> SigningKey:
        """The newest active key of ``purpose`` and ``alg``; if there is none, ``make()`` gives ``(kid, private PEM)``
        and that key is stored (sealed), exactly once however many stores ask at once."""
        ...

    async def get_meta(self, key: str) -> str | None: ...

    async def put_meta_if_absent(self, key: str, value: str) -> str: ...


class TokenStore(Protocol):
    async def issue(
        self,
        tokens: Sequence[TokenRecord],
        *,
        jti: tuple[str, str, float] | None = None,
        family_cap: int = 0,
    ) -> None:
        """Insert ``tokens`` and (if given) mark ``(issuer, jti)`` used until its expiry, atomically.

        Raises ``JtiReplay`` (and writes nothing) if the jti was already used. ``family_cap`` > 0: if ``tokens``
        start a refresh-token family (a refresh token without a parent), at most ``family_cap`` families started
        this way stay live for its user and application: the one started ``family_cap`` families earlier is
        revoked in the same transaction (the oldest; migration 0011), however many nodes start families at once.
        """
        ...

    async def find_token(self, token_hash: bytes) -> TokenRecord | None: ...

    async def purge_expired(self, now: float, limit: int = 1000) -> int: ...

    async def rotate_refresh(
        self,
        old_hash: bytes,
        application_arn: str,
        now: float,
        grace_seconds: float,
        tokens: Sequence[TokenRecord],
    ) -> Redemption:
        """Retire refresh token ``old_hash`` and store ``tokens``, as one conditional write.

        Succeeds only if the token is a live (unretired, unrevoked, unexpired) refresh token of
        ``application_arn``. If it was already retired: inside ``grace_seconds`` of its retirement the request is
        refused (RETRY_IN_GRACE); later, its whole family is revoked (REUSED).
        """
        ...

    async def revoke_family(self, family_id: str, now: float, expires_at: float) -> int: ...

    async def revoke_token(self, token_hash: bytes, now: float) -> bool:
        """Revoke one token (RFC 7009 section 2.1: an access token ends alone); True if this call revoked it (False:
        no such token, or already revoked: the first revocation stands)."""
        ...


class CodeStore(Protocol):
    async def create_code(self, code: CodeRecord) -> None: ...

    async def find_code(self, code_hash: bytes) -> CodeRecord | None: ...

    async def redeem_code(
        self,
        code_hash: bytes,
        application_arn: str,
        now: float,
        tokens: Sequence[TokenRecord],
        *,
        family_cap: int = 0,
    ) -> Redemption:
        """Consume the code and store ``tokens`` atomically; a second redemption revokes the code's family.
        ``family_cap``: as ``TokenStore.issue``, when the redemption succeeds."""
        ...


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """A public client registered with RegisterClient (AWS SSO OIDC ``RegisterClient``; RFC 7591 section 3.2.1).

    No secret is stored: the client secret is sealed for this ``client_id`` and ``expires_at`` and verified by
    opening it (``ssoidc.oauth.clients``). ``grant_types`` is None when the registration named none."""

    client_id: str
    client_name: str
    client_type: str
    scopes: tuple[str, ...]
    grant_types: tuple[str, ...] | None
    redirect_uris: tuple[str, ...]
    issuer_url: str | None
    entitled_application_arn: str | None
    created_at: float
    expires_at: float


DEVICE_PENDING = "pending"
DEVICE_APPROVED = "approved"
DEVICE_DENIED = "denied"
DEVICE_CONSUMED = "consumed"


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A device authorization (RFC 8628 section 3.2): the device code and the user code, both only as hashes
    (the user code keyed), its client, scopes and lifetime, the polling state and the user's decision."""

    device_hash: bytes
    user_code_hash: bytes
    client_id: str
    scopes: tuple[str, ...]
    start_url: str
    family_id: str
    issued_at: float
    expires_at: float
    interval: float
    status: str = DEVICE_PENDING
    user_id: str | None = None
    auth_time: float | None = None
    decided_at: float | None = None
    last_poll_at: float | None = None


@dataclass(frozen=True, slots=True)
class DevicePoll:
    """What one poll of a device code found (``PublicClientStore.poll_device``): the row after the poll, and
    whether the poll came sooner than the interval allows (the interval then grew by 5 s, RFC 8628 3.5)."""

    device: DeviceRecord
    slow_down: bool


class PublicClientStore(Protocol):
    """Registrations of public clients and their device authorizations (RegisterClient,
    StartDeviceAuthorization, CreateToken's device-code grant; RFC 8628)."""

    async def create_client(self, client: ClientRecord) -> None:
        """Store a registration (``AlreadyExists`` if its client id is taken: nothing written)."""
        ...

    async def get_client(self, client_id: str) -> ClientRecord | None: ...

    async def create_device(self, device: DeviceRecord) -> None:
        """Store a pending device authorization; ``AlreadyExists`` (nothing written) if its device code hash or
        user code hash is taken, so the caller draws another user code."""
        ...

    async def find_device_by_user_code(self, user_code_hash: bytes, now: float) -> DeviceRecord | None:
        """The pending, unexpired device authorization of this user code, if any."""
        ...

    async def decide_device(
        self, user_code_hash: bytes, now: float, *, approve: bool, user_id: str, auth_time: float
    ) -> DeviceRecord | None:
        """Approve or deny the pending, unexpired device authorization of this user code, as one conditional
        write; None if there was none (unknown, expired, already decided)."""
        ...

    async def poll_device(
        self, device_hash: bytes, client_id: str, now: float, *, leeway: float, max_interval: float
    ) -> DevicePoll | None:
        """Record a poll of the device code (RFC 8628 section 3.4) as one conditional write: a poll sooner than
        ``interval - leeway`` after the previous one is a slow-down, which adds 5 s to the interval (at most
        ``max_interval``). None if the device code is unknown, another client's, or already redeemed."""
        ...

    async def redeem_device(
        self,
        device_hash: bytes,
        client_id: str,
        now: float,
        tokens: Sequence[TokenRecord],
        *,
        family_cap: int = 0,
    ) -> bool:
        """Mark the approved, unexpired device code consumed and store ``tokens``, atomically; False (nothing
        written) if it is not approved, expired or already consumed: a device code is redeemed once.
        ``family_cap``: as ``TokenStore.issue``, when the redemption succeeds."""
        ...


@dataclass(frozen=True, slots=True)
class WebSession:
    user_id: str
    auth_time: float
    expires_at: float


class SignInStore(Protocol):
    async def set_password_hash(self, user_id: str, password_hash: str, now: float) -> None: ...

    async def get_password_hash(self, user_id: str) -> str | None: ...

    async def create_web_session(self, sid_hash: bytes, session: WebSession) -> None: ...

    async def get_web_session(self, sid_hash: bytes, now: float) -> WebSession | None: ...

    async def delete_web_session(self, sid_hash: bytes) -> None: ...

    async def locked_until(self, key: str, now: float) -> float | None: ...

    async def record_failure(
        self, key: str, now: float, *, window: float, threshold: int, lock_seconds: float
    ) -> float | None:
        """Count a failed attempt; returns the lock's end if this failure (or an earlier one) locked ``key``."""
        ...

    async def clear_failures(self, key: str) -> None: ...


class Store(
    ConfigStore,
    DirectoryStore,
    AccountAccessStore,
    CredentialStore,
    SessionCredentialStore,
    KeyStore,
    TokenStore,
    CodeStore,
    SignInStore,
    PublicClientStore,
    Protocol,
):
    """Everything a node needs. Implementations: ``SqliteStore``, ``PostgresStore``, ``MemoryStore`` (tests)."""

    kind: str
    """``sqlite``, ``postgresql`` or ``memory``: what ``/readyz`` names (never a path or a URL)."""

    def start_background(self) -> None:
        """Start the store's own background work in a serving process (SQLite: WAL checkpoints off the request
        path); a store without any does nothing. Call it once, from the process that serves."""
        ...

    async def ping(self) -> None:
        """Read one row (the configuration version) from the database; raises ``StorageError`` if it cannot."""
        ...

    async def close(self) -> None: ...

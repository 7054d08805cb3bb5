"""The access portal's domain (the ``sso`` service's ListAccounts, ListAccountRoles, GetRoleCredentials, Logout):
a user's accounts and roles, and role credentials that work (no AWS wire names; ``ssoidc.aws.sso`` maps them).

* The bearer (``PortalSession``): a live access token ssoidc issued to a public client registration (CreateToken:
  the device or authorization-code flow, ``aws sso login``) carrying ``sso:account:access``, of a user who still
  exists. Anything else (unknown, forged, expired, revoked, a refresh token, an application's token, a token
  without the scope) is ``PortalUnauthorized``.
* The user's roles: the ``(account, permission set)`` pairs assigned to the user or to a group of the user
  (``AccountAccessReader.account_roles``); the role name is the permission set's name, as in AWS.
* Role credentials: session credentials (``ssoidc.credentials.session``) for
  ``arn:aws:sts::<account>:assumed-role/AWSReservedSSO_<PermissionSet>_<suffix>/<user name>``, of the role
  ``arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_<PermissionSet>_<suffix>``, whose
  authority is the permission set (``source``: its ARN), for the permission set's session duration. A role the
  user does not have on that account, and any account the user has no role on (whether or not it is declared),
  is ``PortalForbidden`` ("No access"): nothing tells which accounts exist.
* Logout ends the bearer's token family (the access token and the refresh token it came with): one revocation
  row, seen by every node at once. Credentials already issued stay valid until they expire, as in AWS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ssoidc.admin.permission_sets import session_seconds
from ssoidc.credentials.session import (
    MAX_DURATION_SECONDS,
    MIN_DURATION_SECONDS,
    MintedCredentials,
    SessionCredentials,
)
from ssoidc.errors import PortalForbidden, PortalUnauthorized, ValidationFailed
from ssoidc.ids import assumed_role_arn, permission_set_role_arn, permission_set_role_name
from ssoidc.model import Account, Configuration, PermissionSet, User, account_info
from ssoidc.oauth.request import is_public_client_owner
from ssoidc.oauth.tokens import TokenMinter
from ssoidc.storage.base import AccountAccessReader, TokenRecord

PORTAL_SCOPE = "sso:account:access"
"""The scope a bearer token must carry for the portal (what ``aws sso login`` registers for)."""
UNAUTHORIZED = "Session token not found or invalid"
"""AWS's message (spec section 7)."""
NO_ACCESS = "No access"

_SESSION_UNSAFE = re.compile(r"[^\w+=,.@-]", re.ASCII)


def duration_seconds(iso: str) -> int:
    """A permission set's ``SessionDuration`` in seconds (``ssoidc.admin.permission_sets.session_seconds``, the
    parser sso-admin validates it with, so ``P0DT8H`` means what it meant when written), within what STS allows;
    anything unreadable is the default hour."""
    try:
        seconds = session_seconds(iso)
    except ValidationFailed:
        return 3600
    return min(MAX_DURATION_SECONDS, max(MIN_DURATION_SECONDS, int(seconds)))


def session_name(user_name: str) -> str:
    """The role session name of a user: the user name, with characters a session name may not hold
    (``[\\w+=,.@-]``) replaced by ``-``, at most 64 characters (STS's limits)."""
    return _SESSION_UNSAFE.sub("-", user_name)[:64] or "user"


class PortalStore(AccountAccessReader, Protocol):
    async def find_token(self, token_hash: bytes) -> TokenRecord | None: ...

    async def revoke_family(self, family_id: str, now: float, expires_at: float) -> int: ...

    async def get_user(self, user_id: str) -> User | None: ...


@dataclass(frozen=True, slots=True)
class PortalSession:
    """The user a bearer token stands for, and the token."""

    user: User
    token: TokenRecord


@dataclass(frozen=True, slots=True)
class PortalRole:
    """A role of the user on an account: a permission set assigned there."""

    account_id: str
    permission_set: PermissionSet

    @property
    def role_name(self) -> str:
        return self.permission_set.name


class Portal:
    """See the module docstring."""

    def __init__(
        self,
        *,
        store: PortalStore,
        minter: TokenMinter,
        sessions: SessionCredentials,
        catalogue: Callable[[], Configuration],
        now: Callable[[], float],
    ) -> None:
        self._store = store
        self._minter = minter
        self._sessions = sessions
        self._catalogue = catalogue
        self._now = now

    async def session(self, bearer: str) -> PortalSession:
        """The bearer's user, or ``PortalUnauthorized``."""
        token_hash = self._minter.check(bearer, "access")  # a forged or mistyped token costs no store read
        token = None if token_hash is None else await self._store.find_token(token_hash)
        if (
            token is None
            or token.kind != "access"
            or token.revoked_at is not None
            or token.expires_at <= self._now()
            or not is_public_client_owner(token.application_arn)
            or PORTAL_SCOPE not in token.scopes
        ):
            raise PortalUnauthorized(UNAUTHORIZED)
        user = await self._store.get_user(token.user_id)
        if user is None:
            raise PortalUnauthorized(UNAUTHORIZED)
        return PortalSession(user, token)

    async def roles(self, session: PortalSession) -> list[PortalRole]:
        """Every role of the user, by account id then role name (permission sets of another instance, or gone
        since the assignment was read, are left out)."""
        instance = self._catalogue().instance
        out: list[PortalRole] = []
        sets: dict[str, PermissionSet | None] = {}
        for account_id, arn in await self._store.account_roles(session.user.user_id):
            if arn not in sets:
                sets[arn] = await self._store.get_permission_set(arn)
            ps = sets[arn]
            if ps is not None and instance is not None and ps.instance_arn == instance.instance_arn:
                out.append(PortalRole(account_id, ps))
        out.sort(key=lambda r: (r.account_id, r.role_name))
        return out

    async def accounts(self, session: PortalSession) -> list[Account]:
        """The accounts the user has a role on, by id, with their declared (or default) name and e-mail."""
        config = self._catalogue()
        ids = sorted({r.account_id for r in await self.roles(session)})
        return [account_info(config, account_id) for account_id in ids]

    async def account_roles(self, session: PortalSession, account_id: str) -> list[PortalRole]:
        """The user's roles on one account (none for an account the user has no role on)."""
        return [r for r in await self.roles(session) if r.account_id == account_id]

    async def role_credentials(
        self, session: PortalSession, account_id: str, role_name: str
    ) -> MintedCredentials:
        """Mint credentials of the user's role ``role_name`` on ``account_id``; ``PortalForbidden`` if the user has
        no such role there (nothing is minted)."""
        for role in await self.account_roles(session, account_id):
            if role.role_name == role_name:
                ps = role.permission_set
                name = permission_set_role_name(ps.name, ps.arn)
                return await self._sessions.mint(
                    principal_arn=assumed_role_arn(account_id, name, session_name(session.user.user_name)),
                    source=ps.arn,
                    duration_seconds=duration_seconds(ps.session_duration),
                    role_arn=permission_set_role_arn(account_id, name),
                )
        raise PortalForbidden(NO_ACCESS)

    async def logout(self, session: PortalSession) -> None:
        """End the bearer's token family (its access and refresh tokens); issued credentials stay valid."""
        token = session.token
        await self._store.revoke_family(token.family_id, self._now(), token.session_expires_at)

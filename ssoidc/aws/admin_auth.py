"""Authorization of the configuration plane (sso-admin and identitystore, AWS JSON 1.1).

Every sso-admin (``SWBExternalService.*``, SigV4 signing name ``sso``) and identitystore (``AWSIdentityStore.*``,
signing name ``identitystore``) call must come from an administrator for ``<sso|identitystore>:<Operation>``: the
account root (the bootstrap admin, as in IAM) or a principal of the same account whose identity policies allow the action
(``ssoidc.credentials.authority``: a long-term credential's identity policy, or the permission set of portal role
credentials), else ``AccessDeniedException``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ssoidc.errors import AdminAccessDenied
from ssoidc.iam.authority import Authority
from ssoidc.iam.policy import RequestContext
from ssoidc.ids import account_of


class AdminAuthorizer:
    """The skeleton's authorization hook for the configuration plane."""

    def __init__(self, *, account_id: str, identity_of: Callable[[str], Awaitable[Authority | None]]) -> None:
        self._account = account_id
        self._root = f"arn:aws:iam::{account_id}:root"
        self._identity_of = identity_of

    async def __call__(self, principal_arn: str, access_key_id: str, action: str, now: float) -> None:
        """The account root may do anything (as in IAM); anyone else needs identity policies that allow it."""
        if principal_arn == self._root:
            return
        if account_of(principal_arn) != self._account:
            # IAM: another account's identity policies grant nothing on this account's resources, and the
            # instance has no resource policy (a permission set's AdministratorAccess on a member account does
            # not make its users administrators of Identity Center)
            raise AdminAccessDenied(
                f"User: {principal_arn} is not authorized to perform: {action} (only principals of account"
                f" {self._account} may administer this instance)"
            )
        identity = await self._identity_of(access_key_id)
        if identity is not None:
            ctx = RequestContext(
                principal_arn=principal_arn,
                action=action,
                resource="*",
                current_time=now,
                role_arn=identity.role_arn,
            )
            if identity.evaluate(ctx).allowed:
                return
        raise AdminAccessDenied(f"User: {principal_arn} is not authorized to perform: {action}")

"""Authorization of the configuration plane (sso-admin and identitystore, AWS JSON 1.1).

Every sso-admin (``SWBExternalService.*``, SigV4 signing name ``sso``) and identitystore (``AWSIdentityStore.*``,
signing name ``identitystore``) call must come from an administrator for ``<sso|identitystore>:<Operation>``: the
account root (the bootstrap admin, as in IAM) or a credential whose identity policy allows the action (else
``AccessDeniedException``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ssoidc.errors import AdminAccessDenied
from ssoidc.iam.policy import PolicyCache, PolicyError, RequestContext


class AdminAuthorizer:
    """The skeleton's authorization hook for the configuration plane."""

    def __init__(
        self,
        *,
        account_id: str,
        identity_policy_of: Callable[[str], Mapping[str, Any] | None],
        config_version: Callable[[], int],
    ) -> None:
        self._root = f"arn:aws:iam::{account_id}:root"
        self._identity_policy_of = identity_policy_of
        self._config_version = config_version
        self._policies = PolicyCache()

    def __call__(self, principal_arn: str, access_key_id: str, action: str, now: float) -> None:
        """The account root may do anything (as in IAM); anyone else needs an identity policy that allows it."""
        if principal_arn == self._root:
            return
        doc = self._identity_policy_of(access_key_id)
        if doc is not None:
            # the credential table and its policies change only with the configuration version
            try:
                policy = self._policies.get("cred:" + access_key_id, self._config_version(), doc, "identity")
            except PolicyError:  # validated when the credential was created; refuse rather than fail
                policy = None
            ctx = RequestContext(principal_arn=principal_arn, action=action, resource="*", current_time=now)
            if policy is not None and policy.evaluate(ctx).allowed:
                return
        raise AdminAccessDenied(f"User: {principal_arn} is not authorized to perform: {action}")

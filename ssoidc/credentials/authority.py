"""What a SigV4 credential may do: its identity-side policies (``ssoidc.iam.authority.Authority``), resolved at
request time, for every authorization decision that involves the caller's own policies (the configuration plane's
``AdminAuthorizer`` and CreateTokenWithIAM's caller check): one resolver, whatever the credential kind.

* A long-term credential (the snapshot's credential table): its identity policy, if it has one (None: no identity
  policy; the account root and ActorPolicies decide alone, as before).
* Session credentials (``ssoidc.credentials.session``): the policies of their ``source``, read from the store at
  request time so a change to a permission set applies to credentials already issued (parsed policies are cached
  by content): for a permission set, its inline policy and the AWS managed policies ssoidc knows
  (``ssoidc.iam.managed``) as one layer, its permissions boundary as a second, the session policy as a third. A
  deleted permission set, an unknown source, an unknown managed policy or a customer managed boundary grant
  nothing (fail closed). For a session AssumeRole minted (source: the role's ARN), the role's inline permission
  policies joined (``ssoidc.iam.roles.session_policy_of``) as of now: a role removed from the configuration
  grants nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import orjson

from ssoidc.credentials.session import SessionCredentials
from ssoidc.iam.authority import Authority
from ssoidc.iam.managed import AWS_MANAGED_POLICIES
from ssoidc.iam.policy import Policy, PolicyCache, PolicyError
from ssoidc.iam.roles import session_policy_of
from ssoidc.model import PermissionSet, Role
from ssoidc.storage.base import SessionCredentialRecord

PERMISSION_SET_PREFIX = "arn:aws:sso:::permissionSet/"
"""Session credentials whose ``source`` starts so act with that permission set's policies."""


class PermissionSetReader(Protocol):
    async def get_permission_set(self, arn: str) -> PermissionSet | None: ...


def _version(*parts: Any) -> int:
    """A content fingerprint, as a PolicyCache version: the cache is keyed by what the policy says."""
    blob = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=repr)
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


class IdentityPolicies:
    """The resolver (see the module docstring)."""

    def __init__(
        self,
        *,
        identity_policy_of: Callable[[str], Mapping[str, Any] | None],
        config_version: Callable[[], int],
        is_long_term: Callable[[str], bool] = lambda _akid: True,
        sessions: SessionCredentials | None = None,
        permission_sets: PermissionSetReader | None = None,
        roles: Callable[[], Mapping[str, Role]] = dict,
    ) -> None:
        """``roles``: the configuration's IAM roles now by ARN (the snapshot's), for sessions AssumeRole minted."""
        self._identity_policy_of = identity_policy_of
        self._config_version = config_version
        self._is_long_term = is_long_term
        self._sessions = sessions
        self._permission_sets = permission_sets
        self._roles = roles
        self._policies = PolicyCache()

    def _parse(
        self, key: str, version: int, doc: Mapping[str, Any], kind: Literal["identity"] = "identity"
    ) -> Policy | None:
        try:
            return self._policies.get(key, version, doc, kind)
        except PolicyError:  # validated when written; a policy that does not parse grants nothing
            return None

    async def of(self, access_key_id: str) -> Authority | None:
        """The credential's Authority; None for a long-term credential without an identity policy."""
        if self._is_long_term(access_key_id):
            doc = self._identity_policy_of(access_key_id)
            if doc is None:
                return None
            # the credential table and its policies change only with the configuration version
            policy = self._parse("cred:" + access_key_id, self._config_version(), doc)
            return Authority(((policy,),) if policy is not None else ())
        record = None if self._sessions is None else await self._sessions.find(access_key_id)
        if record is None:
            return Authority(())  # not a credential ssoidc knows: nothing (the verifier refused it already)
        layers = await self._source_layers(record)
        if record.session_policy is not None:
            # keyed by content (a record never changes): sessions sharing a policy share its parse
            session = self._parse("session:" + str(_version(record.session_policy)), 0, record.session_policy)
            layers.append((session,) if session is not None else ())
        return Authority(tuple(layers), role_arn=record.role_arn)

    async def _source_layers(self, record: SessionCredentialRecord) -> list[tuple[Policy, ...]]:
        """The layers the session's ``source`` grants (a list the caller may extend)."""
        if record.source.startswith(PERMISSION_SET_PREFIX) and self._permission_sets is not None:
            ps = await self._permission_sets.get_permission_set(record.source)
            if ps is not None:
                return self._permission_set_layers(ps)
        elif record.source.startswith("arn:aws:iam::"):  # an AssumeRole session: the role's policies, now
            role = self._roles().get(record.source)
            if role is not None:  # roles change only with the configuration version
                policy = self._parse("role:" + role.arn, self._config_version(), session_policy_of(role))
                return [(policy,) if policy is not None else ()]
        return [()]

    def _managed(self, arn: str) -> Policy | None:
        doc = AWS_MANAGED_POLICIES.get(arn)
        return None if doc is None else self._parse("aws:" + arn, 0, doc)

    def _permission_set_layers(self, ps: PermissionSet) -> list[tuple[Policy, ...]]:
        identity: list[Policy | None] = [self._managed(arn) for arn in ps.managed_policy_arns]
        if ps.inline_policy is not None:
            identity.append(self._parse(f"ps:{ps.arn}:inline", _version(ps.inline_policy), ps.inline_policy))
        layers = [tuple(p for p in identity if p is not None)]
        boundary = ps.permissions_boundary
        if boundary is not None:  # an AWS managed boundary ssoidc knows limits; any other allows nothing
            limit = self._managed(boundary.managed_policy_arn) if boundary.managed_policy_arn else None
            layers.append((limit,) if limit is not None else ())
        return layers

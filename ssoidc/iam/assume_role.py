"""STS ``AssumeRole`` decisions, the domain side: which role session may be minted, or why not (docs/sts.md).

References: STS API Reference ``AssumeRole``; IAM User Guide "sts:SetContext" (``id_credentials_temp_control-
access_sts-setcontext``) and IAM Identity Center User Guide "Identity-enhanced IAM role sessions" (trusted identity
propagation: ``ProvidedContexts`` with the provider ``arn:aws:iam::aws:contextProvider/IdentityCenter`` and the
identity context of CreateTokenWithIAM).

``RoleAssumer.decide`` checks, in this order, and raises before anything is minted:

1. members ssoidc does not serve (``Tags``, ``TransitiveTagKeys``, ``SerialNumber``/``TokenCode``,
   ``SourceIdentity``, ``PolicyArns``: ssoidc knows no managed policy) -> InvalidParameterValue; a session
   ``Policy`` that is not a valid identity policy -> MalformedPolicy, longer than 2,048 characters ->
   PolicyTooLarge; a provided context of another provider, or two -> InvalidParameterValue;
2. the role is one of the configuration's roles and its trust policy allows the caller ``sts:AssumeRole`` (and so
   does the caller's identity policy, if its credential has one: ``ssoidc.iam.policy.combine``) -> else
   RoleAccessDenied, worded alike for an unknown role (as AWS: no oracle for which roles exist);
3. ``DurationSeconds`` (default 3600) at most the role's ``MaxSessionDuration``, and at most 3600 when the caller
   is itself a role session (role chaining) -> else InvalidInput (STS ``ValidationError``);
4. with a provided context: the trust policy (and identity policy) also allow ``sts:SetContext`` with
   ``sts:RequestContextProviders`` set to the providers sent -> else RoleAccessDenied; then the identity context is
   opened (sealed by ssoidc: ``ssoidc.oauth.tokens.TokenMinter.open_identity_context``): not ours, tampered, of
   another identity store, or naming a user that no longer exists -> InvalidParameterValue; past its ``exp`` ->
   ContextExpired.

Condition keys set: ``sts:RoleSessionName``, ``sts:ExternalId`` (when sent), ``sts:RequestContextProviders`` (for
``sts:SetContext``), and the built-in ``aws:*`` keys of ``ssoidc.iam.policy``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ssoidc import strict_json
from ssoidc.credentials.session import OnBehalfOf
from ssoidc.errors import (
    ContextExpired,
    InvalidInput,
    InvalidParameterValue,
    MalformedPolicy,
    PolicyTooLarge,
    RoleAccessDenied,
)
from ssoidc.iam.authority import Authority
from ssoidc.iam.policy import Evaluation, Policy, PolicyCache, PolicyError, RequestContext, combine
from ssoidc.iam.roles import trust_for_evaluation
from ssoidc.ids import account_of, assumed_role_arn
from ssoidc.model import ConfigSnapshot, Role

IDENTITY_CENTER_PROVIDER = "arn:aws:iam::aws:contextProvider/IdentityCenter"
"""The one context provider ssoidc knows (``ProvidedContexts[].ProviderArn``)."""
ASSUME_ROLE = "sts:AssumeRole"
SET_CONTEXT = "sts:SetContext"
DEFAULT_DURATION = 3600
CHAINED_MAX_DURATION = 3600
"""Role chaining (a role session assuming a role) is limited to one hour, as in AWS."""
MAX_SESSION_POLICY_CHARS = 2048
"""AWS: the plaintext of the inline session policy may not exceed 2,048 characters."""
DURATION_TOO_LONG = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
CHAINED_TOO_LONG = (
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
)


@dataclass(frozen=True, slots=True)
class AssumeRoleRequest:
    """An AssumeRole request after model validation (wire-neutral)."""

    role_arn: str
    role_session_name: str
    duration_seconds: int | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    external_id: str | None = None
    provided_contexts: tuple[tuple[str, str], ...] = ()
    """``(ProviderArn, ContextAssertion)`` pairs."""
    unsupported: tuple[str, ...] = ()
    """The names of members sent that ssoidc does not serve (Tags, SerialNumber...)."""


@dataclass(frozen=True, slots=True)
class RoleCaller:
    """The SigV4 caller of AssumeRole."""

    principal_arn: str
    access_key_id: str
    source_ip: str | None = None
    identity: Authority | None = None
    """The caller's identity-side policies (``ssoidc.credentials.authority.IdentityPolicies``, the one resolver
    every authorization uses): a long-term credential's identity policy; for session credentials their source's
    policies (a permission set's, or for role chaining the role's permission policies) and their session policy.
    None: no identity policy (the trust policy decides alone)."""

    @property
    def role_arn(self) -> str | None:
        """A role session caller's role ARN with its path (the trust policy may name it exactly)."""
        return self.identity.role_arn if self.identity is not None else None


@dataclass(frozen=True, slots=True)
class RoleSession:
    """What AssumeRole may mint: a session of ``role`` for ``duration_seconds``."""

    role: Role
    session_name: str
    session_arn: str
    """``arn:aws:sts::<account>:assumed-role/<RoleName>/<RoleSessionName>`` (no path, as AWS)."""
    assumed_role_id: str
    """``<RoleId>:<RoleSessionName>``."""
    duration_seconds: int
    session_policy: Mapping[str, Any] | None
    """The inline session ``Policy`` sent, if any. The session may do what its role's permission policies
    (read from the configuration at request time, by the session's source: the role ARN) and this policy both
    allow: ``ssoidc.credentials.authority.IdentityPolicies``."""
    on_behalf_of: OnBehalfOf | None = None
    packed_policy_size: int | None = None
    """Percentage of the session-policy size limit used (AssumeRole ``PackedPolicySize``), when a Policy was sent."""


def session_arn(role: Role, session_name: str) -> str:
    return assumed_role_arn(account_of(role.arn), role.role_name, session_name)


def _is_role_session(principal_arn: str) -> bool:
    parts = principal_arn.split(":", 5)
    return len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/")


class RoleAssumer:
    """Decides AssumeRole requests (see the module docstring). ``open_context`` verifies and opens an identity
    context sealed by ssoidc, raising ``ValueError`` if it is not one."""

    def __init__(self, open_context: Callable[[str], dict[str, Any]]) -> None:
        self._open_context = open_context
        self._policies = PolicyCache()

    async def decide(
        self, req: AssumeRoleRequest, caller: RoleCaller, snapshot: ConfigSnapshot, now: float
    ) -> RoleSession:
        if req.unsupported:
            raise InvalidParameterValue(
                f"ssoidc does not support {', '.join(req.unsupported)} on AssumeRole (docs/sts.md)"
            )
        if req.policy_arns:
            raise InvalidParameterValue(
                "ssoidc knows no managed policies: PolicyArns cannot be honoured (send an inline Policy instead)"
            )
        session_policy = self._session_policy(req.policy)
        context = self._context(req.provided_contexts)

        role = snapshot.roles.get(req.role_arn)
        denied = RoleAccessDenied(
            f"User: {caller.principal_arn} is not authorized to perform: {ASSUME_ROLE} on resource: {req.role_arn}"
        )
        if role is None:
            raise denied
        extra: dict[str, str | Sequence[str]] = {"sts:RoleSessionName": req.role_session_name}
        if req.external_id is not None:
            extra["sts:ExternalId"] = req.external_id
        if not self._allowed(role, caller, ASSUME_ROLE, extra, snapshot, now).allowed:
            raise denied

        duration = req.duration_seconds if req.duration_seconds is not None else DEFAULT_DURATION
        if duration > role.max_session_duration:
            raise InvalidInput(DURATION_TOO_LONG)
        if duration > CHAINED_MAX_DURATION and _is_role_session(caller.principal_arn):
            raise InvalidInput(CHAINED_TOO_LONG)

        on_behalf_of = None
        if context is not None:
            providers = [p for p, _ in req.provided_contexts]
            set_extra = {**extra, "sts:RequestContextProviders": providers}
            if not self._allowed(role, caller, SET_CONTEXT, set_extra, snapshot, now).allowed:
                raise RoleAccessDenied(
                    f"User: {caller.principal_arn} is not authorized to perform: {SET_CONTEXT} on resource:"
                    f" {req.role_arn}"
                )
            on_behalf_of = await self._on_behalf_of(context, snapshot, now)

        doc: Mapping[str, Any] | None = None
        packed = None
        if session_policy is not None:
            doc, size = session_policy
            packed = max(1, math.ceil(size * 100 / MAX_SESSION_POLICY_CHARS))
        name = req.role_session_name
        return RoleSession(
            role=role,
            session_name=name,
            session_arn=session_arn(role, name),
            assumed_role_id=f"{role.role_id}:{name}",
            duration_seconds=duration,
            session_policy=doc,
            on_behalf_of=on_behalf_of,
            packed_policy_size=packed,
        )

    def _allowed(
        self,
        role: Role,
        caller: RoleCaller,
        action: str,
        extra: Mapping[str, str | Sequence[str]],
        snapshot: ConfigSnapshot,
        now: float,
    ) -> Evaluation:
        """The trust policy, and each of the caller's identity policies, for ``action`` on the role (every policy
        must allow: ``combine``)."""
        ctx = RequestContext(
            principal_arn=caller.principal_arn,
            action=action,
            resource=role.arn,
            source_ip=caller.source_ip,
            current_time=now,
            role_arn=caller.role_arn,
            extra=extra,
        )
        trust = self._policies.get(
            "trust:" + role.arn, snapshot.version, trust_for_evaluation(role.trust_policy), "resource"
        )
        evaluations = [trust.evaluate(ctx)]
        if caller.identity is not None:
            evaluations.append(caller.identity.evaluate(ctx))
        return combine(*evaluations)

    @staticmethod
    def _session_policy(text: str | None) -> tuple[dict[str, Any], int] | None:
        """The inline session policy: parsed (one value per member name) and validated as an identity policy."""
        if text is None:
            return None
        if len(text) > MAX_SESSION_POLICY_CHARS:
            raise PolicyTooLarge(
                f"Packed policy consumes more than 100% of the allotted size: the session policy has {len(text)}"
                f" characters, at most {MAX_SESSION_POLICY_CHARS} are accepted"
            )
        try:
            doc = strict_json.loads(text.encode())
        except strict_json.DuplicateMember as exc:
            raise MalformedPolicy(f"The session policy is not valid JSON: {exc}") from None
        except (orjson.JSONDecodeError, ValueError):
            raise MalformedPolicy("The session policy is not valid JSON") from None
        try:
            Policy.parse(doc, kind="identity")
        except PolicyError as exc:
            raise MalformedPolicy(f"The session policy is not a valid identity policy: {exc}") from None
        assert isinstance(doc, dict)  # Policy.parse accepts only an object
        return doc, len(text)

    @staticmethod
    def _context(contexts: Sequence[tuple[str, str]]) -> str | None:
        """The one IdentityCenter context assertion sent, if any."""
        if not contexts:
            return None
        providers = [p for p, _ in contexts]
        if any(p != IDENTITY_CENTER_PROVIDER for p in providers):
            raise InvalidParameterValue(
                f"ssoidc knows one context provider, {IDENTITY_CENTER_PROVIDER}: ProvidedContexts names another"
            )
        if len(providers) > 1:
            raise InvalidParameterValue("ProvidedContexts names the same provider more than once")
        return contexts[0][1]

    async def _on_behalf_of(self, assertion: str, snapshot: ConfigSnapshot, now: float) -> OnBehalfOf:
        invalid = InvalidParameterValue(
            "The ContextAssertion is not an identity context issued by this IAM Identity Center instance"
        )
        try:
            doc = self._open_context(assertion)
        except (ValueError, TypeError):
            raise invalid from None
        sub, isa, exp = doc.get("sub"), doc.get("isa"), doc.get("exp")
        if (
            doc.get("v") != 1
            or not isinstance(sub, str)
            or not isinstance(isa, str)
            or not isinstance(exp, int | float)
            or isinstance(exp, bool)
        ):
            raise invalid
        if isa != snapshot.instance.identity_store_arn or snapshot.instance.status != "ACTIVE":
            raise invalid
        if exp <= now:
            raise ContextExpired("The ContextAssertion has expired; get a new one with CreateTokenWithIAM")
        if not await snapshot.has_user(sub):
            raise invalid
        return OnBehalfOf(user_id=sub, identity_store_arn=isa)

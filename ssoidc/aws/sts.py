"""STS (AWS Query: form body in, XML out; SigV4 signing name ``sts``): ``StsApi``.

Served: ``AssumeRole`` (the configuration's IAM roles, with ``ProvidedContexts``: identity-enhanced sessions; the
decisions are ``ssoidc.iam.assume_role``'s, the credentials ``ssoidc.credentials.session``'s; docs/sts.md) and
``GetCallerIdentity``, for every credential kind ssoidc knows: long-term credentials of an IAM user, the
account root or a role (``ssoidc credentials create``), and session credentials (the portal's GetRoleCredentials
and, later, AssumeRole: an assumed-role session). Every other modelled STS operation answers
``NotImplementedException`` by name (the skeleton).

What GetCallerIdentity answers (AWS's forms, derived from the signer's ARN):

* ``Arn``: the signer's ARN as authenticated;
* ``Account``: the account id in that ARN;
* ``UserId``: the account id for the root; for an IAM user ``AIDA`` + 17 characters; for a role ``AROA`` + 17
  characters; for an assumed-role session ``<role id>:<session name>``; for a federated user
  ``<account>:<name>``. IAM draws the unique ids once at random; ssoidc derives them from the user or role
  (``ssoidc.ids.unique_id``: the role's ARN without its path, so a role's sessions share one id whatever
  issued them), stable across nodes and restarts.

GetCallerIdentity needs no permission (as in AWS: even an explicit Deny does not stop it). For an
identity-enhanced session it answers what it answers for any assumed-role session: AWS's GetCallerIdentity has
no member for the user a session acts for (that is CloudTrail's ``onBehalfOf``, kept with the session credential).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from ssoidc.aws.shapes import sts as sh
from ssoidc.aws.skeleton import Call
from ssoidc.credentials.session import SessionCredentials
from ssoidc.iam.assume_role import AssumeRoleRequest, RoleAssumer, RoleCaller
from ssoidc.iam.authority import Authority
from ssoidc.ids import unique_id
from ssoidc.model import ConfigSnapshot

SERVICE = "sts"

_ARN = re.compile(r"^arn:(aws[a-z-]*):(iam|sts)::(\d{12}):(.+)$")


def caller_identity(principal_arn: str) -> sh.GetCallerIdentityResponse:
    """``Arn``, ``UserId`` and ``Account`` of a signer (see the module docstring)."""
    m = _ARN.match(principal_arn)
    if m is None:  # pragma: no cover - every credential ssoidc stores names an IAM or STS ARN
        return {"Arn": principal_arn, "UserId": principal_arn, "Account": ""}
    partition, service, account, resource = m.groups()
    user_id = principal_arn
    if service == "iam" and resource == "root":
        user_id = account
    elif service == "iam" and resource.startswith("user/"):
        user_id = unique_id("AIDA", principal_arn)
    elif service == "iam" and resource.startswith("role/"):
        name = resource.rsplit("/", 1)[-1]
        user_id = unique_id("AROA", f"arn:{partition}:iam::{account}:role/{name}")
    elif service == "sts" and resource.startswith("assumed-role/"):
        _, role, session = resource.split("/", 2)
        user_id = unique_id("AROA", f"arn:{partition}:iam::{account}:role/{role}") + ":" + session
    elif service == "sts" and resource.startswith("federated-user/"):
        user_id = f"{account}:{resource.split('/', 1)[1]}"
    return {"Arn": principal_arn, "UserId": user_id, "Account": account}


#: AssumeRole members ssoidc does not serve (refused by name: InvalidParameterValue; docs/sts.md).
UNSUPPORTED_MEMBERS = ("Tags", "TransitiveTagKeys", "SerialNumber", "TokenCode", "SourceIdentity")


async def _no_identity(_access_key_id: str) -> Authority | None:
    return None


class StsApi:
    """STS handlers (``botocore/data/sts/2011-06-15/service-2.json``).

    ``assumer``, ``sessions``, ``current`` (the snapshot the skeleton refreshed for this request) and
    ``identity_of`` (the caller's identity-side policies, ``IdentityPolicies.of``) serve AssumeRole (all three first ones are
    needed for it; GetCallerIdentity needs none).
    """

    def __init__(
        self,
        *,
        assumer: RoleAssumer | None = None,
        sessions: SessionCredentials | None = None,
        current: Callable[[], ConfigSnapshot] | None = None,
        identity_of: Callable[[str], Awaitable[Authority | None]] | None = None,
    ) -> None:
        self._assumer = assumer
        self._sessions = sessions
        self._current = current
        self._identity_of = identity_of or _no_identity

    async def _caller(self, call: Call) -> RoleCaller:
        """The signer, with its identity-side policies as every other authorization sees them (``identity_of``:
        ``ssoidc.credentials.authority.IdentityPolicies.of``)."""
        identity = await self._identity_of(call.access_key_id)
        return RoleCaller(call.principal_arn, call.access_key_id, call.source_ip, identity)

    async def assume_role(self, inp: sh.AssumeRoleRequest, call: Call) -> sh.AssumeRoleResponse:
        """STS ``AssumeRole``: temporary credentials of a configured IAM role, identity-enhanced with a
        ``ProvidedContexts`` identity context (trusted identity propagation)."""
        if self._assumer is None or self._sessions is None or self._current is None:
            raise RuntimeError("StsApi was built without AssumeRole's dependencies")  # pragma: no cover
        req = AssumeRoleRequest(
            role_arn=inp["RoleArn"],
            role_session_name=inp["RoleSessionName"],
            duration_seconds=inp.get("DurationSeconds"),
            policy=inp.get("Policy"),
            policy_arns=tuple(p.get("arn", "") for p in inp.get("PolicyArns", ())),
            external_id=inp.get("ExternalId"),
            provided_contexts=tuple(
                (c.get("ProviderArn", ""), c.get("ContextAssertion", ""))
                for c in inp.get("ProvidedContexts", ())
            ),
            unsupported=tuple(m for m in UNSUPPORTED_MEMBERS if m in inp),
        )
        caller = await self._caller(call)
        session = await self._assumer.decide(req, caller, self._current(), call.now)
        minted = await self._sessions.mint(
            principal_arn=session.session_arn,
            source=session.role.arn,
            duration_seconds=session.duration_seconds,
            role_arn=session.role.arn,
            on_behalf_of=session.on_behalf_of,
            session_policy=session.session_policy,
        )
        out: sh.AssumeRoleResponse = {
            "Credentials": {
                "AccessKeyId": minted.access_key_id,
                "SecretAccessKey": minted.secret_access_key,
                "SessionToken": minted.session_token,
                "Expiration": minted.expiration,
            },
            "AssumedRoleUser": {"AssumedRoleId": session.assumed_role_id, "Arn": session.session_arn},
        }
        if session.packed_policy_size is not None:
            out["PackedPolicySize"] = session.packed_policy_size
        return out

    async def get_caller_identity(
        self, inp: sh.GetCallerIdentityRequest, call: Call
    ) -> sh.GetCallerIdentityResponse:
        """STS ``GetCallerIdentity``: who signed this request."""
        return caller_identity(call.principal_arn)

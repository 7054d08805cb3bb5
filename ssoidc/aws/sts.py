"""STS (AWS Query: form body in, XML out; SigV4 signing name ``sts``): ``StsApi``.

Served: ``GetCallerIdentity``, for every credential kind ssoidc knows: long-term credentials of an IAM user, the
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

GetCallerIdentity needs no permission (as in AWS: even an explicit Deny does not stop it).
"""

from __future__ import annotations

import re

from ssoidc.aws.shapes import sts as sh
from ssoidc.aws.skeleton import Call
from ssoidc.ids import unique_id

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


class StsApi:
    """STS handlers (``botocore/data/sts/2011-06-15/service-2.json``)."""

    async def get_caller_identity(
        self, inp: sh.GetCallerIdentityRequest, call: Call
    ) -> sh.GetCallerIdentityResponse:
        """STS ``GetCallerIdentity``: who signed this request."""
        return caller_identity(call.principal_arn)

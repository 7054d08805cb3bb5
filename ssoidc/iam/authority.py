"""What a credential's identity policies allow, as layers: every layer must allow, and a layer allows when one of
its policies does and none of them denies (``Authority``).

* A long-term credential with an identity policy: one layer of that one policy.
* Session credentials of a permission-set role: the permission set's policies (inline policy and the AWS managed
  policies ssoidc knows, ``ssoidc.iam.managed``) are one layer, OR-ed as IAM joins a role's policies; its
  permissions boundary is a second layer; a session policy a third (IAM: the effective permissions are the
  intersection of the identity-based policies, the boundary and the session policy). A layer with no policy (a
  permission set with only policies ssoidc cannot know) allows nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ssoidc.iam.policy import Decision, Evaluation, Policy, RequestContext, combine


def union(policies: tuple[Policy, ...], ctx: RequestContext) -> Evaluation:
    """The policies of one principal together (IAM's rule within one policy type): an explicit Deny in any wins,
    else an Allow in any allows, else the request is implicitly denied."""
    evaluations = [p.evaluate(ctx) for p in policies]
    denies = [e for e in evaluations if e.decision is Decision.EXPLICIT_DENY]
    if denies:
        return combine(*denies)
    allows = [e for e in evaluations if e.allowed]
    if allows:
        return combine(*allows)
    why = "; ".join(e.explanation for e in evaluations) or (
        f"no policy ssoidc knows grants {ctx.action} to {ctx.principal_arn}"
    )
    return Evaluation(Decision.IMPLICIT_DENY, (), why)


@dataclass(frozen=True, slots=True)
class Authority:
    """The identity-side policies of one credential (see the module docstring)."""

    layers: tuple[tuple[Policy, ...], ...]
    role_arn: str | None = None
    """Session credentials of a role: the role's ARN with its path (``RequestContext.role_arn``: a policy naming
    the role matches the session exactly)."""

    def evaluate(self, ctx: RequestContext) -> Evaluation:
        """Every layer must allow (``combine``); an Authority without layers allows nothing."""
        if not self.layers:
            return Evaluation(Decision.IMPLICIT_DENY, (), f"{ctx.principal_arn} has no authority")
        return combine(*(union(layer, ctx) for layer in self.layers))

"""IAM roles declared in the configuration file: their policy documents, and what a role's session may call.

A role is IAM ``CreateRole`` (``RoleName``, ``Path``, ``AssumeRolePolicyDocument``, ``MaxSessionDuration``,
``Description``) plus its inline permission policies (``PutRolePolicy``: ``PolicyName``, ``PolicyDocument``).
ssoidc has no IAM API: roles come from the file only (``ssoidc.config``). Documents are checked here once, when the
file is applied: the trust policy is a resource policy (it names principals), the permission policies are
identity policies (``ssoidc.iam.policy``). A document given as a JSON string is parsed with
``ssoidc.strict_json`` (a repeated member name is refused, as IAM refuses it: RFC 8259 section 4 leaves it open).

``session_policy_of`` is the identity policy a session of the role carries: its inline policies joined into one
document (any allow in any of them allows, any deny wins: what several identity policies mean in IAM), or a
document that allows nothing when the role has none (an IAM role without permission policies may call nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import orjson

from ssoidc import strict_json
from ssoidc.iam.policy import Policy, PolicyError
from ssoidc.model import Role

DENY_ALL: Mapping[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "NoPermissionPolicies", "Effect": "Deny", "Action": "*", "Resource": "*"}],
}
"""The identity policy of a session of a role that has no permission policies: it may call nothing."""


def _statements(doc: Mapping[str, Any]) -> list[Any]:
    raw = doc.get("Statement")
    return [raw] if isinstance(raw, Mapping) else list(raw) if isinstance(raw, list) else []


def trust_for_evaluation(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A trust policy as ``ssoidc.iam.policy`` evaluates it: a trust policy has no ``Resource`` (the role is the
    resource), so each statement gets ``"Resource": "*"``."""
    out = dict(doc)
    raw = doc.get("Statement")
    if isinstance(raw, Mapping):
        out["Statement"] = {**raw, "Resource": "*"}
    elif isinstance(raw, list):
        out["Statement"] = [{**st, "Resource": "*"} if isinstance(st, Mapping) else st for st in raw]
    return out


def policy_document(value: str | Mapping[str, Any], kind: Literal["trust", "identity"]) -> dict[str, Any]:
    """A policy document from the file (a JSON string or a mapping), validated for ``kind``: a role's trust policy
    (a resource policy without ``Resource``, as IAM requires of ``AssumeRolePolicyDocument``) or a permission
    (identity) policy.

    Raises ``PolicyError`` (never echoing the document) if it is not JSON, repeats a member name or is not a valid
    policy of that kind.
    """
    if isinstance(value, str):
        try:
            doc = strict_json.loads(value.encode())
        except strict_json.DuplicateMember as exc:
            raise PolicyError("", f"the document is not valid JSON: {exc}") from None
        except (orjson.JSONDecodeError, ValueError):
            raise PolicyError("", "the document is not valid JSON") from None
    else:
        doc = dict(value)
    if not isinstance(doc, dict):
        raise PolicyError("", "a policy document must be a JSON object")
    if kind == "identity":
        Policy.parse(doc, kind="identity")
        return doc
    for i, st in enumerate(_statements(doc)):
        for element in ("Resource", "NotResource"):
            if isinstance(st, Mapping) and element in st:
                where = "Statement" if isinstance(doc.get("Statement"), Mapping) else f"Statement[{i}]"
                raise PolicyError(
                    f"{where}.{element}", "a trust policy has no Resource: the role is the resource"
                )
    Policy.parse(trust_for_evaluation(doc), kind="resource")
    return doc


def session_policy_of(role: Role) -> dict[str, Any]:
    """The one identity policy a session of ``role`` carries: its inline policies' statements, in order.

    Each statement's ``Sid`` is prefixed with its policy's name (``<PolicyName>.<Sid>``, or ``<PolicyName>.<i>``)
    so Sids stay unique across the joined document.
    """
    statements: list[dict[str, Any]] = []
    for name, doc in role.policies.items():
        raw = doc["Statement"]
        items = [raw] if isinstance(raw, Mapping) else list(raw)
        for i, st in enumerate(items):
            sid = st.get("Sid") or str(i)
            statements.append({**st, "Sid": f"{name}.{sid}"})
    if not statements:
        return {"Version": "2012-10-17", "Statement": list(DENY_ALL["Statement"])}
    return {"Version": "2012-10-17", "Statement": statements}

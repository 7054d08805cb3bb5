"""A small, strict evaluator for a subset of the AWS IAM policy language.

It decides whether an IAM caller (already authenticated, by SigV4) may perform an action on a resource, given
a resource-based policy (an application's ActorPolicy) and, optionally, an identity policy attached to the
caller's credential. Documents are validated and compiled once by :meth:`Policy.parse` (wildcards become
regular expressions, condition values are parsed), so :meth:`Policy.evaluate` only does lookups and matches.

AWS references (the behaviour below follows them except as listed under *Deviations*):

- grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
- evaluation logic: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
- Principal / NotPrincipal:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
- Resource wildcards: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
- condition operators:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
- multi-valued keys:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html

Implemented
-----------
- ``Version`` (optional; "2012-10-17" or "2008-10-17"), ``Id``, ``Statement`` (an object or a non-empty
  list), ``Sid`` (optional, unique), ``Effect`` (Allow | Deny), ``Principal`` / ``NotPrincipal`` (exactly one
  in a resource policy, neither in an identity policy), ``Action`` / ``NotAction`` and ``Resource`` /
  ``NotResource`` (exactly one of each pair), ``Condition``. Unknown elements are rejected.
- Principal: ``"*"``, ``{"AWS": "*"}``, a 12-digit account id or ``arn:<partition>:iam::<acct>:root`` (every
  principal of that account), an IAM user ARN (exact), an IAM role ARN (the role's assumed-role sessions), an
  assumed-role session ARN or a federated-user ARN (exact). ``Service``, ``Federated`` and ``CanonicalUser``
  principals are validated but never match an IAM caller. No wildcard other than the lone ``"*"``.
  A role ARN in the policy matches a session ``arn:aws:sts::<acct>:assumed-role/<name>/<session>``: exactly
  (path included) against ``RequestContext.role_arn`` when the caller supplies it, otherwise by account and
  role name (IAM role names are unique within an account whatever their path). A ``role_arn`` that does not
  belong to the session (other account or name) is ignored and the session matches no role (fail closed).
- NotPrincipal, which AWS supports only with ``"Effect": "Deny"`` (so Allow + NotPrincipal is a PolicyError):
  as AWS documents, the caller is exempt from the Deny only if *each* identity in its chain is listed: the
  account (account id or root ARN) and then the user, or the role for an assumed-role session. Listing only
  the account exempts only the root user; listing only a role does not exempt its sessions.
- Action / NotAction: ``*`` and ``?`` wildcards, case-insensitive. Resource / NotResource: ``*`` and ``?``,
  case-sensitive, with the AWS ARN rule: ``?`` and a ``*`` inside a colon-separated segment do not match
  ``:``, a ``*`` that ends a segment (or the pattern) may.
- Condition: operators AND, keys within an operator AND, values of one key OR. Keys are case-insensitive.
  String{Not}Equals{IgnoreCase}, String{Not}Like, Arn{Not}Equals / Arn{Not}Like (identical, as in AWS: the
  six colon-separated ARN components are matched one by one with ``*``/``?``), {Not}IpAddress (IPv4 and IPv6
  CIDR or bare address; an IPv4-mapped IPv6 request address is compared as IPv4), Date{Not}Equals,
  DateLessThan{Equals}, DateGreaterThan{Equals} (ISO 8601, naive means UTC, or epoch seconds),
  Numeric{Not}Equals, NumericLessThan{Equals}, NumericGreaterThan{Equals}, Bool, Null; the ``IfExists`` suffix
  on every operator but Null; the ``ForAnyValue:`` / ``ForAllValues:`` prefixes on every operator but Null.
  Policy values may be JSON strings, numbers or booleans.
- Context keys: ``aws:PrincipalArn`` (for an assumed-role session the *role* ARN, as in AWS),
  ``aws:PrincipalAccount``, ``aws:PrincipalType`` (Account | User | AssumedRole | FederatedUser),
  ``aws:SourceIp``, ``aws:CurrentTime`` (ISO 8601, UTC, whole seconds), ``aws:EpochTime`` (whole seconds),
  and anything in ``RequestContext.extra``. The built-in keys are never read from ``extra``, so a caller of
  this module cannot spoof them by accident. An empty multi-valued ``extra`` entry counts as absent.

Missing keys and negation (AWS semantics, as stated on the condition-operators page): if a key is absent from
the request, a positive operator is false and a *negated* operator (StringNotEquals, StringNotLike,
StringNotEqualsIgnoreCase, ArnNotEquals, ArnNotLike, NotIpAddress, DateNotEquals, NumericNotEquals) is
**true**; ``...IfExists`` is true; ``Null`` tests presence; ``ForAllValues:`` is true and ``ForAnyValue:`` is
false (unless combined with ``IfExists``). A negated operator is the exact logical negation of its positive
operator: true when the request value matches none of the policy values. A request value that cannot be parsed
for the operator (an unparseable IP address, number or date) matches no policy value. Without a set prefix,
a multi-valued request key satisfies a positive operator if any of its values matches, and a negated operator
if none does; with ``ForAnyValue:``/``ForAllValues:`` the (possibly negated) operator is applied per request
value.

Evaluation: an applicable Deny statement wins (EXPLICIT_DENY); otherwise an applicable Allow statement allows
(ALLOW); otherwise IMPLICIT_DENY. :func:`combine` joins the results of several policies: see its docstring.

Deviations
----------
- :func:`combine` requires *every* given policy to allow (AWS's cross-account rule) even within one account,
  where AWS lets either the identity or the resource policy suffice.
- Validation is stricter than some AWS services: element and operator names are case-sensitive, Sids must be
  unique, unknown elements, empty lists and wildcards in principals are errors.
- Explanations never echo principals, resources or condition values from the policy; Sids and condition keys
  that look like an account id or an ARN are redacted.

Not supported (deliberately)
----------------------------
- Policy variables (``${aws:username}``, ``${*}``...): left literal; ``$``, ``{`` and ``}`` match themselves.
- BinaryEquals and any other operator not listed above: PolicyError.
- Permission boundaries, SCPs/RCPs, session policies, anonymous callers, other condition keys AWS fills in
  (``aws:username``, ``aws:userid``, tags...) unless the caller passes them in ``extra``.
- NotPrincipal with ``Allow`` (AWS no longer supports it either).
- Size limits on documents.
"""

from __future__ import annotations

import enum
import ipaddress
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, Literal

__all__ = [
    "Decision",
    "Evaluation",
    "Policy",
    "PolicyError",
    "RequestContext",
    "combine",
    "wildcard_match",
]


class PolicyError(ValueError):
    """An invalid policy document. ``path`` names the offending element, e.g. ``Statement[1].Condition``.

    ``path`` is "" for the document itself; ``str(error)`` is ``"<path>: <message>"`` (just the message when
    the path is empty). ``message`` never echoes values from the document; ``path`` holds only its element
    names, principal types, operators and condition keys, so both are safe to return to whoever submitted it.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What is known about one request. Only ``principal_arn``, ``action`` and ``resource`` are required."""

    principal_arn: str  # the caller as authenticated: IAM user, account root, assumed-role session...
    action: str  # "service:Action", matched case-insensitively
    resource: str  # an ARN, matched case-sensitively
    source_ip: str | None = None  # aws:SourceIp (absent when None)
    current_time: float = 0.0  # epoch seconds: aws:CurrentTime and aws:EpochTime (truncated to seconds)
    role_arn: str | None = None  # an assumed-role session's role ARN with its path, when known
    extra: Mapping[str, str | Sequence[str]] = field(default_factory=dict)  # other keys, case-insensitive


class Decision(enum.Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of evaluating one policy (or several, via :func:`combine`).

    ``statement_ids`` are the Sids (or ``Statement[i]`` for statements without one) of the statements that
    decided: the denying ones for EXPLICIT_DENY, the allowing ones for ALLOW, none for IMPLICIT_DENY.
    ``explanation`` is safe to show the caller: it echoes only the request (principal, action, resource) and
    the policy's own Sids, operator names and condition key names, with anything that looks like an account id
    or an ARN redacted; never the principals, resources or condition values written in the policy.
    """

    decision: Decision
    statement_ids: tuple[str, ...]
    explanation: str

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


# ------------------------------------------------------------------------------------------------------------
# Wildcards


def _glob_regex(pattern: str, star: str = ".*", one: str = ".") -> str:
    """``*`` -> ``star``, ``?`` -> ``one``, everything else literal (no ``[...]`` classes, no escapes)."""
    out: list[str] = []
    for ch in pattern:
        if ch == "*":
            if not out or out[-1] != star:  # collapse runs of '*' (avoids pointless backtracking)
                out.append(star)
        elif ch == "?":
            out.append(one)
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _resource_glob_regex(pattern: str) -> str:
    """AWS Resource-element wildcards: confined to a colon-separated segment unless ``*`` ends the segment."""
    out: list[str] = []
    last = len(pattern) - 1
    for i, ch in enumerate(pattern):
        if ch == "*":
            out.append(".*" if i == last or pattern[i + 1] == ":" else "[^:]*")
        elif ch == "?":
            out.append("[^:]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _arn_condition_regex(pattern: str) -> str:
    """ArnLike: each of the six components separately; only the last (resource) one may contain ':'."""
    parts = pattern.split(":", 5)
    return ":".join([*(_glob_regex(p, "[^:]*", "[^:]") for p in parts[:5]), _glob_regex(parts[5])])


def _has_wildcard(s: str) -> bool:
    return "*" in s or "?" in s


@dataclass(frozen=True, slots=True)
class _Patterns:
    """A compiled set of wildcard patterns: literal fast path plus one alternation regex."""

    match_all: bool
    literals: frozenset[str]
    regex: re.Pattern[str] | None

    def matches(self, value: str) -> bool:
        if self.match_all or value in self.literals:
            return True
        return self.regex is not None and self.regex.fullmatch(value) is not None


def _compile_patterns(patterns: Iterable[str], to_regex: Callable[[str], str] = _glob_regex) -> _Patterns:
    literals: set[str] = set()
    regexes: list[str] = []
    match_all = False
    for p in patterns:
        if p != "" and p.strip("*") == "":
            match_all = True
        elif _has_wildcard(p):
            regexes.append(to_regex(p))
        else:
            literals.add(p)
    regex = re.compile("(?s:" + "|".join(f"(?:{r})" for r in regexes) + ")") if regexes else None
    return _Patterns(match_all, frozenset(literals), regex)


@lru_cache(maxsize=256)
def _single_pattern(pattern: str, case_sensitive: bool) -> _Patterns:
    return _compile_patterns([pattern if case_sensitive else pattern.lower()])


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """Match ``value`` against an IAM wildcard: ``*`` any run, ``?`` one character, nothing else special.

    The same matcher as StringLike (``case_sensitive=True``) and Action (``case_sensitive=False``) use.
    """
    if case_sensitive:
        return _single_pattern(pattern, True).matches(value)
    return _single_pattern(pattern, False).matches(value.lower())


# ------------------------------------------------------------------------------------------------------------
# Callers and principals

_ACCOUNT_RE: Final = re.compile(r"[0-9]{12}\Z")
_IAM_ARN_RE: Final = re.compile(r"arn:([a-z0-9-]+):(iam|sts)::([0-9]{12}):(.+)\Z", re.S)

_Kind = Literal["Account", "User", "Role", "AssumedRole", "FederatedUser", "Unknown"]


@dataclass(frozen=True, slots=True)
class _Caller:
    arn: str
    kind: _Kind
    partition: str | None = None
    account: str | None = None
    role_arn: str | None = None  # exact role ARN: given by the caller, or derived from the session
    role_key: tuple[str, str, str] | None = None  # (partition, account, role name)
    role_given: bool = False
    principal_arn_key: str = ""  # the value of aws:PrincipalArn


def _is_session(res: str) -> bool:
    """``assumed-role/<role>/<session>`` with both parts non-empty."""
    pieces = res.split("/", 2)
    return len(pieces) == 3 and pieces[0] == "assumed-role" and bool(pieces[1]) and bool(pieces[2])


def _role_name(resource: str) -> str:
    return resource.rsplit("/", 1)[-1]


@lru_cache(maxsize=1024)
def _parse_caller(principal_arn: str, role_arn: str | None) -> _Caller:
    m = _IAM_ARN_RE.match(principal_arn)
    if m is None:
        return _Caller(principal_arn, "Unknown", principal_arn_key=principal_arn)
    part, service, acct, res = m.groups()
    if service == "iam":
        if res == "root":
            return _Caller(principal_arn, "Account", part, acct, principal_arn_key=principal_arn)
        if res.startswith("user/") and len(res) > 5:
            return _Caller(principal_arn, "User", part, acct, principal_arn_key=principal_arn)
        if res.startswith("role/") and len(res) > 5:
            key = (part, acct, _role_name(res))
            return _Caller(principal_arn, "Role", part, acct, principal_arn, key, True, principal_arn)
    else:
        if res.startswith("federated-user/") and len(res) > 15:
            return _Caller(principal_arn, "FederatedUser", part, acct, principal_arn_key=principal_arn)
        if _is_session(res):
            name = res.split("/", 2)[1]
            key = (part, acct, name)
            if role_arn is None:
                derived = f"arn:{part}:iam::{acct}:role/{name}"
                return _Caller(principal_arn, "AssumedRole", part, acct, derived, key, False, derived)
            rm = _IAM_ARN_RE.match(role_arn)
            if (
                rm is not None
                and rm.group(1, 2, 3) == (part, "iam", acct)
                and rm.group(4).startswith("role/")
                and _role_name(rm.group(4)) == name
            ):
                return _Caller(principal_arn, "AssumedRole", part, acct, role_arn, key, True, role_arn)
            # A role_arn that is not this session's role: no role identity at all (fail closed).
            return _Caller(principal_arn, "AssumedRole", part, acct, principal_arn_key=principal_arn)
    return _Caller(principal_arn, "Unknown", principal_arn_key=principal_arn)


@dataclass(frozen=True, slots=True)
class _Principals:
    any: bool
    accounts: frozenset[str]  # bare account ids: any partition
    account_arns: frozenset[tuple[str, str]]  # (partition, account) from root ARNs
    exact: frozenset[str]  # user, assumed-role session and federated-user ARNs
    role_arns: frozenset[str]
    role_keys: frozenset[tuple[str, str, str]]

    def _account(self, c: _Caller) -> bool:
        if c.account is None:
            return False
        return c.account in self.accounts or (c.partition, c.account) in self.account_arns

    def _role(self, c: _Caller) -> bool:
        if c.role_key is None:
            return False
        if c.role_given:
            return c.role_arn in self.role_arns
        return c.role_key in self.role_keys

    def matches(self, c: _Caller) -> bool:
        """Principal: does any listed principal cover the caller?"""
        return self.any or c.arn in self.exact or self._account(c) or self._role(c)

    def exempts(self, c: _Caller) -> bool:
        """NotPrincipal (Deny only): is every identity in the caller's chain listed?"""
        if self.any:
            return True
        if not self._account(c):
            return False
        if c.kind == "Account":
            return True
        if c.kind in ("AssumedRole", "Role"):
            return self._role(c)
        return c.arn in self.exact


_PRINCIPAL_TYPES: Final = ("AWS", "Service", "Federated", "CanonicalUser")


def _string_list(value: object, path: str, what: str) -> list[tuple[str, str]]:
    """A string or a non-empty list of strings -> [(path, string)]."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, list | tuple):
        if not value:
            raise PolicyError(path, f"{what} must not be an empty list")
        out: list[tuple[str, str]] = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise PolicyError(f"{path}[{i}]", f"{what} must be a string")
            out.append((f"{path}[{i}]", item))
        return out
    raise PolicyError(path, f"{what} must be a string or a list of strings")


def _parse_principals(value: object, path: str) -> _Principals:
    any_ = False
    accounts: set[str] = set()
    account_arns: set[tuple[str, str]] = set()
    exact: set[str] = set()
    role_arns: set[str] = set()
    role_keys: set[tuple[str, str, str]] = set()
    if value == "*":
        any_ = True
    elif isinstance(value, Mapping):
        if not value:
            raise PolicyError(path, "must name at least one principal")
        for ptype, pval in value.items():
            ppath = f"{path}.{ptype}"
            if ptype not in _PRINCIPAL_TYPES:
                raise PolicyError(ppath, "unknown principal type (AWS, Service, Federated or CanonicalUser)")
            for epath, entry in _string_list(pval, ppath, "a principal"):
                if ptype != "AWS":
                    if not entry or _has_wildcard(entry):
                        raise PolicyError(epath, "a principal must be non-empty and without wildcards")
                    continue  # validated, never matches an IAM caller
                if entry == "*":
                    any_ = True
                    continue
                if _has_wildcard(entry):
                    raise PolicyError(epath, 'wildcards are not allowed in a principal (only a lone "*")')
                if _ACCOUNT_RE.match(entry):
                    accounts.add(entry)
                    continue
                m = _IAM_ARN_RE.match(entry)
                if m is None:
                    raise PolicyError(epath, "not a valid AWS principal (account id or IAM/STS ARN)")
                part, service, acct, res = m.groups()
                if service == "iam" and res == "root":
                    account_arns.add((part, acct))
                elif service == "iam" and res.startswith("user/") and len(res) > 5:
                    exact.add(entry)
                elif service == "iam" and res.startswith("role/") and len(res) > 5:
                    role_arns.add(entry)
                    role_keys.add((part, acct, _role_name(res)))
                elif service == "sts" and (
                    (res.startswith("federated-user/") and len(res) > 15) or _is_session(res)
                ):
                    exact.add(entry)
                else:
                    raise PolicyError(epath, "not a valid AWS principal (account id or IAM/STS ARN)")
    else:
        raise PolicyError(path, 'must be "*" or an object such as {"AWS": [...]}')
    return _Principals(
        any_,
        frozenset(accounts),
        frozenset(account_arns),
        frozenset(exact),
        frozenset(role_arns),
        frozenset(role_keys),
    )


# ------------------------------------------------------------------------------------------------------------
# Conditions

_NUMBER_RE: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z", re.ASCII)


def _parse_number(s: str) -> float | None:
    if _NUMBER_RE.match(s) is None:
        return None
    x = float(s)
    return x if math.isfinite(x) else None


def _parse_date(s: str) -> float | None:
    """ISO 8601 (naive = UTC) or epoch seconds -> epoch seconds."""
    n = _parse_number(s)
    if n is not None:
        return n
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@lru_cache(maxsize=1024)
def _parse_ip(s: str) -> tuple[int, int] | None:
    """An IP address -> (version, integer value); IPv4-mapped IPv6 addresses count as IPv4."""
    try:
        addr = ipaddress.ip_address(s)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.version, int(addr)


_Family = Literal["string", "string_ic", "string_like", "arn", "ip", "numeric", "date", "bool", "null"]
_Cmp = Callable[[float, float], bool]

# base operator -> (family, negated, comparison for numeric/date families)
_OPERATORS: Final[dict[str, tuple[_Family, bool, _Cmp | None]]] = {
    "StringEquals": ("string", False, None),
    "StringNotEquals": ("string", True, None),
    "StringEqualsIgnoreCase": ("string_ic", False, None),
    "StringNotEqualsIgnoreCase": ("string_ic", True, None),
    "StringLike": ("string_like", False, None),
    "StringNotLike": ("string_like", True, None),
    "ArnEquals": ("arn", False, None),
    "ArnLike": ("arn", False, None),
    "ArnNotEquals": ("arn", True, None),
    "ArnNotLike": ("arn", True, None),
    "IpAddress": ("ip", False, None),
    "NotIpAddress": ("ip", True, None),
    "NumericEquals": ("numeric", False, operator.eq),
    "NumericNotEquals": ("numeric", True, operator.eq),
    "NumericLessThan": ("numeric", False, operator.lt),
    "NumericLessThanEquals": ("numeric", False, operator.le),
    "NumericGreaterThan": ("numeric", False, operator.gt),
    "NumericGreaterThanEquals": ("numeric", False, operator.ge),
    "DateEquals": ("date", False, operator.eq),
    "DateNotEquals": ("date", True, operator.eq),
    "DateLessThan": ("date", False, operator.lt),
    "DateLessThanEquals": ("date", False, operator.le),
    "DateGreaterThan": ("date", False, operator.gt),
    "DateGreaterThanEquals": ("date", False, operator.ge),
    "Bool": ("bool", False, None),
    "Null": ("null", False, None),
}

_Values = tuple[str, ...] | None  # request values of one key; None = absent


def _condition_values(value: object, path: str) -> list[tuple[str, str]]:
    items = value if isinstance(value, list | tuple) else [value]
    if not items:
        raise PolicyError(path, "condition values must not be an empty list")
    out: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        ipath = f"{path}[{i}]" if isinstance(value, list | tuple) else path
        if isinstance(item, bool):
            out.append((ipath, "true" if item else "false"))
        elif isinstance(item, str):
            out.append((ipath, item))
        elif isinstance(item, int | float) and math.isfinite(item):
            out.append((ipath, str(item)))
        else:
            raise PolicyError(ipath, "a condition value must be a string, number or boolean")
    return out


def _bounds(family: _Family, values: list[tuple[str, str]]) -> tuple[float, ...]:
    parse = _parse_number if family == "numeric" else _parse_date
    bounds: list[float] = []
    for p, v in values:
        x = parse(v)
        if x is None:
            raise PolicyError(p, "not a number" if family == "numeric" else "not an ISO 8601 date/epoch")
        bounds.append(x)
    return tuple(bounds)


def _compile_test(family: _Family, cmp: _Cmp | None, values: list[tuple[str, str]]) -> Callable[[str], bool]:
    """The positive test of one request value against all policy values (OR)."""
    if family == "string":
        literal = frozenset(v for _, v in values)
        return literal.__contains__
    if family == "string_ic":
        folded = frozenset(v.casefold() for _, v in values)
        return lambda v: v.casefold() in folded
    if family == "string_like":
        return _compile_patterns(v for _, v in values).matches
    if family == "arn":
        for p, v in values:
            if len(v.split(":", 5)) != 6:
                raise PolicyError(p, "an ARN condition value must have six colon-separated components")
        return _compile_patterns((v for _, v in values), _arn_condition_regex).matches
    if family == "ip":
        ranges: list[tuple[int, int, int]] = []  # (version, first, last)
        for p, v in values:
            try:
                net = ipaddress.ip_network(v, strict=False)
            except ValueError:
                raise PolicyError(p, "not an IPv4 or IPv6 address or CIDR block") from None
            ranges.append((net.version, int(net.network_address), int(net.broadcast_address)))
        ranges_t = tuple(ranges)

        def ip_test(v: str) -> bool:
            addr = _parse_ip(v)
            if addr is None:
                return False
            version, n = addr
            return any(rv == version and lo <= n <= hi for rv, lo, hi in ranges_t)

        return ip_test
    if family in ("numeric", "date"):
        assert cmp is not None
        parse = _parse_number if family == "numeric" else _parse_date
        bounds_t = _bounds(family, values)

        def cmp_test(v: str) -> bool:
            x = parse(v)
            return x is not None and any(cmp(x, b) for b in bounds_t)

        return cmp_test
    # bool (null is handled by the caller)
    wanted: set[str] = set()
    for p, v in values:
        if v.lower() not in ("true", "false"):
            raise PolicyError(p, 'must be "true" or "false"')
        wanted.add(v.lower())
    frozen = frozenset(wanted)
    return lambda v: v.lower() in frozen


@dataclass(frozen=True, slots=True)
class _Condition:
    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # as written
    key_lower: str
    qualifier: Literal["", "any", "all"]
    if_exists: bool
    negated: bool
    test: Callable[[str], bool]
    null_accepts: frozenset[bool] | None  # Null only: accepted values of "key is absent"
    time_test: Callable[[float], bool] | None  # Date operators on aws:CurrentTime / aws:EpochTime

    def holds_for(self, ctx: RequestContext, caller: _Caller) -> bool:
        if self.time_test is not None:  # fast path: always present, single-valued, no string round trip
            return self.time_test(math.floor(ctx.current_time)) != self.negated
        return self.holds(_lookup(ctx, caller, self.key_lower))

    def holds(self, values: _Values) -> bool:
        if self.null_accepts is not None:
            return (values is None) in self.null_accepts
        if values is None:
            if self.if_exists or self.qualifier == "all":
                return True
            if self.qualifier == "any":
                return False
            return self.negated
        test = self.test
        if len(values) == 1:  # the same for every qualifier
            return test(values[0]) != self.negated
        if self.qualifier == "any":
            return any(test(v) != self.negated for v in values)
        if self.qualifier == "all":
            return all(test(v) != self.negated for v in values)
        return any(test(v) for v in values) != self.negated


_TIME_KEYS: Final = frozenset(("aws:currenttime", "aws:epochtime"))


def _time_test(cmp: _Cmp, bounds: tuple[float, ...]) -> Callable[[float], bool]:
    return lambda x: any(cmp(x, b) for b in bounds)


def _parse_conditions(value: object, path: str) -> tuple[_Condition, ...]:
    if not isinstance(value, Mapping):
        raise PolicyError(path, "must be an object of {operator: {key: values}}")
    out: list[_Condition] = []
    for op, block in value.items():
        opath = f"{path}.{op}"
        if not isinstance(op, str):
            raise PolicyError(opath, "a condition operator must be a string")
        name = op
        qualifier: Literal["", "any", "all"] = ""
        if name.startswith("ForAnyValue:"):
            qualifier, name = "any", name[len("ForAnyValue:") :]
        elif name.startswith("ForAllValues:"):
            qualifier, name = "all", name[len("ForAllValues:") :]
        if_exists = name.endswith("IfExists")
        base = name[: -len("IfExists")] if if_exists else name
        spec = _OPERATORS.get(base)
        if spec is None:
            raise PolicyError(opath, "unknown or unsupported condition operator")
        family, negated, cmp = spec
        if family == "null" and (if_exists or qualifier):
            raise PolicyError(opath, "Null takes neither IfExists nor ForAnyValue:/ForAllValues:")
        if not isinstance(block, Mapping) or not block:
            raise PolicyError(opath, "must be a non-empty object of {key: values}")
        for key, raw in block.items():
            kpath = f"{opath}.{key}"
            if not isinstance(key, str) or not key:
                raise PolicyError(kpath, "a condition key must be a non-empty string")
            values = _condition_values(raw, kpath)
            null_accepts: frozenset[bool] | None = None
            time_test: Callable[[float], bool] | None = None
            test: Callable[[str], bool]
            if family == "null":
                accepts: set[bool] = set()
                for p, v in values:
                    if v.lower() not in ("true", "false"):
                        raise PolicyError(p, 'Null takes "true" or "false"')
                    accepts.add(v.lower() == "true")
                null_accepts = frozenset(accepts)
                test = bool
            else:
                test = _compile_test(family, cmp, values)
                if family == "date" and key.lower() in _TIME_KEYS:
                    assert cmp is not None
                    time_test = _time_test(cmp, _bounds(family, values))
            out.append(
                _Condition(op, key, key.lower(), qualifier, if_exists, negated, test, null_accepts, time_test)
            )
    return tuple(out)


def _current_time_iso(ctx: RequestContext, c: _Caller) -> _Values:
    return (datetime.fromtimestamp(math.floor(ctx.current_time), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),)


_PRINCIPAL_TYPE_VALUES: Final[dict[_Kind, str]] = {
    "Account": "Account",
    "User": "User",
    "AssumedRole": "AssumedRole",
    "FederatedUser": "FederatedUser",
}

_BUILTIN_KEYS: Final[dict[str, Callable[[RequestContext, _Caller], _Values]]] = {
    "aws:principalarn": lambda ctx, c: (c.principal_arn_key,),
    "aws:principalaccount": lambda ctx, c: None if c.account is None else (c.account,),
    "aws:principaltype": lambda ctx, c: (
        (_PRINCIPAL_TYPE_VALUES[c.kind],) if c.kind in _PRINCIPAL_TYPE_VALUES else None
    ),
    "aws:sourceip": lambda ctx, c: None if ctx.source_ip is None else (ctx.source_ip,),
    "aws:currenttime": _current_time_iso,
    "aws:epochtime": lambda ctx, c: (str(math.floor(ctx.current_time)),),
}


def _lookup(ctx: RequestContext, caller: _Caller, key_lower: str) -> _Values:
    builtin = _BUILTIN_KEYS.get(key_lower)
    if builtin is not None:
        return builtin(ctx, caller)
    for k, v in ctx.extra.items():
        if k.lower() == key_lower:
            if isinstance(v, str):
                return (v,)
            vals = tuple(str(x) for x in v)
            return vals or None
    return None


# ------------------------------------------------------------------------------------------------------------
# Statements and policies

_STATEMENT_KEYS: Final = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_ACTION_RE: Final = re.compile(r"\*\Z|[A-Za-z0-9*?-]+:[A-Za-z0-9*?_.-]+\Z")


@dataclass(frozen=True, slots=True)
class _Statement:
    label: str  # Sid or "Statement[i]"
    shown: str  # the label as it may appear in an explanation (redacted)
    allow: bool
    principals: _Principals | None  # None in identity policies
    not_principal: bool
    actions: _Patterns  # lower-cased
    not_action: bool
    resources: _Patterns
    not_resource: bool
    conditions: tuple[_Condition, ...]

    def action_ok(self, action_lower: str) -> bool:
        return self.actions.matches(action_lower) != self.not_action

    def principal_ok(self, caller: _Caller) -> bool:
        p = self.principals
        if p is None:
            return True
        if self.not_principal:
            return not p.exempts(caller)
        return p.matches(caller)

    def resource_ok(self, resource: str) -> bool:
        return self.resources.matches(resource) != self.not_resource

    def failing_condition(self, ctx: RequestContext, caller: _Caller) -> _Condition | None:
        for cond in self.conditions:
            if not cond.holds_for(ctx, caller):
                return cond
        return None

    def applies(self, ctx: RequestContext, caller: _Caller, action_lower: str) -> bool:
        return (
            self.action_ok(action_lower)
            and self.principal_ok(caller)
            and self.resource_ok(ctx.resource)
            and (not self.conditions or self.failing_condition(ctx, caller) is None)
        )


def _exactly_one(st: Mapping[str, object], path: str, a: str, b: str) -> tuple[str, object]:
    if a in st and b in st:
        raise PolicyError(f"{path}.{b}", f"a statement must not have both {a} and {b}")
    if a in st:
        return a, st[a]
    if b in st:
        return b, st[b]
    raise PolicyError(path, f"a statement must have {a} or {b}")


def _parse_statement(
    raw: object, path: str, index: int, kind: Literal["resource", "identity"], seen: set[str]
) -> _Statement:
    if not isinstance(raw, Mapping):
        raise PolicyError(path, "a statement must be an object")
    st: Mapping[str, object] = raw
    for k in st:
        if k not in _STATEMENT_KEYS:
            raise PolicyError(f"{path}.{k}", "unknown statement element")
    label = f"Statement[{index}]"
    if "Sid" in st:
        sid = st["Sid"]
        if not isinstance(sid, str):
            raise PolicyError(f"{path}.Sid", "Sid must be a string")
        if sid and sid in seen:
            raise PolicyError(f"{path}.Sid", "Sid must be unique within the policy")
        seen.add(sid)
        label = sid or label
    effect = st.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{path}.Effect", 'Effect must be "Allow" or "Deny"')

    principals: _Principals | None = None
    not_principal = False
    if kind == "identity":
        for k in ("Principal", "NotPrincipal"):
            if k in st:
                raise PolicyError(f"{path}.{k}", f"an identity policy must not have {k}")
    else:
        pkey, pval = _exactly_one(st, path, "Principal", "NotPrincipal")
        not_principal = pkey == "NotPrincipal"
        if not_principal and effect == "Allow":
            raise PolicyError(f"{path}.NotPrincipal", 'NotPrincipal is supported only with "Effect": "Deny"')
        principals = _parse_principals(pval, f"{path}.{pkey}")

    akey, aval = _exactly_one(st, path, "Action", "NotAction")
    actions = _string_list(aval, f"{path}.{akey}", "an action")
    for p, a in actions:
        if _ACTION_RE.match(a) is None:
            raise PolicyError(p, 'an action must be "*" or "service:action"')

    rkey, rval = _exactly_one(st, path, "Resource", "NotResource")
    resources = _string_list(rval, f"{path}.{rkey}", "a resource")
    for p, r in resources:
        if r != "*" and not r.startswith("arn:"):
            raise PolicyError(p, 'a resource must be "*" or an ARN (wildcards allowed)')

    conditions = _parse_conditions(st["Condition"], f"{path}.Condition") if "Condition" in st else ()
    return _Statement(
        label=label,
        shown=_redact(label),
        allow=effect == "Allow",
        principals=principals,
        not_principal=not_principal,
        actions=_compile_patterns(a.lower() for _, a in actions),
        not_action=akey == "NotAction",
        resources=_compile_patterns((r for _, r in resources), _resource_glob_regex),
        not_resource=rkey == "NotResource",
        conditions=conditions,
    )


_REDACT_RE: Final = re.compile(r"arn:[^\s,;]*|[0-9]{12}", re.IGNORECASE)


def _redact(text: str) -> str:
    """Policy-authored text (Sids, condition keys) shown to a caller: hide anything like an account id/ARN."""
    return _REDACT_RE.sub("<redacted>", text)


class Policy:
    """A parsed, validated and compiled policy document. Immutable; safe to share between threads."""

    __slots__ = ("_kind", "_kind_label", "_statements")

    def __init__(self, kind: Literal["resource", "identity"], statements: Sequence[_Statement]) -> None:
        self._kind: Literal["resource", "identity"] = kind
        self._kind_label = f"{kind} policy"
        self._statements = tuple(statements)

    @property
    def kind(self) -> Literal["resource", "identity"]:
        return self._kind

    def __repr__(self) -> str:
        return f"<Policy kind={self._kind} statements={len(self._statements)}>"

    @classmethod
    def parse(cls, document: object, *, kind: Literal["resource", "identity"]) -> Policy:
        """Validate a policy document (parsed JSON) and compile it. Raises :class:`PolicyError`."""
        if kind not in ("resource", "identity"):
            raise ValueError(f"kind must be 'resource' or 'identity', not {kind!r}")
        if not isinstance(document, Mapping):
            raise PolicyError("", "a policy document must be a JSON object")
        doc: Mapping[str, object] = document
        for k in doc:
            if k not in ("Version", "Id", "Statement"):
                raise PolicyError(k, "unknown policy element")
        if "Version" in doc and doc["Version"] not in ("2012-10-17", "2008-10-17"):
            raise PolicyError("Version", 'Version must be "2012-10-17" or "2008-10-17"')
        if "Id" in doc and not isinstance(doc["Id"], str):
            raise PolicyError("Id", "Id must be a string")
        if "Statement" not in doc:
            raise PolicyError("Statement", "a policy must have a Statement")
        raw = doc["Statement"]
        seen: set[str] = set()
        if isinstance(raw, Mapping):
            statements = [_parse_statement(raw, "Statement", 0, kind, seen)]
        elif isinstance(raw, list | tuple):
            if not raw:
                raise PolicyError("Statement", "Statement must not be an empty list")
            statements = [_parse_statement(s, f"Statement[{i}]", i, kind, seen) for i, s in enumerate(raw)]
        else:
            raise PolicyError("Statement", "Statement must be an object or a list of objects")
        return cls(kind, statements)

    def evaluate(self, ctx: RequestContext) -> Evaluation:
        """Explicit Deny wins; otherwise any applicable Allow allows; otherwise implicit deny."""
        caller = _parse_caller(ctx.principal_arn, ctx.role_arn)
        action = ctx.action.lower()
        denies: list[_Statement] = []
        allows: list[_Statement] = []
        for st in self._statements:
            if st.applies(ctx, caller, action):
                (allows if st.allow else denies).append(st)
        if denies or allows:
            deciding, decision, verb = (
                (denies, Decision.EXPLICIT_DENY, "explicitly denied")
                if denies
                else (allows, Decision.ALLOW, "allowed")
            )
            return Evaluation(
                decision,
                tuple(st.label for st in deciding),
                f"action {ctx.action} on resource {ctx.resource} for principal {ctx.principal_arn}"
                f" is {verb} by {self._kind_label} statement(s) " + ", ".join(st.shown for st in deciding),
            )
        return Evaluation(Decision.IMPLICIT_DENY, (), self._diagnose(ctx, caller, action))

    def _diagnose(self, ctx: RequestContext, caller: _Caller, action: str) -> str:
        """Say how far the best Allow statement got, without echoing anything the policy names."""
        principal_stage = self._kind == "resource"
        best = 0  # 1: action matched, 2: + principal, 3: + resource (so a condition failed)
        failed: list[str] = []
        for st in self._statements:
            if not st.allow or not st.action_ok(action):
                continue
            best = max(best, 1)
            if not st.principal_ok(caller):
                continue
            best = max(best, 2)
            if not st.resource_ok(ctx.resource):
                continue
            best = 3
            cond = st.failing_condition(ctx, caller)
            if cond is not None:
                missing = _lookup(ctx, caller, cond.key_lower) is None
                text = f"{cond.operator} on {cond.key}" + (
                    " (key not present in the request)" if missing else ""
                )
                if text not in failed:
                    failed.append(text)
        head = f"no statement in the {self._kind_label} allows action {ctx.action}"
        who = f" for principal {ctx.principal_arn}" if principal_stage else ""
        if best == 0:
            return head
        if best == 1:
            return f"{head}{who}; statements that name this action name other principals"
        if best == 2:
            named = "action and principal" if principal_stage else "action"
            return (
                f"{head} on resource {ctx.resource}{who}; statements naming this {named} name other resources"
            )
        return (
            f"{head} on resource {ctx.resource}{who}; the statements that match it have conditions that are"
            " not met: " + _redact("; ".join(failed))
        )


def combine(*evaluations: Evaluation) -> Evaluation:
    """Join the evaluations of several policies for one request: every policy must allow, any deny wins.

    Intended use: ``combine(resource_policy.evaluate(ctx), identity_policy.evaluate(ctx))``, or just the
    resource policy's evaluation when the credential carries no identity policy. Then:

    - EXPLICIT_DENY if any evaluation is an explicit deny (its statement ids and explanations are kept);
    - otherwise ALLOW only if *every* evaluation is ALLOW (all allowing statement ids are kept);
    - otherwise IMPLICIT_DENY, explained by the evaluations that did not allow.

    This is AWS's cross-account rule (both the resource owner and the caller's account must grant). Unlike
    AWS within one account, an identity policy alone never suffices and neither does the resource policy
    alone when an identity policy is given. Raises ValueError when given nothing (nothing allows nothing).
    """
    if not evaluations:
        raise ValueError("combine() needs at least one evaluation")
    denies = [e for e in evaluations if e.decision is Decision.EXPLICIT_DENY]
    if denies:
        return Evaluation(
            Decision.EXPLICIT_DENY,
            tuple(sid for e in denies for sid in e.statement_ids),
            "; ".join(e.explanation for e in denies),
        )
    not_allowed = [e for e in evaluations if e.decision is not Decision.ALLOW]
    if not_allowed:
        return Evaluation(Decision.IMPLICIT_DENY, (), "; ".join(e.explanation for e in not_allowed))
    return Evaluation(
        Decision.ALLOW,
        tuple(sid for e in evaluations for sid in e.statement_ids),
        "; ".join(e.explanation for e in evaluations),
    )


class PolicyCache:
    """Parsed policies by (owner key, configuration version); documents are validated when configured."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], Policy] = {}

    def get(
        self, key: str, version: int, doc: Mapping[str, Any], kind: Literal["resource", "identity"]
    ) -> Policy:
        hit = self._cache.get((key, version))
        if hit is None:
            if len(self._cache) > 10_000:
                self._cache.clear()
            hit = Policy.parse(doc, kind=kind)
            self._cache[(key, version)] = hit
        return hit

"""Scope selection for CreateTokenWithIAM (AWS docs: "If the value is not specified, IAM Identity Center
authorizes all scopes configured for the application, including the default scopes openid, aws,
sts:identity_context"; an explicit list may only narrow, RFC 6749 section 3.3)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ssoidc.errors import InvalidScope
from ssoidc.model import Application


def available_scopes(defaults: Sequence[str], app_scopes: Iterable[str]) -> tuple[str, ...]:
    """Every scope the application may grant, in the order AWS returns them (identity context first)."""
    out: list[str] = []
    if "sts:identity_context" in defaults:
        out.append("sts:identity_context")
    out += [s for s in app_scopes if s not in out]
    out += [s for s in defaults if s not in out]
    return tuple(out)


def grantable_scopes(application: Application, defaults: Sequence[str]) -> tuple[str, ...]:
    """The scopes this application may grant: its access scopes (PutApplicationAccessScope) and the defaults."""
    return available_scopes(defaults, (s.scope for s in application.access_scopes))


def select_scopes(requested: Sequence[str] | None, available: Sequence[str]) -> tuple[str, ...]:
    """The granted scopes: all of ``available`` if nothing was requested, else the requested subset.

    Raises ``InvalidScope`` naming the first scope that is not available.
    """
    if not requested:
        return tuple(available)
    allowed = set(available)
    out: list[str] = []
    for s in requested:
        if s not in allowed:
            raise InvalidScope(f"Scope '{s[:100]}' is not available to this application or grant")
        if s not in out:
            out.append(s)
    return tuple(out)

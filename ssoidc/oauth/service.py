"""CreateTokenWithIAM, the domain side (AWS SSO OIDC ``CreateTokenWithIAM``; RFC 6749 section 4 / 5).

``TokenService.create_token_with_iam`` is the only entry ``ssoidc.aws`` uses. It runs the checks every grant needs
once, in node-oidc-provider's order, then hands over to the grant:

1. ``grantType`` is one the service serves (else UnsupportedGrantType, listing them);
2. ``clientId`` names an enabled application of this instance (else InvalidClient);
3. the caller is allowed by the application's ActorPolicy, and by the credential's identity policy if it has one
   (else AccessDenied, saying what is missing);
4. the application has that grant configured with PutApplicationGrant (else UnauthorizedClient);
5. the request sends no member the grant does not take (else InvalidRequest naming it: AWS documents ``code``,
   ``redirectUri`` and ``codeVerifier`` as "used only" for the authorization-code grant, and so on; boto3 and the
   other SDKs never send an unset member, so only a request that mixes grants is refused);
6. the application's request rate limit (``ssoidc.ratelimit``; else Throttled, SlowDownException on the wire):
   counted only for callers the application allows, so others cannot spend its budget;
7. the grant handler runs, with the application's config of that grant type.

The served grant types come from the grant registry (``ssoidc.oauth.grants.registry``); nothing here names one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import fields
from typing import Any

from ssoidc.errors import (
    AccessDenied,
    InvalidClient,
    InvalidRequest,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from ssoidc.iam.policy import Decision, PolicyCache, RequestContext, combine
from ssoidc.model import Application, ConfigSnapshot
from ssoidc.oauth.grants.base import COMMON_PARAMETERS, GrantContext, ServedGrant
from ssoidc.oauth.request import Caller, TokenRequest, TokenResult
from ssoidc.ratelimit import RequestLimits

ACTION = "sso-oauth:CreateTokenWithIAM"
_OPTIONAL = tuple(f.name for f in fields(TokenRequest) if f.name not in COMMON_PARAMETERS)


def wire_name(field: str) -> str:
    """A ``TokenRequest`` member's CreateTokenWithIAM name (``refresh_token`` -> ``refreshToken``)."""
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), field)


def _listing(values: tuple[str, ...]) -> str:
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


class TokenService:
    def __init__(self, grants: Iterable[ServedGrant[Any]], *, limits: RequestLimits | None = None) -> None:
        """``grants``: the served grant types with their handlers (``GrantRegistry.serve``), in listing order;
        ``limits``: the node's request rate limits (the per-application one is applied here)."""
        self._limits = limits or RequestLimits()
        self._grants: dict[str, ServedGrant[Any]] = {g.kind.uri: g for g in grants}
        self._undeclared = {
            uri: tuple(p for p in _OPTIONAL if p not in g.kind.parameters) for uri, g in self._grants.items()
        }
        self._unsupported = f"Unsupported grant type; use {_listing(self.grant_types)}"
        self._policies = PolicyCache()

    @property
    def grant_types(self) -> tuple[str, ...]:
        """The ``grantType`` values served, in listing order (OIDC discovery's ``grant_types_supported``)."""
        return tuple(self._grants)

    def authorize_caller(
        self, directory: ConfigSnapshot, app: Application, caller: Caller, now: float, action: str = ACTION
    ) -> None:
        """The application's ActorPolicy (and the caller's identity policy, if any) allow ``action`` on it
        (CreateTokenWithIAM; also ``sso-oauth:IntrospectToken`` / ``RevokeToken``, ``ssoidc.oauth.introspection``)."""
        if app.actor_policy is None:
            raise AccessDenied(
                "The application has no IAM authentication method, so no IAM principal may call"
                f" {action.split(':', 1)[1]} for it; add an ActorPolicy with PutApplicationAuthenticationMethod"
            )
        ctx = RequestContext(
            principal_arn=caller.principal_arn,
            action=action,
            resource=app.arn,
            source_ip=caller.source_ip,
            current_time=now,
            role_arn=None if caller.identity is None else caller.identity.role_arn,
        )
        resource = self._policies.get(app.arn, directory.version, app.actor_policy, "resource").evaluate(ctx)
        evaluations = [resource]
        if caller.identity is not None:
            evaluations.append(caller.identity.evaluate(ctx))
        result = combine(*evaluations)
        if result.decision is Decision.ALLOW:
            return
        where = "the application's ActorPolicy"
        if resource.decision is Decision.ALLOW:
            where = "the identity policy attached to your credential"
        raise AccessDenied(
            f"{caller.principal_arn} is not authorized to perform {action} on this application: "
            f"{where} does not allow it ({result.explanation})"
        )

    async def create_token_with_iam(
        self, req: TokenRequest, caller: Caller, directory: ConfigSnapshot, now: float
    ) -> TokenResult:
        served = self._grants.get(req.grant_type)
        if served is None:
            raise UnsupportedGrantType(self._unsupported)
        app = directory.applications.get(req.client_id)
        if app is None or app.instance_arn != directory.instance.instance_arn:
            raise InvalidClient("clientId does not name an application of this IAM Identity Center instance")
        if app.status != "ENABLED":
            raise InvalidClient("The application is disabled")
        self.authorize_caller(directory, app, caller, now)
        self._limits.admit_application(app.arn, now)
        config = app.grants.get(req.grant_type)
        if not isinstance(config, served.kind.config_type):
            raise UnauthorizedClient(
                f"The application is not configured for grant type {req.grant_type} (PutApplicationGrant)"
            )
        for name in self._undeclared[req.grant_type]:
            if getattr(req, name) is not None:
                raise InvalidRequest(
                    f"{wire_name(name)} is not a parameter of the {req.grant_type} grant; send only"
                    f" {', '.join(wire_name(p) for p in _OPTIONAL if p in served.kind.parameters)}"
                    " (besides clientId and grantType)"
                )
        return await served.handler.exchange(req, GrantContext(directory, app, caller, now, config))

"""CreateTokenWithIAM, the domain side (AWS SSO OIDC ``CreateTokenWithIAM``; RFC 6749 section 4 / 5).

``TokenService.create_token_with_iam`` is the only entry ``ssoidc.aws`` uses. It runs the checks every grant needs
once, in node-oidc-provider's order, then hands over to the grant:

1. ``grantType`` is one the service knows (else UnsupportedGrantType);
2. ``clientId`` names an enabled application of this instance (else InvalidClient);
3. the caller is allowed by the application's ActorPolicy, and by the credential's identity policy if it has one
   (else AccessDenied, saying what is missing);
4. the application has that grant configured with PutApplicationGrant (else UnauthorizedClient);
5. the grant handler runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from ssoidc.errors import AccessDenied, InvalidClient, UnauthorizedClient, UnsupportedGrantType
from ssoidc.iam.policy import Decision, PolicyCache, RequestContext, combine
from ssoidc.model import GRANT_TYPES, Application, ConfigSnapshot
from ssoidc.oauth.grants.base import Grant, GrantContext
from ssoidc.oauth.request import Caller, TokenRequest, TokenResult

ACTION = "sso-oauth:CreateTokenWithIAM"


class TokenService:
    def __init__(self, grants: Mapping[str, Grant]) -> None:
        self._grants = dict(grants)
        self._policies = PolicyCache()

    def authorize_caller(
        self, directory: ConfigSnapshot, app: Application, caller: Caller, now: float
    ) -> None:
        if app.actor_policy is None:
            raise AccessDenied(
                "The application has no IAM authentication method, so no IAM principal may call"
                " CreateTokenWithIAM for it; add an ActorPolicy with PutApplicationAuthenticationMethod"
            )
        ctx = RequestContext(
            principal_arn=caller.principal_arn,
            action=ACTION,
            resource=app.arn,
            source_ip=caller.source_ip,
            current_time=now,
        )
        resource = self._policies.get(app.arn, directory.version, app.actor_policy, "resource").evaluate(ctx)
        evaluations = [resource]
        if caller.identity_policy is not None:
            identity = self._policies.get(
                "cred:" + caller.access_key_id, directory.version, caller.identity_policy, "identity"
            ).evaluate(ctx)
            evaluations.append(identity)
        result = combine(*evaluations)
        if result.decision is Decision.ALLOW:
            return
        where = "the application's ActorPolicy"
        if resource.decision is Decision.ALLOW:
            where = "the identity policy attached to your credential"
        raise AccessDenied(
            f"{caller.principal_arn} is not authorized to perform {ACTION} on this application: "
            f"{where} does not allow it ({result.explanation})"
        )

    async def create_token_with_iam(
        self, req: TokenRequest, caller: Caller, directory: ConfigSnapshot, now: float
    ) -> TokenResult:
        if req.grant_type not in GRANT_TYPES:
            raise UnsupportedGrantType(
                "Unsupported grant type; use authorization_code, refresh_token,"
                " urn:ietf:params:oauth:grant-type:jwt-bearer or urn:ietf:params:oauth:grant-type:token-exchange"
            )
        app = directory.applications.get(req.client_id)
        if app is None or app.instance_arn != directory.instance.instance_arn:
            raise InvalidClient("clientId does not name an application of this IAM Identity Center instance")
        if app.status != "ENABLED":
            raise InvalidClient("The application is disabled")
        self.authorize_caller(directory, app, caller, now)
        if req.grant_type not in app.grants:
            raise UnauthorizedClient(
                f"The application is not configured for grant type {req.grant_type} (PutApplicationGrant)"
            )
        grant = self._grants.get(req.grant_type)
        if grant is None:
            raise UnsupportedGrantType(
                f"Grant type {req.grant_type} is not implemented by this ssoidc version"
            )
        return await grant.exchange(req, GrantContext(directory, app, caller, now))

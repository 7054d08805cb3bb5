"""sso-oidc (rest-json, botocore model ``sso-oidc``): the operations ssoidc serves, one handler each.

``CreateTokenWithIAM`` (``POST /token?aws_iam=t``, SigV4 service ``sso-oauth``; AWS SSO OIDC API Reference,
CreateTokenWithIAM): the skeleton has verified the signature and validated the body against
``CreateTokenWithIAMRequest`` (required members and types; unknown members ignored, as AWS does). The handler maps
camelCase to the domain's snake_case ``TokenRequest``, calls the token service and answers
``CreateTokenWithIAMResponse``.

The public-client operations, all unsigned (the model marks them ``authtype: none``), map camelCase to
``ssoidc.oauth.public.PublicClients``:

* ``RegisterClient`` (``POST /client/register``): ``clientId``, ``clientSecret``, ``clientIdIssuedAt`` and
  ``clientSecretExpiresAt`` (epoch seconds, 90 days), ``authorizationEndpoint`` (``<public url>/authorize``) and
  ``tokenEndpoint`` (``<public url>/token``);
* ``StartDeviceAuthorization`` (``POST /device_authorization``);
* ``CreateToken`` (``POST /token``, never ``?aws_iam=t``, which the skeleton routes to CreateTokenWithIAM):
  ``accessToken``, ``tokenType``, ``expiresIn`` and, when issued, ``refreshToken``; never ``idToken`` (the model:
  not implemented for CreateToken) and never ``awsAdditionalDetails`` (not in its output shape).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from ssoidc.aws.models import operation
from ssoidc.aws.shapes import sso_oidc as so
from ssoidc.aws.skeleton import Call
from ssoidc.errors import NotImplementedOperation
from ssoidc.iam.authority import Authority
from ssoidc.oauth.clients import RegisterRequest
from ssoidc.oauth.public import PublicClients
from ssoidc.oauth.request import Caller, PublicTokenRequest, TokenRequest, TokenResult

SERVICE = "sso-oidc"

_INPUT = operation(SERVICE, "CreateTokenWithIAM").input_shape
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_FIELD = {name: _CAMEL.sub("_", name).lower() for name in _INPUT.members}  # clientId -> client_id


def token_request(clean: so.CreateTokenWithIAMRequest) -> TokenRequest:
    """A validated ``CreateTokenWithIAMRequest`` as the domain's ``TokenRequest``."""
    kwargs: dict[str, Any] = {_FIELD[k]: v for k, v in clean.items()}
    if "scope" in kwargs:
        kwargs["scope"] = tuple(kwargs["scope"])
    return TokenRequest(**kwargs)


def token_response(result: TokenResult) -> so.CreateTokenWithIAMResponse:
    """``CreateTokenWithIAMResponse`` for a token set (no ``refreshToken`` member when none was issued)."""
    out: so.CreateTokenWithIAMResponse = {
        "accessToken": result.access_token,
        "tokenType": result.token_type,
        "expiresIn": result.expires_in,
        "issuedTokenType": result.issued_token_type,
        "scope": list(result.scope),
        "awsAdditionalDetails": {"identityContext": result.identity_context},
    }
    if result.id_token is not None:
        out["idToken"] = result.id_token
    if result.refresh_token is not None:
        out["refreshToken"] = result.refresh_token
    return out


TokenCall = Callable[[TokenRequest, Caller], Awaitable[TokenResult]]


class SsoOidcApi:
    """The sso-oidc handlers (methods named ``xform_name(<Operation>)``)."""

    def __init__(
        self,
        *,
        create_token: TokenCall,
        identity_of: Callable[[str], Awaitable[Authority | None]],
        public: PublicClients | None = None,
        base_url: str = "",
    ) -> None:
        self._create_token = create_token
        self._identity_of = identity_of
        self._public = public
        self._base_url = base_url.rstrip("/")

    def _clients(self) -> PublicClients:
        if self._public is None:
            raise NotImplementedOperation("The public-client operations are not served by this handler")
        return self._public

    async def register_client(self, inp: so.RegisterClientRequest, call: Call) -> so.RegisterClientResponse:
        def strings(name: str) -> tuple[str, ...] | None:
            value = inp.get(name)
            return None if value is None else tuple(value)  # type: ignore[arg-type]

        req = RegisterRequest(
            client_name=inp["clientName"],
            client_type=inp["clientType"],
            scopes=strings("scopes"),
            redirect_uris=strings("redirectUris"),
            grant_types=strings("grantTypes"),
            issuer_url=inp.get("issuerUrl"),
            entitled_application_arn=inp.get("entitledApplicationArn"),
        )
        done = await self._clients().register_client(req)
        return {
            "clientId": done.client.client_id,
            "clientSecret": done.client_secret,
            "clientIdIssuedAt": int(done.client.created_at),
            "clientSecretExpiresAt": int(done.client.expires_at),
            "authorizationEndpoint": f"{self._base_url}/authorize",
            "tokenEndpoint": f"{self._base_url}/token",
        }

    async def start_device_authorization(
        self, inp: so.StartDeviceAuthorizationRequest, call: Call
    ) -> so.StartDeviceAuthorizationResponse:
        started = await self._clients().start_device_authorization(
            inp["clientId"], inp["clientSecret"], inp["startUrl"]
        )
        return {
            "deviceCode": started.device_code,
            "userCode": started.user_code,
            "verificationUri": started.verification_uri,
            "verificationUriComplete": started.verification_uri_complete,
            "expiresIn": started.expires_in,
            "interval": started.interval,
        }

    async def create_token(self, inp: so.CreateTokenRequest, call: Call) -> so.CreateTokenResponse:
        scope = inp.get("scope")
        req = PublicTokenRequest(
            client_id=inp["clientId"],
            client_secret=inp["clientSecret"],
            grant_type=inp["grantType"],
            device_code=inp.get("deviceCode"),
            code=inp.get("code"),
            refresh_token=inp.get("refreshToken"),
            scope=None if scope is None else tuple(scope),
            redirect_uri=inp.get("redirectUri"),
            code_verifier=inp.get("codeVerifier"),
        )
        result = await self._clients().create_token(req)
        out: so.CreateTokenResponse = {
            "accessToken": result.access_token,
            "tokenType": result.token_type,
            "expiresIn": result.expires_in,
        }
        if result.refresh_token is not None:
            out["refreshToken"] = result.refresh_token
        return out

    async def create_token_with_iam(
        self, inp: so.CreateTokenWithIAMRequest, call: Call
    ) -> so.CreateTokenWithIAMResponse:
        caller = Caller(
            principal_arn=call.principal_arn,
            access_key_id=call.access_key_id,
            source_ip=call.source_ip,
            identity=await self._identity_of(call.access_key_id),
        )
        return token_response(await self._create_token(token_request(inp), caller))

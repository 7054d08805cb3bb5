"""sso-oidc (rest-json, botocore model ``sso-oidc``): the operations ssoidc serves, one handler each.

``CreateTokenWithIAM`` (``POST /token?aws_iam=t``, SigV4 service ``sso-oauth``; AWS SSO OIDC API Reference,
CreateTokenWithIAM): the skeleton has verified the signature and validated the body against
``CreateTokenWithIAMRequest`` (required members and types; unknown members ignored, as AWS does). The handler maps
camelCase to the domain's snake_case ``TokenRequest``, calls the token service and answers
``CreateTokenWithIAMResponse``. The public-client operations (``CreateToken``, ``RegisterClient``,
``StartDeviceAuthorization``) have no handler yet, so the skeleton answers them ``NotImplementedException``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ssoidc.aws.models import operation
from ssoidc.aws.shapes import sso_oidc as so
from ssoidc.aws.skeleton import Call
from ssoidc.oauth.request import Caller, TokenRequest, TokenResult

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
        "idToken": result.id_token,
        "issuedTokenType": result.issued_token_type,
        "scope": list(result.scope),
        "awsAdditionalDetails": {"identityContext": result.identity_context},
    }
    if result.refresh_token is not None:
        out["refreshToken"] = result.refresh_token
    return out


TokenCall = Callable[[TokenRequest, Caller], Awaitable[TokenResult]]


class SsoOidcApi:
    """The sso-oidc handlers (methods named ``xform_name(<Operation>)``)."""

    def __init__(
        self, *, create_token: TokenCall, identity_policy_of: Callable[[str], Mapping[str, Any] | None]
    ) -> None:
        self._create_token = create_token
        self._identity_policy_of = identity_policy_of

    async def create_token_with_iam(
        self, inp: so.CreateTokenWithIAMRequest, call: Call
    ) -> so.CreateTokenWithIAMResponse:
        caller = Caller(
            principal_arn=call.principal_arn,
            access_key_id=call.access_key_id,
            source_ip=call.source_ip,
            identity_policy=self._identity_policy_of(call.access_key_id),
        )
        return token_response(await self._create_token(token_request(inp), caller))

"""Wire-neutral request and result types of the token service (snake_case; ``ssoidc.aws`` maps camelCase)."""

from __future__ import annotations

from dataclasses import dataclass

from ssoidc.iam.authority import Authority


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A CreateTokenWithIAM request after wire validation."""

    client_id: str
    grant_type: str
    code: str | None = None
    refresh_token: str | None = None
    assertion: str | None = None
    scope: tuple[str, ...] | None = None
    redirect_uri: str | None = None
    subject_token: str | None = None
    subject_token_type: str | None = None
    requested_token_type: str | None = None
    code_verifier: str | None = None


PUBLIC_CLIENT_PREFIX = "client:"
"""The ``application_arn`` of the tokens and codes of a public client (RegisterClient) is ``client:<client id>``:
never an application ARN, so a public client's token is never taken for an application's."""


def public_client_owner(client_id: str) -> str:
    return PUBLIC_CLIENT_PREFIX + client_id


def is_public_client_owner(owner: str) -> bool:
    return owner.startswith(PUBLIC_CLIENT_PREFIX)


@dataclass(frozen=True, slots=True)
class PublicTokenRequest:
    """A CreateToken request after wire validation (AWS SSO OIDC ``CreateToken``)."""

    client_id: str
    client_secret: str
    grant_type: str
    device_code: str | None = None
    code: str | None = None
    refresh_token: str | None = None
    scope: tuple[str, ...] | None = None
    redirect_uri: str | None = None
    code_verifier: str | None = None

    def as_token_request(self) -> TokenRequest:
        """The members the shared grant handlers read (authorization code, refresh token)."""
        return TokenRequest(
            client_id=self.client_id,
            grant_type=self.grant_type,
            code=self.code,
            refresh_token=self.refresh_token,
            scope=self.scope,
            redirect_uri=self.redirect_uri,
            code_verifier=self.code_verifier,
        )


@dataclass(frozen=True, slots=True)
class Caller:
    """The IAM principal that signed the request (verified by SigV4)."""

    principal_arn: str
    access_key_id: str
    source_ip: str | None = None
    identity: Authority | None = None
    """The credential's identity policies (``ssoidc.credentials.authority``); None: it carries none."""


@dataclass(frozen=True, slots=True)
class TokenResult:
    access_token: str
    expires_in: int
    id_token: str | None
    issued_token_type: str
    scope: tuple[str, ...]
    identity_context: str
    refresh_token: str | None = None
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret

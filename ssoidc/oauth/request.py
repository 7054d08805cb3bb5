"""Wire-neutral request and result types of the token service (snake_case; ``ssoidc.aws`` maps camelCase)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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


@dataclass(frozen=True, slots=True)
class Caller:
    """The IAM principal that signed the request (verified by SigV4)."""

    principal_arn: str
    access_key_id: str
    source_ip: str | None = None
    identity_policy: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TokenResult:
    access_token: str
    expires_in: int
    id_token: str
    issued_token_type: str
    scope: tuple[str, ...]
    identity_context: str
    refresh_token: str | None = None
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret

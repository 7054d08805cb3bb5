"""The grant protocol: each grant type of CreateTokenWithIAM (AWS SSO OIDC API Reference) is one pluggable unit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from ssoidc.model import Application, ConfigSnapshot
from ssoidc.oauth.request import Caller, TokenRequest, TokenResult


@dataclass(frozen=True, slots=True)
class GrantContext:
    directory: ConfigSnapshot
    application: Application
    caller: Caller
    now: float


class Grant(Protocol):
    grant_type: ClassVar[str]

    async def exchange(self, req: TokenRequest, ctx: GrantContext) -> TokenResult: ...

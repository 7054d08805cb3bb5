"""The public-client operations, domain side (AWS SSO OIDC ``RegisterClient``, ``StartDeviceAuthorization``,
``CreateToken``; RFC 7591, RFC 8628, RFC 6749 with RFC 7636).

``PublicClients`` is what ``ssoidc.aws.oidc`` calls. CreateToken runs, in order:

1. ``clientId`` + ``clientSecret`` authenticate a live registration (else InvalidClientException);
2. ``grantType`` is one of ``PUBLIC_GRANTS`` (else UnsupportedGrantTypeException);
3. the registration may use it (``clients.allowed_grants``; else UnauthorizedClientException);
4. no member the grant does not take (else InvalidRequestException naming it);
5. the grant handler (``ssoidc.oauth.grants.public``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields

from ssoidc.errors import InvalidRequest, UnauthorizedClient, UnsupportedGrantType
from ssoidc.model import ConfigSnapshot
from ssoidc.oauth.clients import (
    ClientRegistry,
    Registered,
    RegisterRequest,
    allowed_grants,
    client_application,
)
from ssoidc.oauth.device import DeviceAuthorizations, StartedDevice
from ssoidc.oauth.grants.public import PublicGrant, PublicGrantContext, PublicGrantDeps, PublicGrantType
from ssoidc.oauth.request import PublicTokenRequest, TokenResult

_COMMON = frozenset({"client_id", "client_secret", "grant_type"})
_OPTIONAL = tuple(f.name for f in fields(PublicTokenRequest) if f.name not in _COMMON)


def _wire(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


class PublicClients:
    def __init__(
        self,
        *,
        registry: ClientRegistry,
        devices: DeviceAuthorizations,
        grants: Iterable[PublicGrantType],
        deps: PublicGrantDeps,
        current: Callable[[], ConfigSnapshot],
        now: Callable[[], float],
    ) -> None:
        self.registry = registry
        self.devices = devices
        self._kinds = {g.uri: g for g in grants}
        self._handlers: dict[str, PublicGrant] = {uri: g.handler(deps) for uri, g in self._kinds.items()}
        self._current = current
        self._now = now

    @property
    def grant_types(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    async def register_client(self, req: RegisterRequest) -> Registered:
        return await self.registry.register(req, self._current(), self._now())

    async def start_device_authorization(
        self, client_id: str, client_secret: str, start_url: str
    ) -> StartedDevice:
        now = self._now()
        client = await self.registry.authenticate(client_id, client_secret, now)
        return await self.devices.start(client, start_url, self._current(), now)

    async def create_token(self, req: PublicTokenRequest) -> TokenResult:
        now = self._now()
        directory = self._current()
        client = await self.registry.authenticate(req.client_id, req.client_secret, now)
        kind = self._kinds.get(req.grant_type)
        if kind is None:
            raise UnsupportedGrantType("Unsupported grant type; use " + ", ".join(self._kinds))
        if req.grant_type not in allowed_grants(client):
            raise UnauthorizedClient(f"The client is not registered for grant type {req.grant_type}")
        for name in _OPTIONAL:
            if name not in kind.parameters and getattr(req, name) is not None:
                raise InvalidRequest(f"{_wire(name)} is not a parameter of the {req.grant_type} grant")
        ctx = PublicGrantContext(directory, client, client_application(client, directory), now)
        return await self._handlers[req.grant_type].exchange(req, ctx)

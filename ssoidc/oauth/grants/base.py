"""The grant protocol: each grant type of CreateTokenWithIAM is one pluggable unit (RFC 6749 section 4).

A grant type is described once, by a ``GrantType`` row of ``ssoidc.oauth.grants.registry.GRANTS``: its grant-type
URI, the member of the sso-admin ``Grant`` union that configures it (PutApplicationGrant), its config class, how
that config reads and writes on sso-admin's wire and in the configuration file (one PascalCase mapping), how it is
stored, the CreateTokenWithIAM request members it takes, its configuration rules and its handler factory. The
token service, discovery, the file schema, ``ssoidc apply``/``export``, the storage codec, the sso-admin mapping
and ``ssoidc.admin.rules`` all read the registry; none of them names a grant type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from ssoidc.errors import InvalidGrant, ValidationFailed
from ssoidc.model import Application, ConfigSnapshot, Configuration, GrantConfig
from ssoidc.oauth.assertion import SigningKeySource
from ssoidc.oauth.issuer import PendingTokens, TokenIssuer
from ssoidc.oauth.request import Caller, TokenRequest, TokenResult
from ssoidc.oauth.tokens import TokenMinter
from ssoidc.storage.base import CodeStore, Redemption, TokenStore

C = TypeVar("C", bound=GrantConfig)

COMMON_PARAMETERS = frozenset({"client_id", "grant_type"})
"""``TokenRequest`` members every grant takes (CreateTokenWithIAM's required ``clientId`` and ``grantType``)."""
REQUEST_PARAMETERS = frozenset(f.name for f in fields(TokenRequest))

MEMBER_SPEC = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
"""pydantic config of a ``Grant`` member's file schema: unknown keys are errors, as everywhere in the file."""


class EmptySpec(BaseModel):
    """The file schema of a ``Grant`` member without members (``RefreshToken: {}``, ``TokenExchange: {}``)."""

    model_config = MEMBER_SPEC


@dataclass(frozen=True, slots=True)
class GrantContext(Generic[C]):
    """What a grant handler sees besides the request: the snapshot, the application, the caller, the time and
    the application's configuration of this grant type (typed: the row's config class)."""

    directory: ConfigSnapshot
    application: Application
    caller: Caller
    now: float
    config: C


class Grant(Protocol[C]):
    """A grant handler: redeems one grant of its type (RFC 6749 section 4 / 6, RFC 7523, RFC 8693)."""

    async def exchange(self, req: TokenRequest, ctx: GrantContext[C]) -> TokenResult: ...


class GrantStore(TokenStore, CodeStore, Protocol):
    """The store operations grant handlers use (tokens, jti replay, authorization codes)."""


@dataclass(frozen=True, slots=True)
class GrantDeps:
    """Everything a grant handler factory may use: a small typed bundle, not the node."""

    issuer: TokenIssuer
    minter: TokenMinter
    store: GrantStore
    keys: SigningKeySource
    default_scopes: tuple[str, ...]
    session_ttl: int
    assertion_leeway: float
    refresh_grace_seconds: float
    assertion_max_lifetime: float = 86400.0
    assertion_max_age: float = 86400.0


@dataclass(slots=True)
class MemberReader:
    """How one front door reads the body of a ``Grant`` union member (``GrantType.from_wire``).

    sso-admin (PutApplicationGrant): ``problems`` is None, so a problem raises ValidationFailed naming the member;
    repeated list values collapse (``distinct``); references are ARNs as given. The configuration file: problems
    are collected (every one is reported, each with its file path), lists are kept verbatim, and
    ``resolve_issuer`` turns a trusted token issuer's Name or ARN in the file into its ARN (None: unknown).
    """

    path: str
    distinct: bool = True
    problems: list[str] | None = None
    resolve_issuer: Callable[[str], str | None] = field(default=lambda ref: ref)

    def problem(self, message: str, member: str) -> None:
        path = f"{self.path}.{member}"
        if self.problems is None:
            raise ValidationFailed(message, path)
        self.problems.append(f"{path}: {message}")

    def values(self, items: Iterable[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(items)) if self.distinct else tuple(items)


def _no_rules(config: GrantConfig, configuration: Configuration) -> None:
    """A grant type without configuration rules."""


@dataclass(frozen=True, slots=True)
class GrantType(Generic[C]):
    """One grant type of CreateTokenWithIAM: a row of the grant registry."""

    uri: str
    """The ``grantType`` value (RFC 6749 section 4.1.3 / 6, RFC 7523 section 2.1, RFC 8693 section 2.1)."""
    member: str
    """The sso-admin ``Grant`` union member that configures it (``AuthorizationCode``, ``JwtBearer``...); the
    configuration file uses the same name."""
    config_type: type[C]
    parameters: frozenset[str]
    """The ``TokenRequest`` members this grant takes besides ``client_id`` and ``grant_type``."""
    file_spec: type[BaseModel]
    """The configuration file's schema of the member (pydantic); it dumps to the wire shape ``from_wire`` reads."""
    to_wire: Callable[[C], dict[str, Any]]
    """Config -> the member's PascalCase body (sso-admin GetApplicationGrant; ``ssoidc export``)."""
    from_wire: Callable[[Mapping[str, Any], MemberReader], C]
    """The member's PascalCase body -> config (sso-admin PutApplicationGrant; ``ssoidc apply``)."""
    store_tag: str
    """The ``type`` of the stored document (``ssoidc.storage.codec``); never changes once released."""
    to_store: Callable[[C], dict[str, Any]]
    from_store: Callable[[Mapping[str, Any]], C]
    handler: Callable[[GrantDeps], Grant[C]]
    check: Callable[[C, Configuration], None] = _no_rules
    """The grant's part of ``ssoidc.admin.rules``: raises an AdminError if the stored configuration may not
    hold this config."""


def memberless_grant(
    *,
    uri: str,
    member: str,
    config_type: type[C],
    store_tag: str,
    parameters: Iterable[str],
    handler: Callable[[GrantDeps], Grant[C]],
) -> GrantType[C]:
    """The row of a grant type whose ``Grant`` member has no members (``{}`` on the wire, in the file and in the
    store): one mapping for all three."""
    return GrantType(
        uri=uri,
        member=member,
        config_type=config_type,
        parameters=frozenset(parameters),
        file_spec=EmptySpec,
        to_wire=lambda config: {},
        from_wire=lambda body, reader: config_type(),
        store_tag=store_tag,
        to_store=lambda config: {},
        from_store=lambda doc: config_type(),
        handler=handler,
    )


@dataclass(frozen=True, slots=True)
class ServedGrant(Generic[C]):
    """A grant type with the handler that serves it."""

    kind: GrantType[C]
    handler: Grant[C]


class GrantRegistry:
    """The grant types, in the order they are listed (discovery, the UnsupportedGrantType message, export)."""

    def __init__(self, kinds: Iterable[GrantType[Any]]) -> None:
        self.kinds: tuple[GrantType[Any], ...] = tuple(kinds)
        self._by_uri = {k.uri: k for k in self.kinds}
        self._by_member = {k.member: k for k in self.kinds}
        self._by_tag = {k.store_tag: k for k in self.kinds}
        self._by_config = {k.config_type: k for k in self.kinds}
        n = len(self.kinds)
        if not n == len(self._by_uri) == len(self._by_member) == len(self._by_tag) == len(self._by_config):
            raise ValueError("grant types must differ in uri, member, store_tag and config_type")
        for k in self.kinds:
            unknown = k.parameters - REQUEST_PARAMETERS
            if unknown:
                raise ValueError(f"{k.uri} declares parameters TokenRequest does not have: {sorted(unknown)}")

    def __iter__(self) -> Iterator[GrantType[Any]]:
        return iter(self.kinds)

    def __contains__(self, uri: object) -> bool:
        return uri in self._by_uri

    @property
    def uris(self) -> tuple[str, ...]:
        return tuple(self._by_uri)

    def get(self, uri: str) -> GrantType[Any] | None:
        return self._by_uri.get(uri)

    def by_store_tag(self, tag: str) -> GrantType[Any]:
        kind = self._by_tag.get(tag)
        if kind is None:
            raise ValueError(f"stored grant of unknown type {tag!r}")
        return kind

    def of(self, config: GrantConfig) -> GrantType[Any]:
        """The row whose config class ``config`` is an instance of."""
        kind = self._by_config.get(type(config))
        if kind is None:
            raise TypeError(f"{type(config).__name__} is not the config of a registered grant type")
        return kind

    def union_of(self, config: GrantConfig) -> dict[str, Any]:
        """Config -> the sso-admin ``Grant`` union, ``{member: body}`` (GetApplicationGrant; ``ssoidc export``)."""
        kind = self.of(config)
        return {kind.member: kind.to_wire(config)}

    def serve(self, deps: GrantDeps) -> tuple[ServedGrant[Any], ...]:
        """Every grant type with its handler, built from ``deps`` (fosite's ComposeAllEnabled)."""
        return tuple(ServedGrant(k, k.handler(deps)) for k in self.kinds)


@dataclass(frozen=True, slots=True)
class RedemptionRefused:
    """The InvalidGrant descriptions of a single-use redemption that did not happen (RFC 6749 section 4.1.2 / 6;
    RFC 9700 section 4.14.2)."""

    invalid: str
    reused: str
    in_grace: str | None = None


def redeemed(outcome: Redemption, pending: PendingTokens, refused: RedemptionRefused) -> TokenResult:
    """The token set if the redemption happened (``Redemption.OK``), else InvalidGrant with the outcome's
    description: the one ``Redemption`` -> error mapping of the code and refresh-token grants."""
    if outcome is Redemption.OK:
        return pending.finish()
    if outcome is Redemption.REUSED:
        raise InvalidGrant(refused.reused)
    if outcome is Redemption.RETRY_IN_GRACE and refused.in_grace is not None:
        raise InvalidGrant(refused.in_grace)
    raise InvalidGrant(refused.invalid)

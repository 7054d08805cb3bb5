"""Minting one token set (access, optional refresh, idToken, identity context) and persisting it atomically.

Shared by every grant, so the idToken claims (AWS SSO OIDC API Reference, CreateTokenWithIAM, response element
``idToken``) are built in one place:
``iss`` = ``<base url>/<instance id>``, ``sub`` = identity-store user id, ``aud`` = application ARN, ``iat``/``exp``,
``auth_time`` as an ISO-8601 string (as AWS), the ``aws:*`` claims, ``sts:identity_context`` and, for JWT bearer,
``act.sub`` = the trusted token issuer ARN; for the authorization-code grant, ``nonce`` = the authorization
request's ``nonce`` when it sent one (OIDC Core 3.1.2.1 and 3.1.3.6). A refreshed idToken has no ``nonce``
(OIDC Core 12.2: it SHOULD NOT), so the nonce is never kept with the token family. A public client's token set
(CreateToken, owner ``client:<client id>``) has neither idToken nor identity context.
"""

from __future__ import annotations

import functools
import ipaddress
import posixpath
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from ssoidc.model import (
    GRANT_REFRESH_TOKEN,
    TOKEN_TYPE_ACCESS,
    TOKEN_TYPE_REFRESH,
    Application,
    ConfigSnapshot,
)
from ssoidc.oauth.keys import Signer
from ssoidc.oauth.request import TokenResult, is_public_client_owner
from ssoidc.oauth.tokens import RefreshClaims, TokenMinter
from ssoidc.storage.base import TokenRecord, TokenStore

_INSTANCE_ID = re.compile(r"(sso)?ins-[a-z0-9.-]{16}")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _loopback(host: str) -> bool:
    """A loopback (or unspecified) name or address, however spelled (``127.1``, ``0x7f.0.0.1``, ``::ffff:127.0.0.1``)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if not re.fullmatch(r"[0-9a-fx.]+", host):
            return False
        try:  # the BSD shorthands inet_aton (and so some HTTP clients) accept
            ip = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def _normal(url: str) -> tuple[str, str, int | None, str] | None:
    """``(scheme, host, port, path)`` of an http(s) URL in one spelling: lower-case scheme and host (percent-decoded,
    no trailing dot; every loopback name or address is ``loopback``), the default port dropped, the path
    percent-decoded, lower-cased, with ``.``/``..`` segments, repeated and trailing slashes removed; None if it is
    not an http(s) URL with a host."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = unquote(parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if _loopback(host):
        host = "loopback"
    if port == _DEFAULT_PORTS[scheme]:
        port = None
    path = unquote(parts.path).lower()
    path = posixpath.normpath("/" + path) if path else "/"
    path = re.sub(r"/+", "/", path).rstrip("/")
    return scheme, host, port, path


def is_own_issuer(url: str, base_url: str, instance_ids: Iterable[str] = ()) -> bool:
    """True if ``url`` names, in any spelling, an issuer of ssoidc's own idTokens: ``<base url>/<instance id>``
    (the instance's, any of ``instance_ids``, or anything shaped like an instance id: an instance created later
    gets a new one). Aliases count: scheme and host case, a trailing slash or dot, the default port spelled out,
    percent-encoding, ``.`` segments, and any loopback name or address when the base URL is a loopback one.

    A trusted token issuer at such a URL would make ssoidc's own idTokens assertions for itself (self-trust):
    sso-admin CreateTrustedTokenIssuer and ``ssoidc apply`` refuse it, and the JWT-bearer grant never accepts an
    assertion whose ``iss`` is one. Other paths of the same server (the demo issuer, ``/demo-issuer``) are not ours.
    """
    target, base = _normal(url), _normal(base_url)
    if target is None or base is None or target[1:3] != base[1:3]:  # http or https: both refused
        return False
    prefix = base[3] + "/"
    if not target[3].startswith(prefix):
        return False
    segment = target[3][len(prefix) :]
    if "/" in segment or not segment:
        return False
    return bool(_INSTANCE_ID.fullmatch(segment)) or segment in {i.lower() for i in instance_ids}


@functools.lru_cache(maxsize=1024)
def _is_own_cached(url: str, base_url: str, instance_id: str) -> bool:
    """``is_own_issuer`` (16 µs: URL parsing and normalising) once per distinct URL; bounded, so assertions with
    made-up issuers only churn it."""
    return is_own_issuer(url, base_url, (instance_id,))


def iso_utc(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@dataclass(frozen=True, slots=True)
class IssueSpec:
    """What a grant decided: who, for which application, which scopes, and how the session is bounded."""

    application: Application
    user_id: str
    scopes: tuple[str, ...]
    grant_type: str
    now: float
    session_expires_at: float
    auth_time: float
    act: Mapping[str, Any] | None = None
    family_id: str | None = None
    parent_hash: bytes | None = None
    with_refresh: bool | None = None  # None: when the application has the RefreshToken grant
    not_after: float | None = None
    """No token of this set may outlive this instant (token exchange: the subject token's expiry)."""
    nonce: str | None = None
    """The authorization request's OpenID Connect nonce (authorization-code grant only), for the idToken."""


@dataclass(frozen=True, slots=True)
class PendingTokens:
    """A minted token set: the rows to store, and ``finish`` to sign it once they are stored."""

    records: list[TokenRecord]
    finish: Callable[[], TokenResult]


class TokenIssuer:
    def __init__(
        self,
        *,
        minter: TokenMinter,
        signer: Signer,
        store: TokenStore,
        base_url: str,
        access_ttl: int,
        family_cap: int = 0,
    ) -> None:
        """``family_cap``: live refresh-token families one user may hold per application (0: no cap), applied by
        the store when a token set starts a family (``TokenStore.issue``; SSOIDC_MAX_REFRESH_FAMILIES)."""
        self.family_cap = family_cap
        self._minter = minter
        self._signer = signer
        self._store = store
        self._base_url = base_url
        self._access_ttl = access_ttl

    def issuer_url(self, directory: ConfigSnapshot) -> str:
        return f"{self._base_url}/{directory.instance.instance_id}"

    def is_own(self, url: str, directory: ConfigSnapshot) -> bool:
        """``is_own_issuer`` for this node's base URL and instance (memoized: the JWT-bearer grant asks it for every
        assertion, and the answer depends only on these three strings)."""
        return _is_own_cached(url, self._base_url, directory.instance.instance_id)

    async def issue(
        self, spec: IssueSpec, directory: ConfigSnapshot, *, jti: tuple[str, str, float] | None = None
    ) -> TokenResult:
        """Store the token set (with the ``jti``, if given) in one transaction, then sign it."""
        pending = self.prepare(spec, directory)
        await self._store.issue(pending.records, jti=jti, family_cap=self.family_cap)
        return pending.finish()

    def build(self, spec: IssueSpec, directory: ConfigSnapshot) -> tuple[TokenResult, list[TokenRecord]]:
        """Mint and sign a token set without storing it."""
        pending = self.prepare(spec, directory)
        return pending.finish(), pending.records

    def prepare(self, spec: IssueSpec, directory: ConfigSnapshot) -> PendingTokens:
        """Mint a token set's tokens and store records; sealing the identity context and signing the idToken wait
        for ``finish``, which the caller calls only once its conditional write has succeeded (a replayed code,
        refresh token or ``jti`` costs no signature)."""
        now = spec.now
        app = spec.application
        inst = directory.instance
        family = spec.family_id or secrets.token_urlsafe(16)
        session_end = (
            spec.session_expires_at
            if spec.not_after is None
            else min(spec.session_expires_at, spec.not_after)
        )
        expires_at = min(now + self._access_ttl, session_end)
        access, access_hash = self._minter.mint("access")
        with_refresh = (GRANT_REFRESH_TOKEN in app.grants) if spec.with_refresh is None else spec.with_refresh
        act = dict(spec.act) if spec.act is not None else None
        context: dict[str, Any] = {"auth_time": spec.auth_time, "act": act}

        def record(token_hash: bytes, kind: Literal["access", "refresh"], expires: float) -> TokenRecord:
            return TokenRecord(
                token_hash=token_hash,
                kind=kind,
                family_id=family,
                parent_hash=spec.parent_hash,
                application_arn=app.arn,
                user_id=spec.user_id,
                scopes=spec.scopes,
                issued_at=now,
                expires_at=expires,
                session_expires_at=spec.session_expires_at,
                grant_type=spec.grant_type,
                context=context,
            )

        records = [record(access_hash, "access", expires_at)]
        refresh: str | None = None
        if with_refresh:
            refresh, refresh_hash = self._minter.mint_refresh(
                app.arn,
                RefreshClaims(
                    user_id=spec.user_id,
                    scopes=spec.scopes,
                    family_id=family,
                    issued_at=now,
                    expires_at=session_end,
                    session_expires_at=spec.session_expires_at,
                    auth_time=spec.auth_time,
                    act=act,
                ),
            )
            records.append(record(refresh_hash, "refresh", session_end))

        def finish() -> TokenResult:
            if is_public_client_owner(app.arn):
                # CreateToken (public clients): no idToken (the model: "not implemented or supported") and no
                # identity context (CreateToken has no awsAdditionalDetails)
                return TokenResult(
                    access_token=access,
                    expires_in=max(0, int(expires_at - now)),
                    id_token=None,
                    issued_token_type=TOKEN_TYPE_REFRESH if refresh else TOKEN_TYPE_ACCESS,
                    scope=spec.scopes,
                    identity_context="",
                    refresh_token=refresh,
                )
            iss = self.issuer_url(directory)
            identity_context = self._minter.seal_identity_context(
                {
                    "v": 1,
                    "iss": iss,
                    "sub": spec.user_id,
                    "isa": inst.identity_store_arn,
                    "app": app.arn,
                    "iat": int(now),
                    "exp": int(expires_at),
                    "fam": family,
                }
            )
            claims: dict[str, Any] = {
                "iss": iss,
                "sub": spec.user_id,
                "aud": app.arn,
                "iat": int(now),
                "exp": int(expires_at),
                "auth_time": iso_utc(spec.auth_time),
                "aws:identity_store_id": inst.identity_store_id,
                "aws:identity_store_arn": inst.identity_store_arn,
                "aws:instance_arn": inst.instance_arn,
                "aws:instance_account": inst.owner_account_id,
                "aws:credential_id": family,
                "aws:application_arn": app.arn,
                "sts:identity_context": identity_context,
            }
            if act is not None:
                claims["act"] = act
            if spec.nonce is not None:
                claims["nonce"] = spec.nonce
            return TokenResult(
                access_token=access,
                expires_in=max(0, int(expires_at - now)),
                id_token=self._signer.sign(claims),
                issued_token_type=TOKEN_TYPE_REFRESH if refresh else TOKEN_TYPE_ACCESS,
                scope=spec.scopes,
                identity_context=identity_context,
                refresh_token=refresh,
            )

        return PendingTokens(records, finish)

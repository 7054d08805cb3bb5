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

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

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
        self, *, minter: TokenMinter, signer: Signer, store: TokenStore, base_url: str, access_ttl: int
    ) -> None:
        self._minter = minter
        self._signer = signer
        self._store = store
        self._base_url = base_url
        self._access_ttl = access_ttl

    def issuer_url(self, directory: ConfigSnapshot) -> str:
        return f"{self._base_url}/{directory.instance.instance_id}"

    async def issue(
        self, spec: IssueSpec, directory: ConfigSnapshot, *, jti: tuple[str, str, float] | None = None
    ) -> TokenResult:
        """Store the token set (with the ``jti``, if given) in one transaction, then sign it."""
        pending = self.prepare(spec, directory)
        await self._store.issue(pending.records, jti=jti)
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

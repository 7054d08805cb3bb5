"""The token-exchange grant (RFC 8693) between applications of one instance.

``subjectToken`` must be an unexpired, unrevoked access token that ssoidc issued to a *different* application and
that carries a scope whose AuthorizedTargets (PutApplicationAccessScope on the subject's application) name the
requesting application or the instance. ``subjectTokenType`` must be the access_token URI; ``requestedTokenType``
is access_token (default) or refresh_token (then the application needs the RefreshToken grant).

Nothing widens along a chain: the new scopes are the subject's scopes that the target application can grant
(optionally narrowed by ``scope``), and no issued token outlives the subject token. The user, ``auth_time`` and the
token family carry over (so revoking the family revokes exchanged tokens too), and ``act`` records the chain:
``{"sub": <subject application>, "act": <the subject's act>}`` (RFC 8693 section 4.1).

The subject's own session must still stand (``origin.py``): if it was granted through a trusted token issuer that
is gone or no longer authorized, or exchanged from an application that no longer authorizes it, the subject token is
InvalidGrant and its family is revoked; a family made here is checked the same way at each refresh.

Errors (as AWS where known): a bad, expired, revoked or same-application subject token is InvalidGrant; a valid
subject token that does not authorize this target is InvalidRequest; a wrong token type is InvalidRequest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ssoidc.errors import AccessDenied, InvalidGrant, InvalidRequest
from ssoidc.model import (
    GRANT_REFRESH_TOKEN,
    GRANT_TOKEN_EXCHANGE,
    TOKEN_TYPE_ACCESS,
    TOKEN_TYPE_REFRESH,
    TokenExchangeGrantConfig,
)
from ssoidc.oauth.grants.base import GrantContext, GrantType, memberless_grant
from ssoidc.oauth.grants.origin import origin_problem
from ssoidc.oauth.issuer import IssueSpec, TokenIssuer
from ssoidc.oauth.request import TokenRequest, TokenResult
from ssoidc.oauth.scopes import grantable_scopes, select_scopes
from ssoidc.oauth.tokens import TokenMinter
from ssoidc.storage.base import TokenStore

INVALID_SUBJECT = "Invalid subject token provided"


NOT_ASSIGNED = (
    "The user is not assigned to this application, directly or through a group, and the application requires"
    " assignment (AssignmentRequired is true)"
)


class TokenExchangeGrantHandler:
    def __init__(
        self, *, issuer: TokenIssuer, minter: TokenMinter, store: TokenStore, default_scopes: tuple[str, ...]
    ) -> None:
        self._issuer = issuer
        self._minter = minter
        self._store = store
        self._default_scopes = default_scopes

    async def exchange(self, req: TokenRequest, ctx: GrantContext[TokenExchangeGrantConfig]) -> TokenResult:
        if not req.subject_token:
            raise InvalidRequest("subjectToken is required for the token-exchange grant")
        if req.subject_token_type is None:
            raise InvalidRequest(f"subjectTokenType is required; the supported value is {TOKEN_TYPE_ACCESS}")
        if req.subject_token_type != TOKEN_TYPE_ACCESS:
            raise InvalidRequest(f"Unsupported subjectTokenType; the supported value is {TOKEN_TYPE_ACCESS}")
        requested = req.requested_token_type or TOKEN_TYPE_ACCESS
        if requested not in (TOKEN_TYPE_ACCESS, TOKEN_TYPE_REFRESH):
            raise InvalidRequest(
                f"Unsupported requestedTokenType; use {TOKEN_TYPE_ACCESS} or {TOKEN_TYPE_REFRESH}"
            )
        app = ctx.application
        if requested == TOKEN_TYPE_REFRESH and GRANT_REFRESH_TOKEN not in app.grants:
            raise InvalidRequest(
                "A refresh token was requested but the application has no RefreshToken grant (PutApplicationGrant)"
            )
        subject_hash = self._minter.check(req.subject_token, "access")
        if subject_hash is None:
            raise InvalidGrant(INVALID_SUBJECT)
        subject = await self._store.find_token(subject_hash)
        if (
            subject is None
            or subject.kind != "access"
            or subject.revoked_at is not None
            or subject.expires_at <= ctx.now
        ):
            raise InvalidGrant(INVALID_SUBJECT)
        if subject.application_arn == app.arn:
            raise InvalidGrant(
                "Invalid subject token provided: it was issued to this same application; token exchange takes an"
                " access token of a different application"
            )
        subject_app = ctx.directory.applications.get(subject.application_arn)
        authorized = False
        if subject_app is not None:
            targets_by_scope = {s.scope: s.authorized_targets for s in subject_app.access_scopes}
            for scope in subject.scopes:
                targets = targets_by_scope.get(scope, ())
                if app.arn in targets or ctx.directory.instance.instance_arn in targets:
                    authorized = True
                    break
        if not authorized or subject_app is None:
            raise InvalidRequest(
                "The subject token does not authorize this application: none of its scopes lists this application"
                " (or the instance) in its AuthorizedTargets (PutApplicationAccessScope)"
            )
        act_of_subject = subject.context.get("act")
        problem = origin_problem(
            act_of_subject if isinstance(act_of_subject, Mapping) else None, subject_app, ctx.directory
        )
        if problem is not None:  # the subject's session was granted through something that is gone
            await self._store.revoke_family(subject.family_id, ctx.now, subject.session_expires_at)
            raise InvalidGrant(f"{INVALID_SUBJECT}: {problem}, so its session has ended")
        if not await ctx.directory.has_user(subject.user_id):
            raise InvalidGrant(INVALID_SUBJECT)
        await ctx.directory.require_assigned(app, subject.user_id, lambda: AccessDenied(NOT_ASSIGNED))
        grantable = grantable_scopes(app, self._default_scopes)
        carried = tuple(s for s in subject.scopes if s in set(grantable))
        scopes = select_scopes(req.scope, carried)
        prev_act = subject.context.get("act")
        act: dict[str, Any] = {"sub": subject.application_arn}
        if prev_act:
            act["act"] = prev_act
        spec = IssueSpec(
            application=app,
            user_id=subject.user_id,
            scopes=scopes,
            grant_type=GRANT_TOKEN_EXCHANGE,
            now=ctx.now,
            session_expires_at=subject.session_expires_at,
            auth_time=float(subject.context.get("auth_time", subject.issued_at)),
            act=act,
            family_id=subject.family_id,
            parent_hash=subject.token_hash,
            with_refresh=requested == TOKEN_TYPE_REFRESH,
            not_after=subject.expires_at,
        )
        return await self._issuer.issue(spec, ctx.directory)


TOKEN_EXCHANGE: GrantType[TokenExchangeGrantConfig] = memberless_grant(
    uri=GRANT_TOKEN_EXCHANGE,
    member="TokenExchange",
    config_type=TokenExchangeGrantConfig,
    store_tag="token_exchange",
    parameters=("subject_token", "subject_token_type", "requested_token_type", "scope"),
    handler=lambda deps: TokenExchangeGrantHandler(
        issuer=deps.issuer, minter=deps.minter, store=deps.store, default_scopes=deps.default_scopes
    ),
)

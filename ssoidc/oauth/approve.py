"""Browserless approval of an authorization request (RFC 6749 section 4.1.1-4.1.2): the operator's or the test
harness's act, with the store's access, for a user named by UserName.

``approve_authorization`` validates the ``/authorize`` URL exactly as the page does (``parse_authorize_request``,
registered public clients included), checks the assignment gate, and answers the redirect the client's loopback
listener would receive: ``redirect_uri?code=...&state=...``, or the error redirect. Used by ``ssoidc authorize
approve`` (docs/public-clients.md) and ``ssoidc.testing``'s PKCE login. Never logs the code.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlencode, urlsplit

from ssoidc.model import ConfigSnapshot
from ssoidc.oauth.authorize import AuthorizeError, CodeIssuer, parse_authorize_request
from ssoidc.oauth.clients import ClientRegistry
from ssoidc.storage.base import Store

log = logging.getLogger("ssoidc.authorize")


class ApprovalRefused(Exception):
    """The request cannot be approved (not an /authorize URL, an invalid request that cannot redirect, an unknown
    user, a user the application's assignment gate refuses). ``str()`` is safe to show."""


def _location(redirect_uri: str, params: dict[str, str | None]) -> str:
    clean = {k: v for k, v in params.items() if v is not None}
    return redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(clean)


async def approve_authorization(
    *,
    store: Store,
    master_key: bytes,
    directory: ConfigSnapshot,
    code_issuer: CodeIssuer,
    base_url: str,
    default_scopes: tuple[str, ...],
    url: str,
    user_name: str,
    now: float,
    deny: bool = False,
    via: str = "ssoidc authorize approve (operator, store access)",
) -> str:
    """The redirect URL answering the authorization request ``url`` as ``user_name`` approved (or ``deny``) it;
    ``directory``: the node's current configuration snapshot."""
    parts = urlsplit(url)
    if not parts.path.endswith("/authorize"):
        raise ApprovalRefused("the URL is not an /authorize URL")
    params = parse_qs(parts.query, keep_blank_values=True)
    ids = params.get("client_id") or []
    client = None
    if len(ids) == 1 and ids[0] not in directory.applications:
        client = await ClientRegistry(store, master_key, base_url=base_url).find(ids[0], now)
    try:
        areq = parse_authorize_request(params, directory, default_scopes, client)
    except AuthorizeError as exc:
        if exc.redirect and exc.request is not None:
            return _location(
                exc.request.redirect_uri,
                {"error": exc.error, "error_description": exc.description, "state": exc.request.state},
            )
        raise ApprovalRefused(exc.description) from None
    found = await store.find_users("username", user_name, limit=2)
    if len(found) != 1:
        raise ApprovalRefused(f"no user with UserName {user_name!r}")
    user_id = found[0].user_id
    if not await directory.may_use(areq.application, user_id):
        raise ApprovalRefused(f"{user_name} is not assigned to {areq.application.name} (AssignmentRequired)")
    if deny:
        log.info(
            "authorization request denied via %s: client %s, user %s", via, areq.application.name, user_id
        )
        return _location(
            areq.redirect_uri,
            {
                "error": "access_denied",
                "error_description": "The user declined the request",
                "state": areq.state,
            },
        )
    code = await code_issuer.issue_code(
        directory,
        application_arn=areq.application.arn,
        user_id=user_id,
        redirect_uri=areq.redirect_uri,
        scopes=areq.scopes,
        code_challenge=areq.code_challenge,
        code_challenge_method=areq.code_challenge_method,
        now=now,
        auth_time=now,
        nonce=areq.nonce,
        public_client=areq.public_client,
    )
    log.info("authorization code issued via %s: client %s, user %s", via, areq.application.name, user_id)
    return _location(areq.redirect_uri, {"code": code, "state": areq.state})

"""The access portal (``sso``: rest-json, operations unsigned, the bearer in ``x-amz-sso_bearer_token``):
``SsoPortalApi``, wire shapes <-> ``ssoidc.credentials.portal``.

Served: ListAccounts (``GET /assignment/accounts``), ListAccountRoles (``GET /assignment/roles``),
GetRoleCredentials (``GET /federation/credentials``), Logout (``POST /logout``). Lists are paged with sealed
``nextToken``s (``ssoidc.admin.paging``: bound to the operation, the user and the account asked about), 100 items
a page unless ``maxResults`` says fewer. ``expiration`` of role credentials is in epoch **milliseconds** (the
model's ``ExpirationTimestampType``; botocore's SSO credential provider divides by 1000).

Errors (``ssoidc.aws.errors``): ``UnauthorizedException`` (401, "Session token not found or invalid") for a bearer
that is not a live portal token; ``ForbiddenException`` (403, "No access", unmodelled as in AWS) for a role the
user does not have; ``InvalidRequestException`` (400) for a malformed request or a ``nextToken`` that is not this
listing's; ``TooManyRequestsException`` (429) from the rate limits.
"""

from __future__ import annotations

from typing import Any

from ssoidc.admin.paging import PageTokens, page
from ssoidc.aws.shapes import sso as sh
from ssoidc.aws.skeleton import Call
from ssoidc.credentials.portal import Portal

SERVICE = "sso"
PAGE = 100


class SsoPortalApi:
    """The portal handlers (``botocore/data/sso/2019-06-10/service-2.json``)."""

    def __init__(self, portal: Portal, *, pages: PageTokens) -> None:
        self._portal = portal
        self._pages = pages

    def _cursor(self, operation: str, user_id: str, inp: Any, **bound: str) -> Any:
        return self._pages.cursor(operation, {"User": user_id, **bound, "NextToken": inp.get("nextToken")})

    async def list_accounts(self, inp: sh.ListAccountsRequest, call: Call) -> sh.ListAccountsResponse:
        """sso ``ListAccounts``: the accounts the user has a role on, by account id."""
        session = await self._portal.session(inp["accessToken"])
        cursor = self._cursor("ListAccounts", session.user.user_id, inp)
        accounts = await self._portal.accounts(session)
        chunk, nxt = page(accounts, lambda a: a.account_id, cursor, inp.get("maxResults"), PAGE)
        out: sh.ListAccountsResponse = {
            "accountList": [
                {"accountId": a.account_id, "accountName": a.name, "emailAddress": a.email} for a in chunk
            ]
        }
        if nxt:
            out["nextToken"] = nxt
        return out

    async def list_account_roles(
        self, inp: sh.ListAccountRolesRequest, call: Call
    ) -> sh.ListAccountRolesResponse:
        """sso ``ListAccountRoles``: the user's roles (permission sets) on one account, by name; none for an
        account the user has no role on."""
        session = await self._portal.session(inp["accessToken"])
        account_id = inp["accountId"]
        cursor = self._cursor("ListAccountRoles", session.user.user_id, inp, AccountId=account_id)
        roles = await self._portal.account_roles(session, account_id)
        chunk, nxt = page(roles, lambda r: r.role_name, cursor, inp.get("maxResults"), PAGE)
        out: sh.ListAccountRolesResponse = {
            "roleList": [{"roleName": r.role_name, "accountId": r.account_id} for r in chunk]
        }
        if nxt:
            out["nextToken"] = nxt
        return out

    async def get_role_credentials(
        self, inp: sh.GetRoleCredentialsRequest, call: Call
    ) -> sh.GetRoleCredentialsResponse:
        """sso ``GetRoleCredentials``: new session credentials of the user's role on the account."""
        session = await self._portal.session(inp["accessToken"])
        minted = await self._portal.role_credentials(session, inp["accountId"], inp["roleName"])
        return {
            "roleCredentials": {
                "accessKeyId": minted.access_key_id,
                "secretAccessKey": minted.secret_access_key,
                "sessionToken": minted.session_token,
                "expiration": int(minted.expiration * 1000),
            }
        }

    async def logout(self, inp: sh.LogoutRequest, call: Call) -> dict[str, Any]:
        """sso ``Logout``: ends the bearer's token family (credentials already issued stay valid until expiry)."""
        await self._portal.logout(await self._portal.session(inp["accessToken"]))
        return {}

"""The handler objects of every AWS service, unconnected (no store, no editor): only their method names are
used, to know which operations the server implements (``ssoidc.aws.skeleton.handler_table``)."""

from __future__ import annotations

from ssoidc.admin.paging import PageTokens
from ssoidc.aws.identitystore import IdentityStoreApi
from ssoidc.aws.models import service_model
from ssoidc.aws.oidc import SsoOidcApi
from ssoidc.aws.skeleton import handler_table
from ssoidc.aws.sso import SsoPortalApi
from ssoidc.aws.sso_admin import SsoAdminApi
from ssoidc.aws.sts import StsApi
from tests.helpers.config import ACCOUNT

_PAGES = PageTokens(bytes(32))
HANDLERS: dict[str, object] = {
    "sso-oidc": SsoOidcApi(create_token=None, identity_of=None),  # type: ignore[arg-type]
    "sso": SsoPortalApi(None, pages=_PAGES),  # type: ignore[arg-type]
    "sso-admin": SsoAdminApi(
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        pages=_PAGES,
        account_id=ACCOUNT,
        region="us-east-1",
    ),
    "identitystore": IdentityStoreApi(None, None, pages=_PAGES, editor=None),  # type: ignore[arg-type]
    "sts": StsApi(),
}
"""Service name -> its handler object (``object()`` for a service with no handlers yet)."""


def served(service: str) -> list[str]:
    """The operations of ``service`` that have a handler, sorted."""
    return sorted(handler_table(service_model(service), HANDLERS[service]))

"""``GET|HEAD /start``: one redirect from ssoidc's own start URL to the instance's AWS-form start URL.

The AWS CLI v2 (2.35.13 and later, ``aws sso login``) requires an https start URL. It takes an AWS-owned one
(``https://<identity store id>.awsapps.com/start``) as an identifier without fetching it; any other, such as
``https://<ssoidc host>/start``, it fetches (``HEAD``, ``GET`` if that answers 405 or 501), following exactly one
redirect, and the host it lands on must be AWS-owned. So this page answers ``302 Found`` (RFC 9110 section 15.4.3)
with ``Location:`` the active instance's default start URL (``ssoidc.oauth.start_url.default_start_url``) and no
body, never a second hop: the CLI then sends that URL as ``startUrl``/``issuerUrl``, never fetching it. With no
active instance (none configured yet, or deleted) it answers 404. The answer is ``no-store``: the instance may be
deleted or replaced.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ssoidc.oauth.start_url import default_start_url
from ssoidc.snapshot import SnapshotCache

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


class StartPage:
    """The ``/start`` routes of one node."""

    def __init__(self, snapshot: SnapshotCache) -> None:
        self._snapshot = snapshot

    async def start(self, request: Request) -> Response:
        snapshot = await self._snapshot.refresh()
        instance = snapshot.instance
        if instance.status != "ACTIVE":
            return Response(b'{"message":"Not found"}', 404, headers=NO_STORE, media_type="application/json")
        location = default_start_url(instance.identity_store_id)
        return Response(status_code=302, headers={"location": location, **NO_STORE})

    def routes(self) -> list[Route]:
        """``/start`` and ``/start/`` (a trailing slash must not cost a second redirect); GET implies HEAD."""
        return [
            Route("/start", self.start, methods=["GET"]),
            Route("/start/", self.start, methods=["GET"]),
        ]

"""The event loop of ``ssoidc serve --tls-*``: uvloop with the TLS handshake under the HTTP head deadline.

Over TLS, ``ssoidc.web.http_limits``' protocol sees a connection only once its handshake is done
(``connection_made``): a client that opens a socket and never finishes the handshake is held by the event loop's
own handshake timeout, 60 s in asyncio and uvloop (uvicorn passes none), outside the head deadline and the
connection cap. This loop gives every TLS server it creates ``ssl_handshake_timeout = SSOIDC_HTTP_HEAD_TIMEOUT``
(RFC 9112 section 9.8 lets a server close a connection that does not progress), so a stalled handshake is dropped
as soon as a stalled request head would be. ``uvicorn.run(loop=LOOP)`` imports it by name in every worker.
"""

from __future__ import annotations

from typing import Any

import uvloop

from ssoidc.web.http_limits import limits_from_env

LOOP = "ssoidc.web.tls_loop:new_event_loop"


class HandshakeBoundLoop(uvloop.Loop):
    """``uvloop.Loop`` whose TLS servers time out handshakes after the head deadline (see the module doc)."""

    async def create_server(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("ssl") is not None and kwargs.get("ssl_handshake_timeout") is None:
            kwargs["ssl_handshake_timeout"] = limits_from_env().head_timeout
        return await super().create_server(*args, **kwargs)


def new_event_loop() -> HandshakeBoundLoop:
    return HandshakeBoundLoop()

"""HTTP/1.1 connection limits for ``ssoidc serve``: uvicorn's httptools protocol with deadlines and size caps.

uvicorn (0.54, ``http="httptools"``) has a keep-alive timeout but no deadline for a request head or body, no
limit on header size or count, and no cap on open connections: a client sending one byte every ten seconds,
or holding a thousand idle sockets, keeps them all open, and a 64 KB header is parsed and served.
``LimitedHttpToolsProtocol`` adds, per connection (RFC 9112 section 9.8 lets a server close idle or slow
connections; the limits are ``ssoidc.settings``' ``SSOIDC_HTTP_*``):

* **head deadline** (``http_head_timeout``): the request line and every header must arrive within it, counted from
  the connection or from the first byte of the next request on a kept-alive connection. A connection that sends
  nothing is closed when it passes; one that sent part of a head is answered ``408 Request Timeout`` (RFC 9110
  section 15.5.9) and closed;
* **body deadline** (``http_body_timeout``): the whole body must arrive within it after the head (408, closed).
  The time the application takes to answer is not limited;
* **head size** (``http_max_header_bytes``, request line included) and **header count** (``http_max_headers``):
  ``431 Request Header Fields Too Large`` (RFC 6585 section 5), closed. A header still being received counts
  too, so a single endless header cannot grow past one read beyond the limit;
* **body size**: a ``Content-Length`` above ``HARD_MAX_BODY`` is answered ``413 Content Too Large`` (RFC 9110
  section 15.5.14) before the application runs, and a chunked body is cut off when it passes it. The AWS
  operations' own, lower limit (``ssoidc.aws.skeleton.MAX_BODY``) is answered by the skeleton with each service's
  modelled error, and the connection is closed without reading the rest;
* **connections** (``http_max_connections``, per worker process, idle keep-alive connections included): a
  connection beyond the cap is answered ``503`` with ``Retry-After: 1`` and closed at once, so the requests of
  the connections already open are still served.

Every refusal carries ``Connection: close`` and ``Cache-Control: no-store``; the connection is closed after it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ssoidc.aws.skeleton import MAX_BODY
from ssoidc.settings import Settings, settings_from_env

log = logging.getLogger("ssoidc.web")

HARD_MAX_BODY = 16 * MAX_BODY
"""The largest body any route reads (1 MiB): above the AWS operations' limit, so those answer their modelled
error, and far above what the sign-in forms send."""

PROTOCOL = "ssoidc.web.http_limits:LimitedHttpToolsProtocol"
"""``uvicorn.run(http=PROTOCOL)``: importable by name in every worker process."""


@dataclass(frozen=True, slots=True)
class HttpLimits:
    head_timeout: float
    body_timeout: float
    max_header_bytes: int
    max_headers: int
    max_connections: int
    max_body: int = HARD_MAX_BODY

    @classmethod
    def of(cls, settings: Settings) -> HttpLimits:
        return cls(
            settings.http_head_timeout,
            settings.http_body_timeout,
            settings.http_max_header_bytes,
            settings.http_max_headers,
            settings.http_max_connections,
        )


@functools.cache
def limits_from_env() -> HttpLimits:
    """The limits of this process (``ssoidc serve`` exports the settings to every worker as ``SSOIDC_*``)."""
    return HttpLimits.of(settings_from_env())


ABORT_EXTENSION = "ssoidc.abort"
"""ASGI scope extension: ``{"abort": callable}`` closes the request's connection at once, without an answer."""


class _Refused(Exception):
    """Raised from a parser callback: httptools stops and reports it as a parse error (``send_400_response``)."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with the limits of the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits_from_env()
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = False
        self._in_body = False
        self._got_bytes = False
        """Some byte of the current request arrived (a timeout answers 408 then; else it just closes)."""
        self._head_bytes = 0
        self._raw_head = 0
        self._header_count = 0
        self._body_bytes = 0
        self._chunk_body = 0
        """Body bytes the current read delivered (not part of the next head)."""
        self._refusal: tuple[int, str] | None = None

    # -- connection ------------------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            log.warning("connection refused: %d open connections", len(self.connections) - 1)
            self._refuse(503, "Too many open connections; retry", (b"retry-after", b"1"))
            return
        self._arm(self._limits.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # closing: read nothing more
        if (
            self._deadline is None
            and not self._in_body
            and (self.cycle is None or self.cycle.response_complete)
        ):
            self._arm(
                self._limits.head_timeout
            )  # the first byte of the next request on a kept-alive connection
        self._chunk_body = 0
        super().data_received(data)
        if self._refusal is None and self._in_head:
            # A head still incomplete: what this read brought belongs to it, but for the end of a previous
            # (pipelined) request's body; a header still arriving counts before httptools reports it.
            self._raw_head += len(data) - self._chunk_body
            if self._raw_head > self._limits.max_header_bytes:
                self._refuse(431, "Request header fields too large")

    def send_400_response(self, msg: str) -> None:
        """A parse error, or a limit a parser callback refused (``_Refused``)."""
        if self._refusal is not None:
            status, text = self._refusal
            self._refusal = None
            self._refuse(status, text)
        else:  # httptools' own refusal (a malformed request, request smuggling), with the same headers
            self._refuse(400, msg)

    # -- parser callbacks ------------------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._got_bytes = True, True
        self._head_bytes = self._raw_head = self._header_count = self._body_bytes = 0
        if self._deadline is None:
            self._arm(self._limits.head_timeout)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_bytes += len(url)
        if self._head_bytes > self._limits.max_header_bytes:
            self._fail(414 if self._header_count == 0 else 431, "Request head too large")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._head_bytes += len(name) + len(value) + 4
        if self._header_count > self._limits.max_headers:
            self._fail(431, "Too many request header fields")
        if self._head_bytes > self._limits.max_header_bytes:
            self._fail(431, "Request header fields too large")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        for name, value in self.headers:
            if name == b"content-length" and (
                not value.strip().isdigit() or int(value) > self._limits.max_body
            ):
                self._fail(413, "Request body too large")
        self._disarm()
        self._in_body = True
        self._arm(self._limits.body_timeout)
        # lets the app end the connection unanswered (an injected fault of a server started for testing)
        self.scope.setdefault("extensions", {})[ABORT_EXTENSION] = {"abort": self.transport.abort}
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        self._chunk_body += len(body)
        if self._body_bytes > self._limits.max_body:
            self._fail(413, "Request body too large")
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_body, self._got_bytes = False, False
        self._disarm()
        super().on_message_complete()

    # -- helpers ---------------------------------------------------------------------------------------------------
    def _fail(self, status: int, text: str) -> None:
        self._refusal = (status, text)
        raise _Refused(text)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._got_bytes:
            self._refuse(408, "Request not received in time")
        else:
            self.transport.close()  # an idle connection: nothing to answer

    def _refuse(self, status: int, text: str, *extra: tuple[bytes, bytes]) -> None:
        """Answer ``status`` (unless a response was already started) and close the connection."""
        self._disarm()
        self._refusal = (status, text)
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            body = text.encode()
            head = [STATUS_LINE[status]]
            for name, value in (
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                (b"cache-control", b"no-store"),
                *extra,
            ):
                head.extend((name, b": ", value, b"\r\n"))
            head.append(b"\r\n")
            self.transport.write(b"".join(head) + body)
        if self.cycle is not None:  # what the application still sends goes nowhere; its receive() ends
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()

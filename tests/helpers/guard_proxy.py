"""An HTTPS proxy on loopback that tunnels only to the test's own server and refuses (and records) anything else.

The dead proxy of ``tests.helpers.cli`` cannot guard a client whose endpoint comes from an ``AWS_DATA_PATH`` rule
set: botocore picks a client's proxy once, for the host its legacy endpoint data names (``oidc.<region>.amazonaws
.com``), so ``NO_PROXY=localhost`` does not apply and every request, ssoidc's included, goes to the proxy. This
proxy is that guard: ``CONNECT`` to one of ``allowed`` (``host:port``) is tunnelled; any other ``CONNECT``, and
any plain-HTTP proxy request, is answered 403 and its target recorded in ``refused``, which a test asserts empty.
No byte ever leaves the machine.
"""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class GuardProxy:
    url: str
    allowed: frozenset[str]
    refused: list[str] = field(default_factory=list)
    tunnelled: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """Every request of a client through this proxy (no ``NO_PROXY``)."""
        env = {"HTTPS_PROXY": self.url, "HTTP_PROXY": self.url, "NO_PROXY": ""}
        return env | {k.lower(): v for k, v in env.items()}


def _pump(a: socket.socket, b: socket.socket) -> None:
    sockets = [a, b]
    while True:
        ready, _, _ = select.select(sockets, [], [], 30)
        if not ready:
            return
        for s in ready:
            try:
                data = s.recv(65536)
                if data:
                    (b if s is a else a).sendall(data)
            except OSError:  # either end reset the connection
                return
            if not data:
                return


@contextlib.contextmanager
def guard_proxy(*allowed: str) -> Iterator[GuardProxy]:
    """A running :class:`GuardProxy` tunnelling only to ``allowed`` targets (``localhost:8443``)."""
    proxy = GuardProxy(url="", allowed=frozenset(a.lower() for a in allowed))

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 16384:
                chunk = self.request.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
            target = rest.split(" ", 1)[0].lower()
            if method != "CONNECT" or target not in proxy.allowed:
                proxy.refused.append(f"{method} {target}")
                self.request.sendall(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                return
            host, _, port = target.rpartition(":")
            try:
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
            except OSError:
                self.request.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            proxy.tunnelled.append(target)
            with upstream:
                self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                _pump(self.request, upstream)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server(("127.0.0.1", 0), Handler) as server:
        proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield proxy
        finally:
            server.shutdown()
            thread.join(10)

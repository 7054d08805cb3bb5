"""HTTP-level exhaustion (issue 13, item 3): head and body deadlines, header size and count, body size and the
connection cap, against a live ``ssoidc serve`` over raw sockets (``ssoidc.web.http_limits``).

The server runs with short test-only deadlines (``SSOIDC_HTTP_HEAD_TIMEOUT`` / ``_BODY_TIMEOUT`` 0.5 s) and a small
connection cap, so each test takes about a second; "closed in time" means closed before a generous bound, never a
timing measurement. After every attack a normal boto3 call is still served, and nothing was issued.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.clients import make_client
from tests.helpers.config import JWT_BEARER
from tests.helpers.servers import LiveServer, running_server

CAP = 20
BOUND = 15.0
"""Seconds within which a refused connection must have been closed (the limits are 0.5 s)."""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        "SSOIDC_HTTP_HEAD_TIMEOUT": "0.5",
        "SSOIDC_HTTP_BODY_TIMEOUT": "0.5",
        "SSOIDC_HTTP_MAX_CONNECTIONS": str(CAP),
    }
    with running_server(tmp_path_factory.mktemp("http-limits"), extra_env=env) as s:
        yield s


def connect(server: LiveServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=BOUND)
    sock.settimeout(BOUND)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a timeout fails the test)."""
    out = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def head(server: LiveServer, path: str = "/healthz", method: str = "GET", extra: bytes = b"") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n".encode() + extra


def still_serves(server: LiveServer) -> None:
    """A real client is served after the attack."""
    before = server.count("tokens")
    resp = make_client(server).create_token_with_iam(
        clientId=server.apps["main"], grantType=JWT_BEARER, assertion=server.assertion()
    )
    assert resp["accessToken"].startswith("aoa")
    assert server.count("tokens") > before


def test_a_connection_that_sends_nothing_is_closed(live: LiveServer) -> None:
    with connect(live) as sock:
        assert read_all(sock) == b""  # closed, nothing to answer
    still_serves(live)


def test_a_head_sent_a_byte_at_a_time_is_cut_off_at_the_deadline(live: LiveServer) -> None:
    """Each byte arrives well within the deadline; the deadline is for the whole head, so the slow client loses."""
    before = live.count("tokens")
    request = head(live, "/token?aws_iam=t", "POST") + b"X-Slow: " + b"a" * 200
    with connect(live) as sock:
        closed_early = False
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed_early = True
                break
            time.sleep(0.05)  # 200+ bytes at 20 per second: about 10 s if nothing cut it off
            sock.setblocking(False)
            try:
                if sock.recv(1, socket.MSG_PEEK) is not None:
                    closed_early = True
                    break
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
                sock.settimeout(BOUND)
        assert closed_early, "the whole slow head was accepted"
        answer = read_all(sock)
    assert status_of(answer) == 408, answer[:200]
    assert b"connection: close" in answer.lower()
    assert live.count("tokens") == before
    still_serves(live)


def test_a_head_that_stops_midway_is_answered_408(live: LiveServer) -> None:
    with connect(live) as sock:
        sock.sendall(head(live))  # no blank line: the head never ends
        answer = read_all(sock)
    assert status_of(answer) == 408, answer[:200]


def test_a_body_that_stops_midway_is_answered_408(live: LiveServer) -> None:
    before = live.count("tokens")
    with connect(live) as sock:
        sock.sendall(
            head(
                live,
                "/token?aws_iam=t",
                "POST",
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
            )
            + b'{"clientId": '
        )
        answer = read_all(sock)
    assert status_of(answer) == 408, answer[:200]
    assert live.count("tokens") == before
    still_serves(live)


def test_a_thousand_headers_are_refused_431(live: LiveServer) -> None:
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(1000))
    with connect(live) as sock:
        sock.sendall(head(live, extra=many + b"\r\n"))
        answer = read_all(sock)
    assert status_of(answer) == 431, answer[:200]
    still_serves(live)


@pytest.mark.parametrize("complete", [True, False], ids=["whole", "still-arriving"])
def test_a_64_kb_header_is_refused_431(live: LiveServer, complete: bool) -> None:
    big = b"X-Big: " + b"a" * 65536 + (b"\r\n\r\n" if complete else b"")
    with connect(live) as sock:
        sock.sendall(head(live, extra=big))
        answer = read_all(sock)
    assert status_of(answer) == 431, answer[:200]
    still_serves(live)


def test_a_body_announced_far_too_large_is_refused_413_before_it_is_sent(live: LiveServer) -> None:
    with connect(live) as sock:
        sock.sendall(head(live, "/authorize/signin", "POST", b"Content-Length: 100000000\r\n\r\n"))
        answer = read_all(sock)  # answered without a byte of the body
    assert status_of(answer) == 413, answer[:200]


def test_an_aws_body_announced_too_large_is_the_modelled_error_and_the_rest_is_not_read(
    live: LiveServer,
) -> None:
    before = live.count("tokens")
    with connect(live) as sock:
        sock.sendall(
            head(
                live,
                "/token?aws_iam=t",
                "POST",
                b"Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n",
            )
        )
        answer = read_all(sock)  # answered, and the connection closed, without a byte of the body
    assert status_of(answer) == 400, answer[:300]
    assert b"InvalidRequestException" in answer and b"too large" in answer
    assert b"connection: close" in answer.lower()
    assert live.count("tokens") == before


def test_a_chunked_body_beyond_the_limit_is_refused(live: LiveServer) -> None:
    before = live.count("tokens")
    chunk = b"a" * 8192
    with connect(live) as sock:
        sock.sendall(
            head(
                live,
                "/token?aws_iam=t",
                "POST",
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            )
        )
        try:
            for _ in range(200):  # 1.6 MB: beyond both limits
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except (BrokenPipeError, ConnectionResetError):
            pass  # cut off while sending: the point
        answer = read_all(sock)
    assert status_of(answer) in (400, 413), answer[:300]
    assert live.count("tokens") == before
    still_serves(live)


def test_connections_beyond_the_cap_are_closed_and_real_clients_are_served_after(live: LiveServer) -> None:
    held = [connect(live) for _ in range(CAP * 2)]
    try:
        # the cap counts every open connection of the worker: each one past it is answered 503 at once (an idle
        # connection within the cap is only closed, without an answer, when its head deadline passes)
        answers = [read_all(sock) for sock in held[CAP:]]
        assert [status_of(a) for a in answers] == [503] * CAP, [a[:60] for a in answers]
        assert all(b"retry-after: 1" in a.lower() for a in answers)
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + BOUND  # the worker notices our closes
    while True:
        try:
            still_serves(live)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_smuggling_attempt_is_refused_400_and_not_stored(live: LiveServer) -> None:
    """Content-Length and Transfer-Encoding together (RFC 9112 section 6.1): httptools refuses; the answer
    carries the same headers as every other refusal."""
    with connect(live) as sock:
        sock.sendall(
            head(
                live,
                "/token?aws_iam=t",
                "POST",
                b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            )
        )
        answer = read_all(sock)
    assert status_of(answer) == 400, answer[:200]
    assert b"cache-control: no-store" in answer.lower()
    still_serves(live)


def test_every_worker_process_applies_the_limits(tmp_path: Path) -> None:
    """``--workers 2``: the protocol is imported by name in each worker, which reads the limits from the
    ``SSOIDC_*`` environment ``ssoidc serve`` exports."""
    env = {"SSOIDC_HTTP_HEAD_TIMEOUT": "0.5", "SSOIDC_HTTP_MAX_HEADERS": "20"}
    with running_server(tmp_path, workers=2, extra_env=env) as server:
        for _ in range(4):  # connections land on either worker
            with connect(server) as sock:
                sock.sendall(head(server))
                assert status_of(read_all(sock)) == 408
            with connect(server) as sock:
                sock.sendall(head(server, extra=b"".join(b"X-H%d: v\r\n" % i for i in range(30)) + b"\r\n"))
                assert status_of(read_all(sock)) == 431
        still_serves(server)

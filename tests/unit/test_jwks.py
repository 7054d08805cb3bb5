"""Tests for ssoidc.oauth.jwks: discovery, JWKS parsing, key selection, caching, limits, SSRF guard.

Happy paths and failure modes run against a real HTTP server on 127.0.0.1 (``allow_insecure=True``); the
SSRF guard runs with ``allow_insecure=False`` against an ``httpx.MockTransport`` and an injected resolver,
so no test ever sends traffic anywhere but loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ssoidc.clock import FrozenClock
from ssoidc.oauth.jwks import IssuerKeyError, JwksCache, JwksSettings, _address_is_public, _system_resolver

T0 = 1_800_000_000.0


# -- keys ----------------------------------------------------------------------------------------------------


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str | None, **extra: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    if kid is not None:
        jwk["kid"] = kid
    jwk.update(extra)
    return jwk


def ec_jwk(key: ec.EllipticCurvePrivateKey, kid: str | None, **extra: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    if kid is not None:
        jwk["kid"] = kid
    jwk.update(extra)
    return jwk


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa_key2() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def ec384_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


# -- a real issuer on loopback -------------------------------------------------------------------------------

Route = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        with owner.lock:
            owner.hits[path] += 1
        route = owner.routes.get(path)
        if route is None:
            send_json(self, {"error": "not found"}, status=404)
        else:
            route(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    owner: IssuerServer


def send_bytes(
    handler: BaseHTTPRequestHandler, body: bytes, *, status: int = 200, headers: dict[str, str] | None = None
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Connection", "close")
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def send_json(handler: BaseHTTPRequestHandler, doc: Any, *, status: int = 200) -> None:
    send_bytes(handler, json.dumps(doc).encode(), status=status)


class IssuerServer:
    """Serves ``<base>/tenant/.well-known/openid-configuration`` and ``<base>/tenant/jwks``; counts hits."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hits: Counter[str] = Counter()
        self.release = threading.Event()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.owner = self
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = self.base + "/tenant"
        self.discovery_path = "/tenant/.well-known/openid-configuration"
        self.jwks_path = "/tenant/jwks"
        self.discovery: dict[str, Any] = {"issuer": self.issuer, "jwks_uri": self.base + self.jwks_path}
        self.jwks: dict[str, Any] = {"keys": []}
        self.discovery_delay = 0.0
        self.routes: dict[str, Route] = {
            self.discovery_path: self._serve_discovery,
            self.jwks_path: lambda h: send_json(h, self.jwks),
        }
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    def _serve_discovery(self, handler: BaseHTTPRequestHandler) -> None:
        if self.discovery_delay:
            time.sleep(self.discovery_delay)
        send_json(handler, self.discovery)

    def stall(self, handler: BaseHTTPRequestHandler) -> None:
        self.release.wait(5)

    @property
    def discovery_hits(self) -> int:
        return self.hits[self.discovery_path]

    @property
    def jwks_hits(self) -> int:
        return self.hits[self.jwks_path]


@pytest.fixture
def idp(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> Iterator[IssuerServer]:
    srv = IssuerServer()
    srv.jwks = {"keys": [rsa_jwk(rsa_key, "rsa-1", use="sig"), ec_jwk(ec_key, "ec-1")]}
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.server.shutdown()
        srv.server.server_close()


INSECURE = JwksSettings(allow_insecure=True, timeout_seconds=2.0)


@contextlib.asynccontextmanager
async def open_cache(
    settings: JwksSettings = INSECURE, clock: FrozenClock | None = None, **kw: Any
) -> AsyncIterator[JwksCache]:
    """A ``JwksCache`` (at ``T0`` unless given a clock), closed on leaving the block."""
    cache = JwksCache(settings, clock=clock or FrozenClock(T0), **kw)
    try:
        yield cache
    finally:
        await cache.aclose()


def public_numbers_equal(a: Any, b: Any) -> bool:
    return bool(a.public_numbers() == b.public_numbers())


# -- happy paths ---------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_rs256_and_es256_keys_by_kid(
    idp: IssuerServer, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    async with open_cache() as cache:
        rsa_pyjwk = await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        ec_pyjwk = await cache.get_signing_key(idp.issuer, "ec-1", "ES256")
        ps_pyjwk = await cache.get_signing_key(idp.issuer, "rsa-1", "PS256")
    assert public_numbers_equal(rsa_pyjwk.key, rsa_key.public_key())
    assert rsa_pyjwk.algorithm_name == "RS256"
    assert public_numbers_equal(ec_pyjwk.key, ec_key.public_key())
    assert ec_pyjwk.algorithm_name == "ES256"
    assert ps_pyjwk.algorithm_name == "PS256"  # the key is bound to the requested algorithm
    # one discovery and one JWKS fetch served all three
    assert (idp.discovery_hits, idp.jwks_hits) == (1, 1)


@pytest.mark.anyio
async def test_verifies_a_real_signature(idp: IssuerServer, rsa_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode({"sub": "u"}, rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    async with open_cache() as cache:
        key = await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
    assert jwt.decode(token, key=key, algorithms=["RS256"]) == {"sub": "u"}


@pytest.mark.anyio
async def test_kid_none_uses_the_single_usable_key(
    idp: IssuerServer, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    async with open_cache() as cache:
        # one RSA and one P-256 key: each algorithm family has exactly one usable key
        es = await cache.get_signing_key(idp.issuer, None, "ES256")
        assert public_numbers_equal(es.key, ec_key.public_key())
        await cache.get_signing_key(idp.issuer, None, "RS256")


@pytest.mark.anyio
async def test_kid_none_with_several_usable_keys_is_ambiguous(
    idp: IssuerServer, rsa_key: rsa.RSAPrivateKey, rsa_key2: rsa.RSAPrivateKey
) -> None:
    idp.jwks = {"keys": [rsa_jwk(rsa_key, "a"), rsa_jwk(rsa_key2, "b")]}
    async with open_cache() as cache:
        with pytest.raises(IssuerKeyError, match=r"has no kid .* publishes 2 keys usable with RS256"):
            await cache.get_signing_key(idp.issuer, None, "RS256")
        assert (await cache.get_signing_key(idp.issuer, "b", "RS256")).key_id is None  # public members only


@pytest.mark.anyio
async def test_issuer_with_trailing_slash(idp: IssuerServer, rsa_key: rsa.RSAPrivateKey) -> None:
    idp.discovery["issuer"] = idp.issuer + "/"
    async with open_cache() as cache:
        await cache.get_signing_key(idp.issuer + "/", "rsa-1", "RS256")
    assert idp.discovery_hits == 1  # .../tenant/.well-known/..., not .../tenant//.well-known/...


# -- caching -------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_unknown_kid_refetches_at_most_once_per_interval(
    idp: IssuerServer, rsa_key: rsa.RSAPrivateKey, rsa_key2: rsa.RSAPrivateKey
) -> None:
    clock = FrozenClock(T0)
    settings = JwksSettings(allow_insecure=True, ttl_seconds=3600, min_refetch_interval_seconds=60)
    async with open_cache(settings, clock) as cache:
        await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        assert idp.jwks_hits == 1

        # right after a fetch, an unknown kid does not refetch (a fetch started less than 60 s ago)
        with pytest.raises(IssuerKeyError, match="publishes no key with kid 'nope'"):
            await cache.get_signing_key(idp.issuer, "nope", "RS256")
        assert idp.jwks_hits == 1

        # past the interval: exactly one refetch, however many unknown kids arrive
        clock.advance(61)
        for i in range(20):
            with pytest.raises(IssuerKeyError, match="publishes no key with kid"):
                await cache.get_signing_key(idp.issuer, f"random-{i}", "RS256")
        assert (idp.discovery_hits, idp.jwks_hits) == (2, 2)
        # the known key keeps working without traffic
        await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        assert idp.jwks_hits == 2

        # the issuer rotates in a new key; after the interval the new kid is found by one refetch
        idp.jwks = {"keys": [*idp.jwks["keys"], rsa_jwk(rsa_key2, "rsa-2")]}
        clock.advance(30)
        with pytest.raises(IssuerKeyError):
            await cache.get_signing_key(idp.issuer, "rsa-2", "RS256")
        assert idp.jwks_hits == 2
        clock.advance(31)
        key = await cache.get_signing_key(idp.issuer, "rsa-2", "RS256")
        assert public_numbers_equal(key.key, rsa_key2.public_key())
        assert idp.jwks_hits == 3


@pytest.mark.anyio
async def test_ttl_expiry_refetches(idp: IssuerServer) -> None:
    clock = FrozenClock(T0)
    async with open_cache(JwksSettings(allow_insecure=True, ttl_seconds=100), clock) as cache:
        await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        clock.advance(99)
        await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        assert idp.jwks_hits == 1
        clock.advance(1)
        await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        assert (idp.discovery_hits, idp.jwks_hits) == (2, 2)
        # a key removed by the issuer stops being served after the next TTL refetch
        idp.jwks = {"keys": [k for k in idp.jwks["keys"] if k["kid"] != "rsa-1"]}
        clock.advance(100)
        with pytest.raises(IssuerKeyError, match="no key with kid 'rsa-1'"):
            await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")


@pytest.mark.anyio
async def test_clock_going_backwards_counts_as_expiry(idp: IssuerServer) -> None:
    clock = FrozenClock(T0)
    async with open_cache(clock=clock) as cache:
        await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        clock.advance(-10)
        await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        assert idp.jwks_hits == 2


@pytest.mark.anyio
async def test_concurrent_callers_share_one_fetch(idp: IssuerServer) -> None:
    idp.discovery_delay = 0.2
    async with open_cache() as cache:
        results = await asyncio.gather(
            *(
                cache.get_signing_key(idp.issuer, kid, alg)
                for kid, alg in [("rsa-1", "RS256"), ("ec-1", "ES256")] * 10
            )
        )
    assert len(results) == 20
    assert (idp.discovery_hits, idp.jwks_hits) == (1, 1)


@pytest.mark.anyio
async def test_concurrent_callers_share_one_failure(idp: IssuerServer) -> None:
    idp.discovery_delay = 0.2
    idp.discovery["issuer"] = "https://someone-else.example"
    async with open_cache() as cache:
        results = await asyncio.gather(
            *(cache.get_signing_key(idp.issuer, "rsa-1", "RS256") for _ in range(10)),
            return_exceptions=True,
        )
    assert all(isinstance(r, IssuerKeyError) for r in results)
    assert idp.discovery_hits == 1


@pytest.mark.anyio
async def test_a_cancelled_caller_does_not_cancel_the_shared_fetch(idp: IssuerServer) -> None:
    idp.discovery_delay = 0.2
    async with open_cache() as cache:
        first = asyncio.ensure_future(cache.get_signing_key(idp.issuer, "rsa-1", "RS256"))
        second = asyncio.ensure_future(cache.get_signing_key(idp.issuer, "rsa-1", "RS256"))
        await asyncio.sleep(0.05)
        first.cancel()
        await second
        assert first.cancelled()
        assert idp.discovery_hits == 1


@pytest.mark.anyio
async def test_failed_refetch_keeps_serving_cached_keys_until_ttl(idp: IssuerServer) -> None:
    clock = FrozenClock(T0)
    async with open_cache(JwksSettings(allow_insecure=True, ttl_seconds=600), clock) as cache:
        await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        idp.routes[idp.jwks_path] = lambda h: send_json(h, {"error": "boom"}, status=500)
        clock.advance(120)
        with pytest.raises(IssuerKeyError, match=r"could not fetch JWKS .*: HTTP 500"):
            await cache.get_signing_key(idp.issuer, "rotated", "RS256")
        # the cached key still works within its TTL, without traffic
        await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        assert idp.jwks_hits == 2
        # past the TTL the keys are no longer trusted: the failing fetch is an error
        clock.advance(480)
        with pytest.raises(IssuerKeyError, match="HTTP 500"):
            await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        # and failures are not cached: the next request tries again
        with pytest.raises(IssuerKeyError, match="HTTP 500"):
            await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        assert idp.jwks_hits == 4


# -- discovery and transport failures ------------------------------------------------------------------------


async def fetch_error(issuer: str, settings: JwksSettings = INSECURE, kid: str | None = "rsa-1") -> str:
    async with open_cache(settings) as cache:
        with pytest.raises(IssuerKeyError) as info:
            await cache.get_signing_key(issuer, kid, "RS256")
    return info.value.message


@pytest.mark.anyio
async def test_discovery_issuer_mismatch(idp: IssuerServer) -> None:
    idp.discovery["issuer"] = idp.issuer + "/"  # even a trailing slash is a mismatch
    message = await fetch_error(idp.issuer)
    assert "names a different issuer" in message
    assert idp.jwks_hits == 0


@pytest.mark.anyio
async def test_discovery_without_jwks_uri(idp: IssuerServer) -> None:
    del idp.discovery["jwks_uri"]
    assert "has no jwks_uri" in await fetch_error(idp.issuer)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>hello</html>", "is not JSON"),
        (b"\xff\xfe\x00", "is not JSON"),
        (b"[1, 2, 3]", "is not a JSON object"),
        (b"[" * 100_000, "is not JSON"),
    ],
)
async def test_discovery_not_a_json_object(idp: IssuerServer, body: bytes, expected: str) -> None:
    idp.routes[idp.discovery_path] = lambda h: send_bytes(h, body)
    settings = JwksSettings(allow_insecure=True, max_response_bytes=200_000)
    message = await fetch_error(idp.issuer, settings)
    assert message.startswith(f"could not fetch OpenID discovery document for issuer {idp.issuer}")
    assert expected in message
    assert "hello" not in message


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("jwks", "expected"),
    [
        ({"no": "keys"}, "has no keys array"),
        ({"keys": "nope"}, "has no keys array"),
        ({"keys": []}, "has no usable signing keys"),
        ({"keys": [1, "x", None, {"kty": "RSA", "n": "!!", "e": "AQAB"}]}, "has no usable signing keys"),
    ],
)
async def test_bad_jwks(idp: IssuerServer, jwks: dict[str, Any], expected: str) -> None:
    idp.jwks = jwks
    assert expected in await fetch_error(idp.issuer)


@pytest.mark.anyio
async def test_http_error_status(idp: IssuerServer) -> None:
    message = await fetch_error(idp.base + "/other-tenant")
    assert message.endswith(": HTTP 404")


@pytest.mark.anyio
async def test_redirect_is_not_followed(idp: IssuerServer) -> None:
    def redirect(h: BaseHTTPRequestHandler) -> None:
        send_bytes(h, b"", status=302, headers={"Location": idp.base + "/elsewhere"})

    idp.routes[idp.discovery_path] = redirect
    idp.routes["/elsewhere"] = lambda h: send_json(h, idp.discovery)
    message = await fetch_error(idp.issuer)
    assert "HTTP 302 redirect (redirects are not followed)" in message
    assert idp.hits["/elsewhere"] == 0


@pytest.mark.anyio
async def test_redirect_of_jwks_is_not_followed(idp: IssuerServer) -> None:
    idp.routes[idp.jwks_path] = lambda h: send_bytes(
        h, b"", status=301, headers={"Location": idp.base + "/elsewhere"}
    )
    assert "HTTP 301 redirect" in await fetch_error(idp.issuer)
    assert idp.hits["/elsewhere"] == 0


@pytest.mark.anyio
async def test_stalling_server_times_out_quickly(idp: IssuerServer) -> None:
    idp.routes[idp.discovery_path] = idp.stall
    started = time.monotonic()
    message = await fetch_error(idp.issuer, JwksSettings(allow_insecure=True, timeout_seconds=0.3))
    assert time.monotonic() - started < 8  # the stall never ends: only the deadline can end the fetch
    assert message.endswith(": timed out")


@pytest.mark.anyio
async def test_slow_drip_body_hits_the_overall_deadline(idp: IssuerServer) -> None:
    def drip(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100")
        h.end_headers()
        for _ in range(100):  # each byte well inside a per-read timeout, the whole far beyond the deadline
            if idp.release.wait(0.1):
                return
            h.wfile.write(b" ")
            h.wfile.flush()

    idp.routes[idp.discovery_path] = drip
    started = time.monotonic()
    message = await fetch_error(idp.issuer, JwksSettings(allow_insecure=True, timeout_seconds=0.5))
    assert time.monotonic() - started < 8  # the drip alone takes 10 s: only the deadline ends it sooner
    assert message.endswith(": timed out")


@pytest.mark.anyio
async def test_connection_refused(idp: IssuerServer) -> None:
    probe = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = probe.server_address[1]
    probe.server_close()  # nothing listens there any more
    message = await fetch_error(f"http://127.0.0.1:{port}")
    assert message == (
        f"could not fetch OpenID discovery document for issuer http://127.0.0.1:{port}: connection refused"
    )


SMALL = JwksSettings(allow_insecure=True, max_response_bytes=4096)


@pytest.mark.anyio
async def test_oversize_chunked_body_is_cut_off(idp: IssuerServer) -> None:
    def chunked(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Connection", "close")
        h.end_headers()
        try:
            for _ in range(1000):  # up to 1 MB, far past the 4 KiB cap
                chunk = b" " * 1024
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            h.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client hung up, as it should

    idp.routes[idp.discovery_path] = chunked
    message = await fetch_error(idp.issuer, SMALL)
    assert message.endswith("the response is larger than 4096 bytes")


@pytest.mark.anyio
async def test_oversize_body_without_content_length_is_cut_off(idp: IssuerServer) -> None:
    def until_close(h: BaseHTTPRequestHandler) -> None:
        h.protocol_version = "HTTP/1.0"  # body delimited by closing the connection
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.end_headers()
        with contextlib.suppress(OSError):
            h.wfile.write(b'{"issuer": "' + b"x" * 100_000 + b'"}')
        h.close_connection = True

    idp.routes[idp.jwks_path] = until_close
    assert (await fetch_error(idp.issuer, SMALL)).endswith("the response is larger than 4096 bytes")


@pytest.mark.anyio
async def test_declared_oversize_content_length_is_refused_before_reading(idp: IssuerServer) -> None:
    def lying(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(10 * 1024 * 1024))
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(b"{}")

    idp.routes[idp.jwks_path] = lying
    assert (await fetch_error(idp.issuer, SMALL)).endswith("the response is larger than 4096 bytes")


@pytest.mark.anyio
async def test_body_exactly_at_the_cap_is_accepted(idp: IssuerServer) -> None:
    body = json.dumps(idp.jwks).encode()
    async with open_cache(JwksSettings(allow_insecure=True, max_response_bytes=len(body))) as cache:
        await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")


@pytest.mark.anyio
async def test_compressed_response_is_refused(idp: IssuerServer) -> None:
    idp.routes[idp.jwks_path] = lambda h: send_bytes(h, b"\x1f\x8b", headers={"Content-Encoding": "gzip"})
    assert "compressed responses are not accepted" in await fetch_error(idp.issuer)


@pytest.mark.anyio
async def test_error_messages_never_contain_the_body(idp: IssuerServer) -> None:
    secret = "SECRET-BODY-CONTENT"
    idp.routes[idp.discovery_path] = lambda h: send_bytes(h, secret.encode(), status=500)
    assert secret not in await fetch_error(idp.issuer)


# -- key selection rules -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_hmac_oct_keys_are_never_used(idp: IssuerServer, rsa_key: rsa.RSAPrivateKey) -> None:
    oct_key = {"kty": "oct", "kid": "h", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "alg": "HS256"}
    idp.jwks = {"keys": [oct_key, rsa_jwk(rsa_key, "rsa-1")]}
    async with open_cache() as cache:
        for alg in ("HS256", "HS384", "HS512", "none", "None", ""):
            with pytest.raises(IssuerKeyError, match="is not supported for trusted token issuers"):
                await cache.get_signing_key(idp.issuer, "h", alg)
        with pytest.raises(IssuerKeyError, match="publishes no key with kid 'h'"):
            await cache.get_signing_key(idp.issuer, "h", "RS256")
    # an oct-only JWKS has nothing usable at all
    idp.jwks = {"keys": [oct_key]}
    assert "no usable signing keys" in await fetch_error(idp.issuer, kid="h")


@pytest.mark.anyio
async def test_unsupported_algorithm_sends_no_traffic(idp: IssuerServer) -> None:
    async with open_cache() as cache:
        with pytest.raises(IssuerKeyError, match="algorithm HS256 is not supported"):
            await cache.get_signing_key(idp.issuer, "rsa-1", "HS256")
    assert sum(idp.hits.values()) == 0


@pytest.mark.anyio
async def test_key_alg_must_equal_requested_alg(idp: IssuerServer, rsa_key: rsa.RSAPrivateKey) -> None:
    idp.jwks = {"keys": [rsa_jwk(rsa_key, "r", alg="RS384")]}
    async with open_cache() as cache:
        await cache.get_signing_key(idp.issuer, "r", "RS384")
        for alg in ("RS256", "PS384"):
            with pytest.raises(IssuerKeyError, match=f"key with kid 'r' cannot be used with {alg}"):
                await cache.get_signing_key(idp.issuer, "r", alg)
        with pytest.raises(IssuerKeyError, match="no key usable with RS256"):
            await cache.get_signing_key(idp.issuer, None, "RS256")


@pytest.mark.anyio
async def test_kty_and_curve_must_fit_alg(idp: IssuerServer, ec384_key: ec.EllipticCurvePrivateKey) -> None:
    idp.jwks["keys"].append(ec_jwk(ec384_key, "ec-384"))
    async with open_cache() as cache:
        for kid, alg in [
            ("ec-1", "RS256"),
            ("ec-1", "PS256"),
            ("rsa-1", "ES256"),
            ("ec-1", "ES384"),
            ("ec-384", "ES256"),
            ("ec-384", "ES512"),
        ]:
            with pytest.raises(IssuerKeyError, match=f"cannot be used with {alg}"):
                await cache.get_signing_key(idp.issuer, kid, alg)
        assert (await cache.get_signing_key(idp.issuer, "ec-384", "ES384")).algorithm_name == "ES384"


@pytest.mark.anyio
async def test_mislabelled_keys_are_skipped(
    idp: IssuerServer, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    idp.jwks = {
        "keys": [
            ec_jwk(ec_key, "ec-says-rs", alg="RS256"),  # EC key claiming an RSA algorithm
            rsa_jwk(rsa_key, "rsa-says-hs", alg="HS256"),  # never an HMAC algorithm
            rsa_jwk(rsa_key, "rsa-enc", use="enc"),  # an encryption key
            rsa_jwk(rsa_key, "rsa-ops", key_ops=["encrypt"]),  # key_ops without verify
            rsa_jwk(rsa_key, "rsa-ok", key_ops=["verify"]),
            {**ec_jwk(ec_key, "ec-no-crv"), "crv": "P-999"},
            {**rsa_jwk(rsa_key, "rsa-int-kid"), "kid": 7},
        ]
    }
    async with open_cache() as cache:
        for kid in ("ec-says-rs", "rsa-says-hs", "rsa-enc", "rsa-ops", "ec-no-crv"):
            with pytest.raises(IssuerKeyError, match="publishes no key with kid"):
                await cache.get_signing_key(idp.issuer, kid, "RS256" if "rsa" in kid else "ES256")
        await cache.get_signing_key(idp.issuer, "rsa-ok", "RS256")
        # the integer-kid key is skipped, so rsa-ok is the only RSA key
        await cache.get_signing_key(idp.issuer, None, "RS256")


@pytest.mark.anyio
async def test_weak_and_private_keys_are_skipped(idp: IssuerServer, rsa_key: rsa.RSAPrivateKey) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point
    with_private = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key, as_dict=True) | {"kid": "leaked"}
    idp.jwks = {"keys": [rsa_jwk(weak, "weak"), with_private, rsa_jwk(rsa_key, "ok")]}
    async with open_cache() as cache:
        for kid in ("weak", "leaked"):
            with pytest.raises(IssuerKeyError, match="publishes no key with kid"):
                await cache.get_signing_key(idp.issuer, kid, "RS256")
        await cache.get_signing_key(idp.issuer, "ok", "RS256")


def _fake_rsa_jwk(bits: int, kid: str) -> dict[str, Any]:
    """An RSA public JWK with a ``bits``-bit odd modulus (not a real key: size checks need no primes)."""
    from ssoidc.base64url import b64u

    n = (1 << (bits - 1)) | secrets.randbits(bits - 1) | 1
    return {"kty": "RSA", "kid": kid, "n": b64u(n.to_bytes(bits // 8, "big")), "e": "AQAB"}


@pytest.mark.anyio
async def test_rsa_keys_outside_2048_to_4096_bits_are_skipped(idp: IssuerServer) -> None:
    """A 16,384-bit modulus costs ~64 times a 2,048-bit one per verification: never used (RFC 7518 3.3 floor)."""
    idp.jwks = {
        "keys": [
            _fake_rsa_jwk(16384, "huge"),
            _fake_rsa_jwk(8192, "big"),
            _fake_rsa_jwk(4104, "just-over"),
            _fake_rsa_jwk(4096, "max"),
            _fake_rsa_jwk(2048, "min"),
            _fake_rsa_jwk(2040, "just-under"),
        ]
    }
    async with open_cache() as cache:
        for kid in ("huge", "big", "just-over", "just-under"):
            with pytest.raises(IssuerKeyError, match="publishes no key with kid"):
                await cache.get_signing_key(idp.issuer, kid, "RS256")
        for kid in ("max", "min"):
            await cache.get_signing_key(idp.issuer, kid, "RS256")


@pytest.mark.anyio
@pytest.mark.parametrize("crv", ["P-192", "P-224", "secp256k1", "Ed25519", "X25519", "brainpoolP256r1"])
async def test_ec_keys_on_other_curves_are_skipped(
    idp: IssuerServer, ec_key: ec.EllipticCurvePrivateKey, crv: str
) -> None:
    idp.jwks = {"keys": [{**ec_jwk(ec_key, "odd"), "crv": crv}]}
    async with open_cache() as cache:
        with pytest.raises(IssuerKeyError, match="no usable signing keys"):
            await cache.get_signing_key(idp.issuer, "odd", "ES256")


@pytest.mark.anyio
@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
async def test_a_jwks_that_is_not_utf8_is_refused(
    idp: IssuerServer, rsa_key: rsa.RSAPrivateKey, encoding: str
) -> None:
    body = json.dumps({"keys": [rsa_jwk(rsa_key, "rsa-1")]}).encode(encoding)
    idp.routes[idp.jwks_path] = lambda h: send_bytes(h, body)
    async with open_cache() as cache:
        with pytest.raises(IssuerKeyError, match="not JSON"):
            await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")


@pytest.mark.anyio
async def test_forget_picks_up_a_key_replaced_under_the_same_kid(
    idp: IssuerServer, rsa_key: rsa.RSAPrivateKey, rsa_key2: rsa.RSAPrivateKey
) -> None:
    async with open_cache() as cache:
        first = await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        assert public_numbers_equal(first.key, rsa_key.public_key())
        idp.jwks = {"keys": [rsa_jwk(rsa_key2, "rsa-1")]}  # same kid, new key
        cached = await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        assert public_numbers_equal(cached.key, rsa_key.public_key())  # the cache serves the old key...
        cache.forget(idp.issuer)
        fresh = await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        assert public_numbers_equal(fresh.key, rsa_key2.public_key())  # ...until the issuer is forgotten
        assert idp.jwks_hits == 2


@pytest.mark.anyio
async def test_a_fetch_in_flight_when_forgotten_is_served_but_not_kept(idp: IssuerServer) -> None:
    idp.discovery_delay = 0.2
    async with open_cache() as cache:
        pending = asyncio.ensure_future(cache.get_signing_key(idp.issuer, "rsa-1", "RS256"))
        await asyncio.sleep(0.05)
        cache.forget(idp.issuer)
        await pending  # its caller still gets an answer
        idp.discovery_delay = 0.0
        await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")
        assert idp.jwks_hits == 2  # what the forgotten fetch brought back was not cached


@pytest.mark.anyio
async def test_duplicate_kid_is_ambiguous(
    idp: IssuerServer,
    rsa_key: rsa.RSAPrivateKey,
    rsa_key2: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    idp.jwks = {"keys": [rsa_jwk(rsa_key, "dup"), rsa_jwk(rsa_key2, "dup"), ec_jwk(ec_key, "dup")]}
    async with open_cache() as cache:
        with pytest.raises(IssuerKeyError, match="more than one RS256 key with kid 'dup'"):
            await cache.get_signing_key(idp.issuer, "dup", "RS256")
        # the same kid on keys of different types is fine (RFC 7517 section 4.5)
        await cache.get_signing_key(idp.issuer, "dup", "ES256")


@pytest.mark.anyio
async def test_unprintable_kid_is_not_echoed(idp: IssuerServer) -> None:
    async with open_cache() as cache:
        with pytest.raises(IssuerKeyError) as info:
            await cache.get_signing_key(idp.issuer, "<script>\n" + "x" * 500, "RS256")
    assert info.value.message.endswith("publishes no key with the given kid")


# -- SSRF guard (allow_insecure=False) -----------------------------------------------------------------------

SECURE = JwksSettings(timeout_seconds=2.0)
PUBLIC_ISSUER = "https://issuer.example.com"


class Recorder:
    """A transport and a resolver that record what they are asked; the transport answers like an issuer."""

    def __init__(
        self, addresses: Sequence[str] = ("93.184.216.34",), jwks: dict[str, Any] | None = None
    ) -> None:
        self.requests: list[httpx.Request] = []
        self.resolved: list[tuple[str, int]] = []
        self.addresses = list(addresses)
        self.discovery: dict[str, Any] = {"issuer": PUBLIC_ISSUER, "jwks_uri": PUBLIC_ISSUER + "/jwks"}
        self.jwks = jwks or {"keys": []}
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=self.discovery)
        if request.url.path == "/jwks":
            return httpx.Response(200, json=self.jwks)
        return httpx.Response(404)

    async def resolve(self, host: str, port: int) -> Sequence[str]:
        self.resolved.append((host, port))
        return self.addresses

    def cache(self, settings: JwksSettings = SECURE) -> contextlib.AbstractAsyncContextManager[JwksCache]:
        return open_cache(settings, transport=self.transport, resolver=self.resolve)


async def refused(recorder: Recorder, issuer: str, settings: JwksSettings = SECURE) -> str:
    async with recorder.cache(settings) as cache:
        with pytest.raises(IssuerKeyError) as info:
            await cache.get_signing_key(issuer, "k", "RS256")
    return info.value.message


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("issuer", "expected"),
    [
        (
            "http://issuer.example.com",
            "must use https; set SSOIDC_ALLOW_INSECURE_ISSUERS=1 for local testing",
        ),
        ("https://127.0.0.1", "resolves to a private or reserved address"),
        ("https://127.0.0.1:443", "resolves to a private or reserved address"),
        ("https://[::1]", "resolves to a private or reserved address"),
        ("https://[::ffff:10.0.0.1]", "resolves to a private or reserved address"),
        ("https://10.0.0.5", "resolves to a private or reserved address"),
        ("https://192.168.1.1/tenant", "resolves to a private or reserved address"),
        ("https://169.254.169.254", "resolves to a private or reserved address"),
        ("https://100.64.0.1", "resolves to a private or reserved address"),
        ("https://0.0.0.0", "resolves to a private or reserved address"),
        ("https://localhost", "names a loopback host"),
        ("https://LOCALHOST.", "names a loopback host"),
        ("https://api.localhost", "names a loopback host"),
        ("https://issuer.example.com:8443", "must use port 443"),
        ("https://user:pw@issuer.example.com", "must not contain credentials"),
        ("https://issuer.example.com?x=1", "must not have a query or fragment"),
        ("ftp://issuer.example.com", "must use https"),
        ("not a url", "must use https"),
        ("https://", "has no host"),
    ],
)
async def test_ssrf_refusals_send_no_traffic(issuer: str, expected: str) -> None:
    recorder = Recorder()
    message = await refused(recorder, issuer)
    assert expected in message
    assert recorder.requests == []
    assert recorder.resolved == []  # IP literals and refused names are never looked up


@pytest.mark.anyio
@pytest.mark.parametrize(
    "addresses",
    [
        ["10.1.2.3"],
        ["127.0.0.1"],
        ["::1"],
        ["fe80::1"],
        ["fd00::1"],
        ["169.254.169.254"],
        ["::ffff:192.168.0.1"],
        ["64:ff9b::a9fe:a9fe"],  # NAT64 of 169.254.169.254
        ["2002:0a00:0001::1"],  # 6to4 of 10.0.0.1
        ["93.184.216.34", "10.0.0.1"],  # every address must be public
        ["10.0.0.1", "93.184.216.34"],
    ],
)
async def test_host_resolving_to_a_private_address_is_refused(addresses: list[str]) -> None:
    recorder = Recorder(addresses)
    message = await refused(recorder, PUBLIC_ISSUER)
    assert message == (
        f"issuer URL {PUBLIC_ISSUER} resolves to a private or reserved address; "
        "set SSOIDC_ALLOW_INSECURE_ISSUERS=1 for local testing"
    )
    assert recorder.resolved == [("issuer.example.com", 443)]
    assert recorder.requests == []


@pytest.mark.anyio
async def test_unresolvable_host() -> None:
    recorder = Recorder([])
    assert "could not resolve host" in await refused(recorder, PUBLIC_ISSUER)

    async def failing(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    async with open_cache(SECURE, transport=recorder.transport, resolver=failing) as cache:
        with pytest.raises(IssuerKeyError, match="could not resolve host"):
            await cache.get_signing_key(PUBLIC_ISSUER, "k", "RS256")
    assert recorder.requests == []


@pytest.mark.anyio
async def test_public_host_is_pinned_to_the_checked_address(rsa_key: rsa.RSAPrivateKey) -> None:
    recorder = Recorder(
        ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"], {"keys": [rsa_jwk(rsa_key, "k")]}
    )
    async with recorder.cache() as cache:
        key = await cache.get_signing_key(PUBLIC_ISSUER, "k", "RS256")
    assert public_numbers_equal(key.key, rsa_key.public_key())
    assert [r.url.path for r in recorder.requests] == ["/.well-known/openid-configuration", "/jwks"]
    for request in recorder.requests:
        # the connection goes to the address that was checked, never to a second DNS answer
        assert request.url.scheme == "https"
        assert request.url.host == "93.184.216.34"
        assert request.headers["host"] == "issuer.example.com"
        assert request.extensions["sni_hostname"] == "issuer.example.com"
        assert request.headers["accept-encoding"] == "identity"
    assert recorder.resolved == [("issuer.example.com", 443), ("issuer.example.com", 443)]


@pytest.mark.anyio
async def test_ipv6_pinning_brackets_the_address(rsa_key: rsa.RSAPrivateKey) -> None:
    recorder = Recorder(["2606:2800:220:1:248:1893:25c8:1946"], {"keys": [rsa_jwk(rsa_key, "k")]})
    async with recorder.cache() as cache:
        await cache.get_signing_key(PUBLIC_ISSUER, "k", "RS256")
    assert str(recorder.requests[0].url).startswith("https://[2606:2800:220:1:248:1893:25c8:1946]/")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("jwks_uri", "expected"),
    [
        (
            "https://169.254.169.254/latest/meta-data",
            "jwks_uri of issuer https://issuer.example.com resolves",
        ),
        ("http://issuer.example.com/jwks", "jwks_uri of issuer https://issuer.example.com must use https"),
        ("https://issuer.example.com:8080/jwks", "must use port 443"),
        ("https://localhost/jwks", "names a loopback host"),
        ("/jwks", "must use https"),
    ],
)
async def test_jwks_uri_is_guarded_too(jwks_uri: str, expected: str) -> None:
    recorder = Recorder()
    recorder.discovery["jwks_uri"] = jwks_uri
    assert expected in await refused(recorder, PUBLIC_ISSUER)
    assert [r.url.path for r in recorder.requests] == ["/.well-known/openid-configuration"]


@pytest.mark.anyio
async def test_jwks_uri_host_resolving_privately_is_refused() -> None:
    recorder = Recorder()
    recorder.discovery["jwks_uri"] = "https://keys.internal.example.com/jwks"

    async def resolve(host: str, port: int) -> Sequence[str]:
        return ["93.184.216.34"] if host == "issuer.example.com" else ["10.0.0.7"]

    async with open_cache(SECURE, transport=recorder.transport, resolver=resolve) as cache:
        with pytest.raises(
            IssuerKeyError, match=r"jwks_uri of issuer .* resolves to a private or reserved address"
        ):
            await cache.get_signing_key(PUBLIC_ISSUER, "k", "RS256")
    assert len(recorder.requests) == 1


@pytest.mark.anyio
async def test_redirect_from_a_public_issuer_is_not_followed() -> None:
    hits: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        hits.append(str(request.url))
        return httpx.Response(307, headers={"Location": "http://169.254.169.254/latest/meta-data"})

    async def resolve(host: str, port: int) -> Sequence[str]:
        return ["93.184.216.34"]

    async with open_cache(SECURE, transport=httpx.MockTransport(handle), resolver=resolve) as cache:
        with pytest.raises(IssuerKeyError, match="HTTP 307 redirect"):
            await cache.get_signing_key(PUBLIC_ISSUER, "k", "RS256")
    assert len(hits) == 1


@pytest.mark.anyio
async def test_allow_insecure_permits_loopback_http(idp: IssuerServer) -> None:
    async with open_cache(JwksSettings(allow_insecure=True)) as cache:
        await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")


@pytest.mark.anyio
async def test_secure_settings_refuse_the_loopback_test_server(idp: IssuerServer) -> None:
    message = await fetch_error(idp.issuer, JwksSettings())
    assert "must use https" in message
    assert sum(idp.hits.values()) == 0


@pytest.mark.anyio
async def test_default_resolver_uses_getaddrinfo() -> None:
    # loopback literals and /etc/hosts only: no DNS traffic
    assert await _system_resolver("127.0.0.1", 443) == ["127.0.0.1"]


@pytest.mark.anyio
async def test_aclose_cancels_fetches_in_flight_and_refuses_new_calls(idp: IssuerServer) -> None:
    idp.routes[idp.discovery_path] = idp.stall
    cache = JwksCache(INSECURE, clock=FrozenClock(T0))
    waiter = asyncio.ensure_future(cache.get_signing_key(idp.issuer, "rsa-1", "RS256"))
    await asyncio.sleep(0.05)
    await cache.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    with pytest.raises(IssuerKeyError, match="closed"):
        await cache.get_signing_key(idp.issuer, "rsa-1", "RS256")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("127.1.2.3", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("100.127.255.254", False),
        ("0.0.0.0", False),
        ("0.1.2.3", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.0.8", False),
        ("192.0.2.1", False),
        ("198.18.0.1", False),
        ("198.51.100.1", False),
        ("203.0.113.1", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("2001:db8::1", False),
        ("2001::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:8.8.8.8", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b:1::1", False),
        ("2002:7f00:1::", False),
        ("100::1", False),
        ("not-an-ip", False),
    ],
)
def test_address_classification(address: str, public: bool) -> None:
    assert _address_is_public(address) is public

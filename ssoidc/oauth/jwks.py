"""Signing keys of trusted token issuers: OpenID discovery, JWKS retrieval, caching and an SSRF guard.

Specifications implemented:

* OpenID Connect Discovery 1.0, section 4: the discovery document is fetched from ``issuer.rstrip('/') +
  '/.well-known/openid-configuration'`` (section 4.1), and its ``issuer`` member must be *identical* to the
  configured issuer URL (section 4.3); ``jwks_uri`` is required.
* RFC 7517 (JSON Web Key): the JWK Set is a JSON object with a ``keys`` array (section 5); keys whose
  ``use`` (section 4.2) is not ``sig``, whose ``key_ops`` (section 4.3) lack ``verify``, or that PyJWT
  cannot parse are skipped rather than failing the whole set (section 5: "implementations SHOULD ignore JWKs
  ... that they do not understand").
* RFC 8725 (JWT BCP) sections 3.1 and 3.2: only asymmetric algorithms (RS*, PS*, ES*) are ever served; the
  key type (and EC curve) must fit the algorithm and a key's own ``alg``, when present, must equal the
  requested one; ``oct`` (HMAC) keys are never used; RSA keys shorter than 2048 bits (RFC 7518 section 3.3) or longer
  than 4096 bits (a 16,384-bit modulus costs some 64 times a 2,048-bit one per verification: an issuer, or
  whoever controls its JWKS, could make every assertion expensive) are skipped, and EC keys must be on P-256,
  P-384 or P-521 (RFC 7518 section 6.2.1.1; the curve fits the algorithm). The discovery document and the
  JWKS must be UTF-8 JSON (RFC 8259 section 8.1).

Keys embedded in a token (``jwk``/``jku``/``x5u``/``x5c`` header parameters) are never consulted: this
module only receives an issuer URL, a ``kid`` and an ``alg``. A JWK's ``x5c`` member is ignored too; keys
are built from ``n``/``e`` or ``crv``/``x``/``y`` only, and a published key carrying private members is
skipped.

Caching (per issuer URL):

* ``forget(issuer_url)`` drops an issuer's entry at once: the configuration snapshot calls it on every node when
  a trusted token issuer is updated (sso-admin UpdateTrustedTokenIssuer, even one that changes nothing, or a change
  by ``ssoidc apply``) or deleted, so a key replaced under the same ``kid`` is picked up by the next assertion
  instead of after the TTL;
* a fetched JWKS is trusted for ``ttl_seconds`` (measured with the injected :class:`~ssoidc.clock.Clock`);
* an unknown ``kid`` (or, with no ``kid``, no usable key) triggers a refetch, but only if no fetch of any
  kind (initial, TTL, refetch) for that issuer *started* in the last ``min_refetch_interval_seconds``, so a
  flood of tokens with random ``kid`` values cannot make us hammer the issuer;
* concurrent callers for one issuer share a single in-flight fetch (an ``asyncio.Task`` per issuer, awaited
  through ``asyncio.shield`` so one cancelled caller does not cancel the fetch for the others);
* stale-if-error, bounded by the TTL: when a refetch triggered by an unknown ``kid`` fails, the keys already
  cached stay in use until their TTL runs out (the failing request gets the fetch error). Once the TTL has
  run out, a failed fetch is an error: keys are never trusted beyond ``ttl_seconds``;
* failures are not cached (no negative caching): a fetch that failed is retried by the next request, but
  concurrent requests still share one fetch, so an unreachable issuer sees at most one request in flight.

SSRF guard (unless ``allow_insecure``, which exists for the demo and tests only): the issuer URL and the
``jwks_uri`` must be ``https`` on port 443 with no userinfo; ``localhost`` and ``*.localhost`` are refused
by name; the host is resolved with ``loop.getaddrinfo`` (IP literals are checked as they are) and *every*
resolved address must be globally routable (no loopback, private, link-local, CGNAT, multicast, reserved,
unspecified, documentation or benchmark ranges; IPv4 addresses embedded in IPv4-mapped, 6to4, Teredo and
NAT64 IPv6 addresses are checked too). To avoid the DNS-rebinding time-of-check/time-of-use gap, the request
is then sent to the checked address itself, with the original host name in the ``Host`` header and as TLS
SNI / certificate name (httpcore's ``sni_hostname`` request extension), and keep-alive pooling is disabled
so a TLS connection made for one host name is never reused for another that happens to share its address.
Redirects are not followed (a 3xx is an error), proxies and other environment settings are ignored
(``trust_env=False``), and bodies are streamed with ``Accept-Encoding: identity`` and cut off past
``max_response_bytes`` whatever ``Content-Length`` says. The whole of one request (resolution, connect,
headers and body) must finish within ``timeout_seconds``.

Deliberately not done: HTTP caching headers (``Cache-Control``/``Expires``) are ignored in favour of the
fixed TTL; only the first checked address is tried (no happy-eyeballs fallback to the others); compressed
responses are refused rather than decoded (decompression bombs); EdDSA/ES256K keys are not supported; the
JWKS is capped at the first 100 entries. Response bodies are never logged nor put into error messages."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import jwt

from ssoidc import strict_json
from ssoidc.clock import Clock

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "IssuerKeyError",
    "JwksCache",
    "JwksSettings",
    "Resolver",
]

logger = logging.getLogger(__name__)

#: The only JWS algorithms a trusted token issuer's key is ever served for (RFC 8725 section 3.1: no ``none``,
#: no HMAC).
SUPPORTED_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)

_EC_CURVE_FOR_ALG: Final[Mapping[str, str]] = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_ALG_FOR_EC_CURVE: Final[Mapping[str, str]] = {crv: alg for alg, crv in _EC_CURVE_FOR_ALG.items()}
_MIN_RSA_BITS: Final = 2048
_MAX_RSA_BITS: Final = 4096
_MAX_KEYS: Final = 100
_PRIVATE_JWK_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
_SAFE_KID: Final = re.compile(r"[A-Za-z0-9._~+/=:@-]{1,128}")
_INSECURE_HINT: Final = "; set SSOIDC_ALLOW_INSECURE_ISSUERS=1 for local testing"

#: Address blocks refused on top of what ``ipaddress`` already calls non-global.
_EXTRA_BLOCKED_NETWORKS: Final = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # CGNAT shared address space (RFC 6598)
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and broadcast
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (includes Teredo)
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)
_NAT64_WELL_KNOWN: Final = ipaddress.IPv6Network("64:ff9b::/96")

#: Resolves ``(host, port)`` to a list of IP address strings. The default uses ``loop.getaddrinfo``.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


class IssuerKeyError(Exception):
    """A trusted token issuer's signing key could not be obtained.

    ``message`` is safe to show to the caller: it names the issuer and what failed, never a response body.
    The grant wraps it into the domain's ``InvalidGrant``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class JwksSettings:
    """How trusted token issuers' keys are fetched and cached."""

    #: Allow http:// and loopback/private/link-local addresses (demo and tests only).
    allow_insecure: bool = False
    #: The whole of one request: resolve, connect, send, read headers and body.
    timeout_seconds: float = 5.0
    #: Cap for discovery document and JWKS bodies, enforced while streaming.
    max_response_bytes: int = 256 * 1024
    #: How long a fetched JWKS is trusted.
    ttl_seconds: float = 3600.0
    #: Refetch on an unknown kid at most once per this interval per issuer.
    min_refetch_interval_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class _Key:
    """One usable verification key from an issuer's JWKS (public members only)."""

    kid: str | None
    kty: str  # "RSA" or "EC"
    crv: str | None  # EC only
    alg: str | None  # the key's own "alg", if it declared one
    jwk: Mapping[str, Any]  # public members only: kty, n, e / kty, crv, x, y

    def fits(self, alg: str) -> bool:
        if self.alg is not None and self.alg != alg:
            return False
        if alg.startswith(("RS", "PS")):
            return self.kty == "RSA"
        return self.kty == "EC" and self.crv == _EC_CURVE_FOR_ALG.get(alg)


@dataclass(slots=True)
class _Entry:
    keys: tuple[_Key, ...]
    fetched_at: float
    _parsed: dict[tuple[int, str], jwt.PyJWK] = field(default_factory=dict)

    def expired(self, now: float, ttl: float) -> bool:
        # A clock that went backwards counts as expiry: better one extra fetch than trusting keys too long.
        return now - self.fetched_at >= ttl or now < self.fetched_at

    def pyjwk(self, index: int, alg: str) -> jwt.PyJWK:
        cached = self._parsed.get((index, alg))
        if cached is None:
            cached = jwt.PyJWK(dict(self.keys[index].jwk), algorithm=alg)
            self._parsed[(index, alg)] = cached
        return cached


@dataclass(frozen=True, slots=True)
class _Miss:
    """Key selection failed. ``refetch`` says whether a fresher JWKS could help (an unknown key)."""

    message: str
    refetch: bool


def _describe_kid(kid: str) -> str:
    return f"kid '{kid}'" if _SAFE_KID.fullmatch(kid) else "the given kid"


def _address_is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        if ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            candidates.append(ip.sixtofour)
        if ip.teredo is not None:
            candidates.extend(ip.teredo)
        if ip in _NAT64_WELL_KNOWN:
            candidates.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    for candidate in candidates:
        if (
            not candidate.is_global
            or candidate.is_private
            or candidate.is_loopback
            or candidate.is_link_local
            or candidate.is_multicast
            or candidate.is_reserved
            or candidate.is_unspecified
            or any(candidate in net for net in _EXTRA_BLOCKED_NETWORKS)
        ):
            return False
    return True


async def _system_resolver(host: str, port: int) -> Sequence[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _http_error_reason(exc: httpx.HTTPError) -> str:
    """A short, fixed phrase for a transport failure (never the exception text itself)."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        chain = _causes(exc)
        if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain):
            return "TLS certificate verification failed"
        if any(isinstance(e, ssl.SSLError) for e in chain):
            return "TLS handshake failed"
        if any(isinstance(e, ConnectionRefusedError) for e in chain):
            return "connection refused"
        return "could not connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "invalid HTTP response"
    if isinstance(exc, httpx.NetworkError):
        return "connection error"
    return "request failed"


class JwksCache:
    """Fetches and caches trusted token issuers' signing keys. One instance per process; asyncio only."""

    def __init__(
        self,
        settings: JwksSettings,
        *,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._transport = transport
        self._resolver: Resolver = resolver if resolver is not None else _system_resolver
        self._client: httpx.AsyncClient | None = None
        self._entries: dict[str, _Entry] = {}
        self._last_attempt: dict[str, float] = {}
        self._inflight: dict[str, asyncio.Task[_Entry]] = {}
        self._stale: set[asyncio.Task[_Entry]] = set()
        """Fetches in flight when ``forget`` was called: their result is not cached."""
        self._closed = False

    # -- public API ---------------------------------------------------------------------------------------

    async def get_signing_key(self, issuer_url: str, kid: str | None, alg: str) -> jwt.PyJWK:
        """The issuer's key to verify a JWS with this ``kid`` and ``alg``; raises :class:`IssuerKeyError`."""
        if not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS:
            shown = alg if isinstance(alg, str) and _SAFE_KID.fullmatch(alg) else "(invalid)"
            raise IssuerKeyError(f"algorithm {shown} is not supported for trusted token issuers")
        if kid is not None and not isinstance(kid, str):
            raise IssuerKeyError("kid must be a string")
        if self._closed:
            raise IssuerKeyError("the key cache is closed")

        now = self._clock.now()
        entry = self._entries.get(issuer_url)
        if entry is None or entry.expired(now, self._settings.ttl_seconds):
            entry = await self._fetch_shared(issuer_url)
            return self._select_or_raise(entry, issuer_url, kid, alg)

        selected = self._select(entry, issuer_url, kid, alg)
        if isinstance(selected, jwt.PyJWK):
            return selected
        if not selected.refetch:
            raise IssuerKeyError(selected.message)
        if issuer_url in self._inflight or self._refetch_allowed(issuer_url, now):
            entry = await self._fetch_shared(issuer_url)
            return self._select_or_raise(entry, issuer_url, kid, alg)
        raise IssuerKeyError(selected.message)

    def forget(self, issuer_url: str) -> None:
        """Drop the cached keys of ``issuer_url`` (and its refetch throttle): the next assertion fetches them.

        A fetch already in flight is not cancelled (its callers still get its answer), but what it brings back is
        not kept: it started before the issuer changed.
        """
        self._entries.pop(issuer_url, None)
        self._last_attempt.pop(issuer_url, None)
        task = self._inflight.pop(issuer_url, None)
        if task is not None:
            self._stale.add(task)

    async def aclose(self) -> None:
        """Cancel fetches in flight and close the HTTP client."""
        self._closed = True
        tasks = [*self._inflight.values(), *self._stale]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- cache --------------------------------------------------------------------------------------------

    def _refetch_allowed(self, issuer_url: str, now: float) -> bool:
        last = self._last_attempt.get(issuer_url)
        if last is None:
            return True
        elapsed = now - last
        return elapsed >= self._settings.min_refetch_interval_seconds or elapsed < 0

    async def _fetch_shared(self, issuer_url: str) -> _Entry:
        task = self._inflight.get(issuer_url)
        if task is None:
            started = self._clock.now()
            self._last_attempt[issuer_url] = started
            task = asyncio.get_running_loop().create_task(self._fetch_and_store(issuer_url, started))
            self._inflight[issuer_url] = task
            task.add_done_callback(functools.partial(self._fetch_done, issuer_url))
        return await asyncio.shield(task)

    def _fetch_done(self, issuer_url: str, task: asyncio.Task[_Entry]) -> None:
        if self._inflight.get(issuer_url) is task:
            del self._inflight[issuer_url]
        self._stale.discard(task)
        if not task.cancelled():
            task.exception()  # mark retrieved: every waiter may have been cancelled

    async def _fetch_and_store(self, issuer_url: str, started: float) -> _Entry:
        try:
            keys = await self._fetch_keys(issuer_url)
        except IssuerKeyError as exc:
            logger.warning("fetching signing keys failed: %s", exc.message)
            stale = self._entries.get(issuer_url)
            if stale is not None and stale.expired(self._clock.now(), self._settings.ttl_seconds):
                del self._entries[issuer_url]
            raise
        entry = _Entry(keys=keys, fetched_at=started)
        current = asyncio.current_task()
        if current is None or current not in self._stale:  # forgotten meanwhile: serve it, do not keep it
            self._entries[issuer_url] = entry
        logger.info("fetched %d usable signing keys for issuer %s", len(keys), issuer_url)
        return entry

    # -- key selection ------------------------------------------------------------------------------------

    def _select_or_raise(self, entry: _Entry, issuer_url: str, kid: str | None, alg: str) -> jwt.PyJWK:
        selected = self._select(entry, issuer_url, kid, alg)
        if isinstance(selected, _Miss):
            raise IssuerKeyError(selected.message)
        return selected

    def _select(self, entry: _Entry, issuer_url: str, kid: str | None, alg: str) -> jwt.PyJWK | _Miss:
        if kid is not None:
            with_kid = [i for i, k in enumerate(entry.keys) if k.kid == kid]
            if not with_kid:
                return _Miss(f"issuer {issuer_url} publishes no key with {_describe_kid(kid)}", refetch=True)
            usable = [i for i in with_kid if entry.keys[i].fits(alg)]
            if not usable:
                return _Miss(
                    f"issuer {issuer_url} key with {_describe_kid(kid)} cannot be used with {alg}",
                    refetch=False,
                )
            if len(usable) > 1:
                return _Miss(
                    f"issuer {issuer_url} publishes more than one {alg} key with {_describe_kid(kid)}",
                    refetch=False,
                )
        else:
            usable = [i for i, k in enumerate(entry.keys) if k.fits(alg)]
            if not usable:
                return _Miss(f"issuer {issuer_url} publishes no key usable with {alg}", refetch=True)
            if len(usable) > 1:
                return _Miss(
                    f"the assertion has no kid and issuer {issuer_url} publishes {len(usable)} keys usable "
                    f"with {alg}",
                    refetch=False,
                )
        try:
            return entry.pyjwk(usable[0], alg)
        except (jwt.PyJWTError, ValueError, TypeError) as exc:  # pragma: no cover - keys were parsed at fetch
            raise IssuerKeyError(f"issuer {issuer_url} key cannot be used with {alg}") from exc

    # -- fetching -----------------------------------------------------------------------------------------

    async def _fetch_keys(self, issuer_url: str) -> tuple[_Key, ...]:
        label = f"issuer URL {issuer_url}"
        issuer = self._parse_url(issuer_url, label=label)
        if issuer.query or issuer.fragment:
            raise IssuerKeyError(f"{label} must not have a query or fragment")
        discovery_url = self._parse_url(issuer_url.rstrip("/") + _DISCOVERY_PATH, label=label)
        document = await self._get_json(
            discovery_url,
            label=label,
            failed=f"could not fetch OpenID discovery document for issuer {issuer_url}",
        )
        if document.get("issuer") != issuer_url:
            raise IssuerKeyError(
                f"OpenID discovery document for issuer {issuer_url} names a different issuer "
                "(OpenID Connect Discovery 1.0 section 4.3 requires an exact match)"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise IssuerKeyError(f"OpenID discovery document for issuer {issuer_url} has no jwks_uri")
        label = f"jwks_uri of issuer {issuer_url}"
        jwks_url = self._parse_url(jwks_uri, label=label)
        jwks = await self._get_json(
            jwks_url, label=label, failed=f"could not fetch JWKS for issuer {issuer_url}"
        )
        return _parse_jwks(jwks, issuer_url)

    def _parse_url(self, raw: str, *, label: str) -> httpx.URL:
        try:
            url = httpx.URL(raw)
        except (httpx.InvalidURL, ValueError, TypeError):
            raise IssuerKeyError(f"{label} is not a valid URL") from None
        if self._settings.allow_insecure:
            if url.scheme not in ("https", "http"):
                raise IssuerKeyError(f"{label} must use https (or http when insecure issuers are allowed)")
        elif url.scheme != "https":
            raise IssuerKeyError(f"{label} must use https{_INSECURE_HINT}")
        if not url.host:
            raise IssuerKeyError(f"{label} has no host")
        if url.userinfo:
            raise IssuerKeyError(f"{label} must not contain credentials")
        if not self._settings.allow_insecure and url.port not in (None, 443):
            raise IssuerKeyError(f"{label} must use port 443{_INSECURE_HINT}")
        return url

    async def _pin(self, url: httpx.URL, *, label: str) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
        """SSRF guard: check every address of the host; return the URL to request, extra headers, extensions.

        The returned URL names the checked IP address, so the connection goes exactly where we checked (no DNS
        rebinding between check and use); ``Host`` and the TLS server name stay the original host name.
        """
        if self._settings.allow_insecure:
            return url, {}, {}
        host = url.raw_host.decode("ascii")
        lowered = host.lower().rstrip(".")
        if lowered == "localhost" or lowered.endswith(".localhost"):
            raise IssuerKeyError(f"{label} names a loopback host{_INSECURE_HINT}")
        try:
            addresses: Sequence[str] = [str(ipaddress.ip_address(host))]
            literal = True
        except ValueError:
            literal = False
            try:
                addresses = await self._resolver(host, 443)
            except (OSError, UnicodeError):
                raise IssuerKeyError(f"{label}: could not resolve host") from None
        if not addresses:
            raise IssuerKeyError(f"{label}: could not resolve host")
        for address in addresses:
            if not _address_is_public(address):
                logger.warning("%s resolves to non-public address %s; refusing", label, address)
                raise IssuerKeyError(f"{label} resolves to a private or reserved address{_INSECURE_HINT}")
        if literal:
            return url, {}, {}
        pinned = url.copy_with(host=str(ipaddress.ip_address(addresses[0])))
        return pinned, {"Host": url.netloc.decode("ascii")}, {"sni_hostname": host}

    def _client_or_create(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                trust_env=False,
                follow_redirects=False,
                timeout=httpx.Timeout(self._settings.timeout_seconds),
                limits=httpx.Limits(max_keepalive_connections=0),
                headers={
                    "Accept": "application/json",
                    "Accept-Encoding": "identity",
                    "User-Agent": "ssoidc-jwks",
                },
            )
        return self._client

    async def _get_json(self, url: httpx.URL, *, label: str, failed: str) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self._settings.timeout_seconds):
                target, headers, extensions = await self._pin(url, label=label)
                body = await self._download(target, headers, extensions, failed=failed)
        except TimeoutError:
            raise IssuerKeyError(f"{failed}: timed out") from None
        try:
            document = strict_json.loads(body)  # strict UTF-8 (RFC 8259 section 8.1), one value per name
        except ValueError:
            raise IssuerKeyError(f"{failed}: the response is not JSON") from None
        if not isinstance(document, dict):
            raise IssuerKeyError(f"{failed}: the response is not a JSON object")
        return document

    async def _download(
        self, url: httpx.URL, headers: dict[str, str], extensions: dict[str, Any], *, failed: str
    ) -> bytes:
        client = self._client_or_create()
        request = client.build_request("GET", url, headers=headers, extensions=extensions)
        limit = self._settings.max_response_bytes
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            logger.info("%s: %r", failed, exc)
            raise IssuerKeyError(f"{failed}: {_http_error_reason(exc)}") from None
        try:
            status = response.status_code
            if 300 <= status < 400:
                raise IssuerKeyError(f"{failed}: HTTP {status} redirect (redirects are not followed)")
            if status != 200:
                raise IssuerKeyError(f"{failed}: HTTP {status}")
            encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise IssuerKeyError(f"{failed}: compressed responses are not accepted")
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.strip().isdigit() and int(declared) > limit:
                raise IssuerKeyError(f"{failed}: the response is larger than {limit} bytes")
            chunks: list[bytes] = []
            received = 0
            # aiter_bytes rather than aiter_raw only so a body some transport already holds in memory is
            # served too; with Content-Encoding refused above it is the raw body, bounded chunk by chunk.
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > limit:
                    raise IssuerKeyError(f"{failed}: the response is larger than {limit} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
        except httpx.HTTPError as exc:
            logger.info("%s: %r", failed, exc)
            raise IssuerKeyError(f"{failed}: {_http_error_reason(exc)}") from None
        finally:
            await response.aclose()


def _parse_jwks(document: Mapping[str, Any], issuer_url: str) -> tuple[_Key, ...]:
    raw_keys = document.get("keys")
    if not isinstance(raw_keys, list):
        raise IssuerKeyError(f"JWKS of issuer {issuer_url} has no keys array")
    keys: list[_Key] = []
    for raw in raw_keys[:_MAX_KEYS]:
        key = _parse_jwk(raw, issuer_url)
        if key is not None:
            keys.append(key)
    if not keys:
        raise IssuerKeyError(f"JWKS of issuer {issuer_url} has no usable signing keys")
    return tuple(keys)


def _parse_jwk(raw: object, issuer_url: str) -> _Key | None:
    """One JWK as a usable verification key, or None to skip it (RFC 7517 section 5)."""
    if not isinstance(raw, dict):
        return None
    kty, use, key_ops, kid, alg = (raw.get(m) for m in ("kty", "use", "key_ops", "kid", "alg"))
    if kty not in ("RSA", "EC"):  # never "oct" (HMAC), nor key types we do not verify with
        return None
    if use is not None and use != "sig":
        return None
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    if kid is not None and not isinstance(kid, str):
        return None
    if alg is not None and (not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS):
        return None
    if _PRIVATE_JWK_MEMBERS.intersection(raw):
        logger.warning("issuer %s publishes a key with private members; skipping it", issuer_url)
        return None
    crv: str | None = None
    if kty == "RSA":
        public = {"kty": "RSA", "n": raw.get("n"), "e": raw.get("e")}
        default_alg = "RS256"
    else:
        crv_value = raw.get("crv")
        if not isinstance(crv_value, str) or crv_value not in _ALG_FOR_EC_CURVE:
            return None
        crv = crv_value
        public = {"kty": "EC", "crv": crv, "x": raw.get("x"), "y": raw.get("y")}
        default_alg = _ALG_FOR_EC_CURVE[crv]
    try:
        parsed = jwt.PyJWK(public, algorithm=alg or default_alg)
    except Exception:  # whatever PyJWT or cryptography raise on a malformed key: skip it
        return None
    if kty == "RSA" and not _MIN_RSA_BITS <= getattr(parsed.key, "key_size", 0) <= _MAX_RSA_BITS:
        logger.warning("issuer %s publishes an RSA key outside 2048..4096 bits; skipping it", issuer_url)
        return None
    return _Key(kid=kid, kty=kty, crv=crv, alg=alg, jwk=public)

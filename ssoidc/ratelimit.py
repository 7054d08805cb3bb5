"""Request rate limits: a GCRA (generic cell rate algorithm, the virtual-scheduling form of a token bucket) per key.

Each limited key keeps one float, its *theoretical arrival time* (TAT): when the bucket would be full again. A
request at ``now`` is admitted if ``max(TAT, now) + 1/rate - now <= burst/rate`` and then moves the TAT by
``1/rate``; otherwise it is refused with the time after which one request fits again (the ``Retry-After`` hint).
That is a token bucket of ``burst`` tokens refilled at ``rate`` per second, in O(1) time and one dict entry per key.

Three kinds of key are limited (``RequestLimits``): the client address of every request (signed or not, and before
its signature is checked, so failed authentication counts too), the authenticated principal ARN of every signed
request, and the application of every token request. The limits are per worker process: nothing is shared
between workers or nodes, so with ``N`` workers on each of ``M`` nodes a key can be served up to ``N*M`` times the
configured rate (docs/deployment.md, "Rate limits"); no request waits for the store.

Memory is bounded: each table holds at most ``max_keys`` keys. When it is full, the keys whose bucket is full again
(TAT in the past: forgetting them changes nothing) are dropped; if the table is still more than half full, the keys
closest to a full bucket are dropped down to half. That sweep (a sort, O(n log n)) runs once per ``max_keys / 2`` new keys, so O(1)
amortized. A flood of distinct keys can only make the limiter forget some buckets early (it gives those keys a
fresh burst), never grow memory.

No AWS names here: ``Throttled`` (``ssoidc.errors``) is rendered as sso-oidc's SlowDownException, the admin
services' ThrottlingException and STS's Throttling by ``ssoidc.aws.errors``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ssoidc.errors import Throttled

DEFAULT_MAX_KEYS = 50_000


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_second`` requests a second on average, up to ``burst`` at once; ``per_second == 0`` means no limit."""

    per_second: float
    burst: float

    @property
    def enabled(self) -> bool:
        return self.per_second > 0


class Limiter:
    """A GCRA limiter over keys of one kind (the module docstring)."""

    __slots__ = ("_interval", "_max_keys", "_name", "_tat", "_tolerance")

    def __init__(self, name: str, rate: Rate, *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        """``name`` words the refusal (``"principal"``, ``"client address"``, ``"application"``)."""
        if rate.per_second <= 0:
            raise ValueError("a Limiter needs a positive rate (use no limiter for none)")
        self._name = name
        self._interval = 1.0 / rate.per_second
        self._tolerance = max(rate.burst, 1.0) * self._interval
        self._max_keys = max(max_keys, 2)
        self._tat: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._tat)

    def admit(self, key: str, now: float) -> None:
        """Count one request of ``key`` at ``now``; raise ``Throttled`` (and count nothing) if it does not fit."""
        tat = self._tat.get(key)
        if tat is None:
            if len(self._tat) >= self._max_keys:
                self._sweep(now)
            tat = now
        elif tat < now:
            tat = now
        new = tat + self._interval
        wait = new - now - self._tolerance
        if wait > 0:
            raise Throttled(
                f"Rate exceeded for this {self._name}; retry after {math.ceil(wait)} s",
                retry_after=wait,
            )
        self._tat[key] = new

    def _sweep(self, now: float) -> None:
        table = self._tat
        live = {k: t for k, t in table.items() if t > now}
        half = self._max_keys // 2
        if len(live) > half:
            keep = sorted(live.items(), key=lambda kv: kv[1])[len(live) - half :]
            live = dict(keep)
        self._tat = live


@dataclass(frozen=True, slots=True)
class Limits:
    """The configured rates (``ssoidc.settings``: ``SSOIDC_RATE_LIMIT_*``)."""

    address: Rate
    principal: Rate
    application: Rate
    max_keys: int = DEFAULT_MAX_KEYS


OFF = Limits(Rate(0, 0), Rate(0, 0), Rate(0, 0))


class RequestLimits:
    """The per-worker limits of one node: by client address, by principal ARN, by application ARN.

    A kind whose rate is 0 is not limited (its ``admit_*`` returns at once)."""

    def __init__(self, limits: Limits = OFF) -> None:
        def limiter(name: str, rate: Rate) -> Limiter | None:
            return Limiter(name, rate, max_keys=limits.max_keys) if rate.enabled else None

        self._address = limiter("client address", limits.address)
        self._principal = limiter("principal", limits.principal)
        self._application = limiter("application", limits.application)

    def admit_address(self, address: str | None, now: float) -> None:
        """Every AWS request, before its signature is checked (a request without a peer address is not limited)."""
        if self._address is not None and address:
            self._address.admit(address, now)

    def admit_principal(self, principal_arn: str, now: float) -> None:
        """Every signed request, once its signature is verified."""
        if self._principal is not None and principal_arn:
            self._principal.admit(principal_arn, now)

    def admit_application(self, application_arn: str, now: float) -> None:
        """Every token request for an application, once the caller is allowed to call it."""
        if self._application is not None:
            self._application.admit(application_arn, now)

"""Clocks. Domain code never calls ``time.time()`` directly; it takes a ``Clock`` so tests can freeze time."""

from __future__ import annotations

import math
import time
from typing import Protocol


class Clock(Protocol):
    """A source of the current time in seconds since the epoch (UTC)."""

    def now(self) -> float: ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        return time.time()


class FrozenClock:
    """A clock that only moves when told to. For tests."""

    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


MAX_ADVANCE_SECONDS = 1e9
"""One move of an ``AdjustableClock`` at most (about 31 years: every timed value stays a finite epoch)."""


class AdjustableClock:
    """The wall clock plus an offset that only grows: the clock of a server started for testing
    (``ssoidc.testing``, ``serve --testing``). ``advance`` moves the server's time forward for everything the domain
    times (tokens, codes, device codes, session credentials, lockouts, JWKS cache entries); ``wall`` stays the real
    time, for what the client's clock must agree with (the SigV4 signing-time window)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def wall(self) -> float:
        return time.time()

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (> 0; time never goes back); answers the new time."""
        if not (math.isfinite(seconds) and 0 < seconds <= MAX_ADVANCE_SECONDS):
            raise ValueError(
                f"the clock only moves forward: seconds must be > 0 and at most {MAX_ADVANCE_SECONDS:g}"
            )
        self.offset += seconds
        return self.now()

"""Pure pieces of the scale benchmark (``bench/scale.py``): the checkpoint schedule, the budget, the rate model
that decides whether the next checkpoint can be reached, percentiles, and the Markdown tables.

Nothing here starts a process, opens a socket or reads the clock: ``tests/unit/test_bench_scale.py`` checks it
without a server. The records are plain JSON (``TypedDict``), so ``bench/scale.py --report`` rebuilds the tables
and plots from a saved run.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

DEFAULT_CHECKPOINTS = (1000, 3000, 10000, 30000, 100000)


class Checkpoint(TypedDict):
    """What was measured when the store reached (or, ``partial``, stopped short of) ``target`` users."""

    target: int
    users: int
    """Users in the store when the measurements started (the configuration's own plus those created)."""
    partial: bool
    """The step's time budget ran out before ``target``: the measurements are at ``users``."""
    step_s: float
    """Wall time of the bulk provisioning since the previous checkpoint (the measurements not included)."""
    step_created: int
    rate: float
    """Bulk CreateUser rate over the step, users/s (successful calls only)."""
    rate_end: float
    """The same over the last fifth of the step's successful calls: the rate the next step starts from."""
    prov_p50_ms: float | None
    prov_p90_ms: float | None
    errors: dict[str, int]
    """Failed bulk CreateUser calls of the step, by error code (SDK retries are off: every failure is here)."""
    measure_errors: dict[str, int]
    """Failed or wrong calls of the single-client measurements at this checkpoint, by code."""
    create_p50_ms: float | None
    create_p90_ms: float | None
    list_p50_ms: float | None
    list_p90_ms: float | None
    token_p50_ms: float | None
    token_p90_ms: float | None
    visible_p50_ms: float | None
    visible_max_ms: float | None
    visible_polls: float | None
    """Median GetUserId calls to node B until the new user was found."""
    rss_mb: dict[str, list[float]]
    """RSS of the processes of each node by role: ``a-serve``, ``a-worker`` (one per worker), ``a-helper``
    (multiprocessing's resource tracker), the same for ``b``."""
    worker_rss_mb: float | None
    worker_anon_mb: NotRequired[float | None]
    """The largest worker's private memory (``RssAnon``); older results lack it."""
    """Largest RSS of node A's worker processes."""
    store_mb: float | None
    cpu: dict[str, float]
    """Cores used during the step: ``server`` (both nodes), ``postgres``, ``client`` (this process), ``foreign``
    (the rest of the machine, other people's jobs) and ``busy`` (% of the machine)."""


class Series(TypedDict):
    store: str
    clients: int
    checkpoints: list[Checkpoint]
    stopped: str
    """Why provisioning stopped: the last checkpoint reached, or the budget (with the prediction), or errors."""
    wall_s: float


STORE_LABEL = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def label(store: str, clients: int) -> str:
    return f"{STORE_LABEL.get(store, store)}, {clients} client{'s' if clients != 1 else ''}"


# ---------------------------------------------------------------------------------------------------- schedule
def parse_ints(text: str) -> list[int]:
    """``"1,16"`` or ``"1000, 3k, 1e4"`` as integers (``k`` = thousand)."""
    out = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        if not part:
            continue
        scale = 1000 if part.endswith("k") else 1
        value = float(part.rstrip("k")) * scale
        if value != int(value) or value < 0:
            raise ValueError(f"not a non-negative integer: {part!r}")
        out.append(int(value))
    return out


def schedule(checkpoints: Iterable[int], max_users: int) -> list[int]:
    """The checkpoints to provision to: those up to ``max_users``, ascending and distinct, ending at
    ``max_users`` (added when it is not one of them)."""
    if max_users < 1:
        raise ValueError("--max-users must be at least 1")
    out = sorted({c for c in checkpoints if 0 < c <= max_users})
    if not out or out[-1] != max_users:
        out.append(max_users)
    return out


# ---------------------------------------------------------------------------------------------------- statistics
def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def ms(values: Sequence[float], q: float) -> float | None:
    """``percentile`` of durations in seconds, in milliseconds."""
    p = percentile(values, q)
    return None if p is None else p * 1000.0


# ---------------------------------------------------------------------------------------------------- rate model
@dataclass(frozen=True)
class RateModel:
    """Seconds per created user as a function of the store size, fitted to one provisioning step.

    Today's design rewrites the whole configuration on every CreateUser, so the cost per user grows with the
    users stored (at least linearly: provisioning N users costs O(N^2) or worse); a per-entity store's is flat.
    The model takes the mean seconds per user over the first and the last fifth of the step's successful calls,
    at the mean store size of each, and extrapolates them two ways: by a line (exact for ``a + b N``) and by a
    power law ``c (N / n)^p`` (exact for ``N^p``, e.g. a cost that grows faster than linearly), never falling
    (a falling cost is noise). ``seconds_to`` takes the larger of the two, so a step is predicted pessimistically;
    one that still runs out of its allowance stops short and is measured where it is."""

    at: float
    seconds_per_user: float
    slope: float
    exponent: float = 1.0

    def cost(self, n: float) -> float:
        line = self.seconds_per_user + self.slope * (n - self.at)
        power = self.seconds_per_user * float((max(n, 1.0) / self.at) ** self.exponent)
        return max(line, power, 1e-9)

    def rate(self, n: float) -> float:
        return 1.0 / self.cost(n)

    def seconds_to(self, start: int, target: int) -> float:
        """Predicted wall seconds to grow the store from ``start`` to ``target`` users (the cost integrated with
        the trapezoid rule over 64 intervals)."""
        if target <= start:
            return 0.0
        k = 64
        h = (target - start) / k
        inner = sum(self.cost(start + i * h) for i in range(1, k))
        return h * ((self.cost(start) + self.cost(target)) / 2.0 + inner)


def fit_rate(samples: Sequence[tuple[float, int]]) -> RateModel | None:
    """``samples``: (seconds since the step started, store size) at each successful CreateUser, in time order.
    None with fewer than 10 samples (no basis for a prediction)."""
    if len(samples) < 10:
        return None
    k = max(2, len(samples) // 5)
    first, last = samples[:k], samples[-k:]

    def window(w: Sequence[tuple[float, int]], t_before: float, n_before: int) -> tuple[float, float]:
        dt = w[-1][0] - t_before
        dn = w[-1][1] - n_before
        return max(dt, 1e-9) / max(dn, 1), (n_before + w[-1][1]) / 2.0

    c1, n1 = window(first, 0.0, first[0][1] - 1)
    c2, n2 = window(last, samples[-k - 1][0], samples[-k - 1][1])
    if n2 <= n1:
        return RateModel(at=max(n2, 1.0), seconds_per_user=c2, slope=0.0, exponent=0.0)
    slope = max(0.0, (c2 - c1) / (n2 - n1))
    exponent = max(0.0, math.log(c2 / c1) / math.log(n2 / n1)) if n1 > 0 else 0.0
    return RateModel(at=n2, seconds_per_user=c2, slope=slope, exponent=exponent)


def end_rate(samples: Sequence[tuple[float, int]]) -> float:
    """Users/s over the last fifth of the successful calls of a step (0 with fewer than 2)."""
    if len(samples) < 2:
        return 0.0
    k = max(2, len(samples) // 5)
    w = samples[-k:]
    dt = w[-1][0] - w[0][0]
    return (w[-1][1] - w[0][1]) / dt if dt > 0 else 0.0


@dataclass(frozen=True)
class Decision:
    go: bool
    allowance_s: float
    """How long the step may provision before it stops short (``partial``)."""
    predicted_s: float | None
    reason: str


def next_step(
    model: RateModel | None, users: int, target: int, step_budget: float, series_left: float
) -> Decision:
    """Whether to provision from ``users`` to ``target``: only if the predicted time fits the step budget and
    what is left of the series' share of the overall budget. Without a model (the first step), go, bounded by
    the same allowance."""
    allowance = min(step_budget, series_left)
    if allowance <= 0:
        return Decision(False, 0.0, None, "overall budget spent")
    if model is None:
        return Decision(True, allowance, None, "")
    predicted = model.seconds_to(users, target)
    if predicted > allowance:
        return Decision(
            False,
            allowance,
            predicted,
            f"budget: {target:,} users predicted in {predicted:,.0f} s > {allowance:,.0f} s allowed"
            f" (at {model.rate(users):,.1f} users/s now, {model.rate(target):,.1f}/s at {target:,})",
        )
    return Decision(True, allowance, predicted, "")


def series_share(total_left: float, series_left: int) -> float:
    """Each series not yet run gets an equal part of what is left of the overall budget."""
    return total_left / max(1, series_left)


# ---------------------------------------------------------------------------------------------------- tables
def fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def errors_text(errors: Mapping[str, int]) -> str:
    """``"0"`` or ``"12 (ConflictException 11, ReadTimeoutError 1)"``."""
    total = sum(errors.values())
    if not total:
        return "0"
    parts = ", ".join(f"{k} {v}" for k, v in sorted(errors.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"{total} ({parts})"


def markdown(series: Sequence[Series]) -> str:
    head = (
        "| store, clients | users | step s | bulk users/s (at end) | bulk errors | bulk p50 / p90 ms"
        " | CreateUser p50 / p90 ms | ListUsers p50 ms | CreateTokenWithIAM p50 ms | visible on node B p50 / max ms"
        " | worker RSS MB | store MB | measurement errors | foreign cores |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for s in series:
        for c in s["checkpoints"]:
            users = f"{c['users']:,}" + (f" (of {c['target']:,}, budget)" if c["partial"] else "")
            lines.append(
                f"| {label(s['store'], s['clients'])} | {users} | {c['step_s']:,.0f}"
                f" | {c['rate']:,.1f} ({c['rate_end']:,.1f}) | {errors_text(c['errors'])}"
                f" | {fmt(c['prov_p50_ms'])} / {fmt(c['prov_p90_ms'])}"
                f" | {fmt(c['create_p50_ms'])} / {fmt(c['create_p90_ms'])} | {fmt(c['list_p50_ms'])}"
                f" | {fmt(c['token_p50_ms'])} | {fmt(c['visible_p50_ms'])} / {fmt(c['visible_max_ms'])}"
                f" | {fmt(c['worker_rss_mb'], 0)} | {fmt(c['store_mb'], 0)} | {errors_text(c['measure_errors'])}"
                f" | {fmt(c['cpu'].get('foreign'), 2)} |"
            )
    return head + "\n".join(lines) + "\n"


def stops(series: Sequence[Series]) -> str:
    return "".join(
        f"- {label(s['store'], s['clients'])}: {s['stopped']} ({s['wall_s']:,.0f} s in all)\n" for s in series
    )


RATIO_METRICS = (
    ("create_p50_ms", "CreateUser p50"),
    ("list_p50_ms", "ListUsers p50"),
    ("token_p50_ms", "CreateTokenWithIAM p50"),
    ("visible_p50_ms", "visible on node B p50"),
    ("rate_end", "bulk users/s at end of step"),
    ("worker_rss_mb", "worker RSS"),
)


def ratio(a: Any, b: Any) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not a:
        return None
    return float(b) / float(a)


def ratios_markdown(series: Sequence[Series]) -> str:
    """How each metric moved between consecutive checkpoints of a series, next to how the store grew."""
    head = (
        "| store, clients | users | store grew x | "
        + " | ".join(name for _, name in RATIO_METRICS)
        + " |\n|"
        + "---|" * (3 + len(RATIO_METRICS))
        + "\n"
    )
    lines = []
    for s in series:
        cps = s["checkpoints"]
        for prev, cur in itertools.pairwise(cps):
            cells = []
            for key, _ in RATIO_METRICS:
                r = ratio(prev.get(key), cur.get(key))
                cells.append("-" if r is None else f"{r:.2f}x")
            lines.append(
                f"| {label(s['store'], s['clients'])} | {prev['users']:,} → {cur['users']:,}"
                f" | {cur['users'] / prev['users']:.2f}x | " + " | ".join(cells) + " |"
            )
    return head + "\n".join(lines) + "\n" if lines else ""


def targets_markdown(series: Sequence[Series]) -> str:
    """Issue 12's targets that this benchmark measures, against what it reached."""
    out = []
    for s in series:
        cps = s["checkpoints"]
        if not cps:
            continue
        name = label(s["store"], s["clients"])
        base = next((c for c in cps if c["target"] == 1000 and not c["partial"]), cps[0])
        top = cps[-1]
        reached = f"{top['users']:,} users" + (" (partial)" if top["partial"] else "")
        for key, what in (("create_p50_ms", "CreateUser"), ("token_p50_ms", "CreateTokenWithIAM")):
            r = ratio(base.get(key), top.get(key)) if top is not base else None
            out.append(
                f"| {name} | {what} at 100,000 within 1.5x of 1,000 | {reached}: "
                + ("-" if r is None else f"{r:.2f}x of {base['users']:,}")
                + f" | {'not reached' if top['users'] < 100000 else ('yes' if r is not None and r <= 1.5 else 'no')} |"
            )
        # the worker's own (private) memory when measured: VmRSS also counts the SQLite file pages its memory map
        # brought in, the kernel's shared page cache, which grows with the file whatever the worker holds
        key = "worker_anon_mb" if top.get("worker_anon_mb") is not None else "worker_rss_mb"
        what_mem = "worker private memory (RssAnon)" if key == "worker_anon_mb" else "worker RSS"
        m = ratio(1.0, top.get(key))
        b = base.get(key)
        if m is not None and isinstance(b, int | float) and top is not base:
            out.append(
                f"| {name} | {what_mem} at 100,000 within 50 MB of 1,000 | {reached}: {m - b:+,.0f} MB"
                f" | {'not reached' if top['users'] < 100000 else ('yes' if m - b <= 50 else 'no')} |"
            )
        if s["clients"] >= 16:
            rates = [c["rate"] for c in cps]
            errs = sum(sum(c["errors"].values()) for c in cps)
            out.append(
                f"| {name} | bulk ≥ 500 users/s with zero errors | {min(rates):,.1f} to {max(rates):,.1f} users/s,"
                f" {errs} errors | {'yes' if min(rates) >= 500 and errs == 0 else 'no'} |"
            )
    if not out:
        return ""
    return "| series | target | measured | met? |\n|---|---|---|---|\n" + "\n".join(out) + "\n"

"""Load benchmark of CreateTokenWithIAM with wrk: tokens/s, latency and CPU per token, for two grants.

* ``jwt-bearer``: each request carries a fresh RS256 assertion (unique ``jti``) from the demo issuer.
* ``refresh``: each request redeems one refresh token that was seeded into the store before the server started
  (``harness.seed_refresh_tokens``); rotation makes every token single-use, so each is sent exactly once.

Every measured run starts a fresh server on a fresh data dir (127.0.0.1 only, its own session and process group),
seeds it first for the refresh grant, checks one request end to end, signs the warm-up and measured request files
while the server is idle, runs a bounded wrk warm-up and then the bounded measured run (``wrk -d``), and stops the
server with ``killpg`` on the group it started. Runs of the different variants are interleaved (run 1 of every
variant, then run 2, ...), so slow drift of the machine hits all of them alike. Medians of ``--runs`` runs are
reported with min-max. Every response must be 2xx: a run with any non-2xx response is invalid.

    .venv/bin/python bench/run.py                       # both grants, uvicorn x2, JWT 1/16/64, refresh 1/16/32/64
    .venv/bin/python bench/run.py --grant refresh       # one grant only (jwt-bearer | refresh | both)
    .venv/bin/python bench/run.py --durability          # + synchronous=FULL at 64 connections
    .venv/bin/python bench/run.py --all                 # + granian vs uvicorn, + FULL (64 conns)
    .venv/bin/python bench/run.py --quick               # 1 run of 5 s each
    .venv/bin/python bench/run.py --compare-servers --durability --conns 64
    .venv/bin/python bench/run.py --grant jwt-bearer --skip-main --history d85818b,eedf62c  # older revisions
    .venv/bin/python bench/run.py --grant refresh --skip-main --history e5504d8 --history-grant refresh  # A/B
    .venv/bin/python bench/run.py --report bench/out/bench-<stamp>.json                     # a saved table again

Raw results go to bench/out/ (git-ignored) as JSON and Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import math
import multiprocessing
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import harness as h

HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk_requests.lua"
OUT = HERE / "out"
MARGIN = 1.3  # request file = rate estimate x duration x MARGIN
SIGV4_BUDGET_S = 240  # SigV4 signatures are accepted for 300 s; keep a margin


DEFAULT_CONNS = {"jwt-bearer": "1,16,64", "refresh": "1,16,32,64"}  # refresh at 32: the target of issue 3
# First guesses of tokens/s. They only size the request files (and the seeded refresh tokens), never the result.
DEFAULT_RATE = {"jwt-bearer": 2500.0, "refresh": 4000.0}


@dataclass(frozen=True)
class Variant:
    name: str
    grant: str  # jwt-bearer | refresh
    server: str  # uvicorn | granian
    synchronous: str  # NORMAL | FULL
    conns: int
    group: str  # which table it belongs to
    rev: str = ""  # another git revision's server code (--history); "" = this working tree


# ---------------------------------------------------------------------------------------------------- helpers
def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def wait_idle(max_wait: float, threshold_pct: float) -> float:
    """Wait until the machine is nearly idle (other people's jobs share it); returns the last busy %."""
    deadline = time.monotonic() + max_wait
    warned = False
    while True:
        b0, t0, _ = h.machine_ticks()
        time.sleep(1.0)
        b1, t1, _ = h.machine_ticks()
        busy = 100.0 * (b1 - b0) / max(1, t1 - t0)
        if busy <= threshold_pct or time.monotonic() > deadline:
            if busy > threshold_pct:
                log(
                    f"machine still {busy:.0f}% busy after waiting {max_wait:.0f}s; measuring anyway (flagged)"
                )
            return busy
        if not warned:
            log(f"machine {busy:.0f}% busy (other processes); waiting up to {max_wait:.0f}s for it to settle")
            warned = True


def run_wrk(url: str, path: Path, duration: int, conns: int, threads: int) -> dict[str, Any]:
    args = [
        "wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--timeout", "10s", "--latency",
        "-s", str(LUA), url, "--", str(path), str(threads),
    ]  # fmt: skip
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = t0 + duration + 60
    while True:  # wrk stops itself after -d; this is only a backstop for a hung wrk we started
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.05)
    assert p.stdout is not None
    text = p.stdout.read().decode(errors="replace")
    line = next((ln for ln in text.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk produced no WRKJSON line:\n{text}")
    r: dict[str, Any] = json.loads(line[len("WRKJSON ") :])
    r["wrk_exit"] = os.waitstatus_to_exitcode(status)
    r["wrk_cpu_s"] = ru.ru_utime + ru.ru_stime
    r["wrk_wall_s"] = time.monotonic() - t0
    return r


def smoke(server: h.Server, pool: Any, spec: h.SignSpec, refresh_token: str | None = None) -> None:
    """One signed request end to end: the configuration, the JWKS fetch and SigV4 work before we measure."""
    headers, body = pool.apply(h.one_signed_request, (spec, refresh_token))
    req = urllib.request.Request(
        f"{server.url}/token?aws_iam=t",
        data=body,
        method="POST",
        headers={k: v for k, v in headers if k.lower() not in ("host", "content-length")},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            doc = json.loads(r.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"smoke request failed: {exc.code} {exc.read()[:500]!r}") from None
    if not doc.get("accessToken") or not doc.get("idToken") or not doc.get("refreshToken"):
        raise RuntimeError(f"smoke request: unexpected response {doc}")


# ---------------------------------------------------------------------------------------------------- one run
class Bench:
    def __init__(self, args: argparse.Namespace, pool: Any, sources: dict[str, Path]) -> None:
        self.args = args
        self.pool = pool
        self.sources = sources  # revision -> exported ssoidc/ tree (--history)
        self.estimates: dict[str, float] = {}  # best measured rate per variant
        self.bumped: dict[str, float] = {}  # file size after a run that ran out

    def estimate(self, v: Variant) -> float:
        """Rate that sizes the files: the first guess or the best rate of this grant seen in this sitting, if
        higher. Runs of one variant vary by up to ±25% on this machine, so its own last rate x MARGIN can run out
        (and a run that runs out must be repeated); over-sizing costs only signing (and seeding) time."""
        seen = [r for k, r in self.estimates.items() if k.startswith(v.grant + "/")]
        given = self.args.rate_estimate if v.grant == "jwt-bearer" else self.args.refresh_rate_estimate
        return max([float(given or DEFAULT_RATE[v.grant]), *seen, self.bumped.get(self.key(v), 0.0)])

    @staticmethod
    def key(v: Variant) -> str:
        return f"{v.grant}/{v.rev}/{v.server}/{v.synchronous}/{v.conns}"

    def measure(self, v: Variant) -> dict[str, Any]:
        a = self.args
        for attempt in range(4):
            r = self._measure_once(v, self.estimate(v))
            key = self.key(v)
            if r["exhausted"]:
                self.bumped[key] = self.estimate(v) * 2
                log(
                    f"  request file ran out (invalid run); repeating with a file sized for {self.bumped[key]:.0f}/s"
                )
                continue
            self.estimates[key] = max(self.estimates.get(key, 0.0), r["rps"])
            if r["foreign_cpu_pct"] > a.foreign_max and attempt < 2:
                log(
                    f"  other processes used {r['foreign_cpu_pct']:.0f}% of a core during the run; repeating it"
                )
                continue
            return r
        return r

    def _serve(
        self, v: Variant, server: h.Server, workdir: Path, n_warm: int, n_meas: int
    ) -> tuple[Any, ...]:
        """Seed (refresh), start, smoke-test, sign, warm up and measure; the caller stops the server."""
        a = self.args
        refresh = v.grant == "refresh"
        source = h.source_fingerprint(server.src, v.rev)
        smoke_token: str | None = None
        warm_tokens: list[str] = []
        meas_tokens: list[str] = []
        seed_s = 0.0
        if refresh:  # into the store before the server starts: 1 smoke + warm-up + measured, each used once
            server.prepare()
            t_seed = time.monotonic()
            pad = max(0, a.refresh_seed_min - (1 + n_warm + n_meas))
            (smoke_token,), warm_tokens, meas_tokens, _ = h.seed_refresh_tokens(
                server.settings(), [1, n_warm, n_meas, pad]
            )
            seed_s = time.monotonic() - t_seed
        t_start = time.monotonic()
        server.start()
        startup_s = time.monotonic() - t_start
        if refresh:
            spec = h.SignSpec(server.port)
        else:
            kid, pem = h.read_demo_issuer_key(server.data_dir)
            spec = h.SignSpec(server.port, kid, pem)
        smoke(server, self.pool, spec, smoke_token)
        warm_file, meas_file = workdir / "warmup.req", workdir / "measured.req"
        t_sign = time.monotonic()
        if refresh:
            sign_s = h.write_refresh_file(self.pool, spec, meas_file, meas_tokens)
            if n_warm:
                sign_s += h.write_refresh_file(self.pool, spec, warm_file, warm_tokens)
            del warm_tokens, meas_tokens
        else:
            sign_s = h.write_request_file(self.pool, spec, meas_file, n_meas)
            if n_warm:
                sign_s += h.write_request_file(self.pool, spec, warm_file, n_warm)
        warm: dict[str, Any] | None = None
        if n_warm:
            warm = run_wrk(server.url, warm_file, a.warmup, v.conns, a.threads)
        age = time.monotonic() - t_sign
        if age + a.duration > SIGV4_BUDGET_S:
            raise RuntimeError(f"signatures would be {age + a.duration:.0f}s old by the end of the run")
        cpu0, sys0 = h.group_cpu_s(server.pgid), h.group_cpu_s(server.pgid, system_only=True)
        m0 = h.machine_ticks()
        r = run_wrk(server.url, meas_file, a.duration, v.conns, a.threads)
        m1 = h.machine_ticks()
        cpu1, sys1 = h.group_cpu_s(server.pgid), h.group_cpu_s(server.pgid, system_only=True)
        nprocs = len(server.worker_pids())
        return r, warm, m0, m1, cpu0, cpu1, sys0, sys1, nprocs, source, startup_s, sign_s, seed_s

    def _measure_once(self, v: Variant, rate: float) -> dict[str, Any]:
        a = self.args
        busy_before = wait_idle(a.idle_wait, a.idle_threshold)
        workdir = h.scratch_dir(f"ssoidc-bench-{v.server}-")
        server = h.Server(
            v.server, h.free_port(), workdir, a.workers, v.synchronous, src=self.sources.get(v.rev)
        )
        refresh = v.grant == "refresh"
        n_warm = max(200, math.ceil(rate * a.warmup * MARGIN)) if a.warmup > 0 else 0
        n_meas = max(500, math.ceil(rate * a.duration * MARGIN))
        try:
            try:
                r, warm, m0, m1, cpu0, cpu1, sys0, sys1, nprocs, source, startup_s, sign_s, seed_s = (
                    self._serve(v, server, workdir, n_warm, n_meas)
                )
            finally:
                server.stop()
            # What the store says, read after the server stopped: every 2xx must be one redemption, and no more
            # redemptions than requests sent. JWT bearer: one used_jtis row per token. Refresh: one retired refresh
            # token per token, and no revoked family (a revocation would mean a token was presented twice).
            if refresh:
                redeemed = h.count_rows(
                    server.data_dir, "tokens", "kind = 'refresh' AND retired_at IS NOT NULL"
                )
                revoked = h.count_rows(server.data_dir, "revoked_families")
            else:
                redeemed = h.count_rows(server.data_dir, "used_jtis")
                revoked = 0
            tokens = h.count_rows(server.data_dir, "tokens")
        finally:
            if not a.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        busy_ticks, total_ticks, steal_ticks = (m1[i] - m0[i] for i in range(3))
        window_s = total_ticks / h.CLK / (os.cpu_count() or 1)
        busy_s = busy_ticks / h.CLK
        server_cpu_s = cpu1 - cpu0
        foreign_s = max(0.0, busy_s - server_cpu_s - r["wrk_cpu_s"])
        done = max(1, r["requests"])
        ok_before = 1 + (warm["ok"] if warm else 0)
        r.update(
            variant=asdict(v),
            source=source,
            rate_estimate=rate,
            n_warmup=n_warm,
            n_measured=n_meas,
            seeded=max(a.refresh_seed_min, 1 + n_warm + n_meas) if refresh else 0,
            seed_s=round(seed_s, 2),
            sign_s=round(sign_s, 2),
            startup_s=round(startup_s, 2),
            server_processes=nprocs,
            server_cpu_s=server_cpu_s,
            server_cpu_us_per_token=1e6 * server_cpu_s / done,
            server_sys_us_per_token=1e6 * (sys1 - sys0) / done,
            server_cores=server_cpu_s / r["duration_s"],
            wrk_cpu_pct=100.0 * r["wrk_cpu_s"] / r["wrk_wall_s"],
            machine_busy_pct=100.0 * busy_ticks / max(1, total_ticks),
            steal_pct=100.0 * steal_ticks / max(1, total_ticks),
            foreign_cpu_pct=100.0 * foreign_s / max(window_s, 1e-9),
            busy_before_pct=busy_before,
            warmup=warm,
            redeemed=redeemed,
            revoked_families=revoked,
            token_rows=tokens,
            stored_check=ok_before + r["ok"] <= redeemed <= 1 + (warm["sent"] if warm else 0) + r["sent"]
            and revoked == 0,
        )
        r["valid"] = (
            r["wrk_exit"] == 0
            and not r["exhausted"]
            and r["non2xx"] == 0
            and all(n == 0 for n in r["errors"].values())
            and r["stored_check"]
            and (warm is None or warm["non2xx"] == 0)
        )
        log(
            f"  {v.name:<32} {r['rps']:8.1f} tokens/s  p50 {r['lat_ms']['p50']:7.2f} ms  p99 {r['lat_ms']['p99']:7.2f}"
            f" ms  server {r['server_cpu_us_per_token']:6.0f} µs/token ({r['server_cores']:.2f} cores)"
            f" kernel {r['server_sys_us_per_token']:4.0f}  wrk {r['wrk_cpu_pct']:4.1f}%  busy {r['machine_busy_pct']:3.0f}%  foreign {r['foreign_cpu_pct']:3.0f}%"
            f"  non2xx {r['non2xx']}  {'ok' if r['valid'] else 'INVALID ' + r['first_bad'][:200]}"
            + (
                f"  (seeded {max(a.refresh_seed_min, 1 + n_warm + n_meas)} in {seed_s:.1f}s)"
                if refresh
                else ""
            )
        )
        return r


# ---------------------------------------------------------------------------------------------------- report
def machine_info() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    pkgs = {}
    for name in ("uvicorn", "granian", "uvloop", "httptools", "starlette", "botocore", "PyJWT", "cryptography",
                 "orjson", "pydantic", "pyinstrument"):  # fmt: skip
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            pkgs[name] = importlib.metadata.version(name)
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    mem = ""
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        mem = f.readline().split(":", 1)[1].strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "mem_total": mem,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": pkgs,
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "?",
        "loadavg_at_start": open("/proc/loadavg").read().split()[:3],
    }


def summarize(runs: list[dict[str, Any]], foreign_max: float = 10.0) -> dict[str, Any]:
    """Medians over the valid runs. A run during which other processes used more than ``foreign_max`` % of a core
    (kept after two repeats) is left out too, unless that leaves nothing; the table counts it as noisy."""
    valid = [r for r in runs if r["valid"]]
    quiet = [r for r in valid if r["foreign_cpu_pct"] <= foreign_max]
    ok = quiet or valid or runs

    def med(f: Any) -> float:
        return float(statistics.median(f(r) for r in ok))

    rps = [r["rps"] for r in ok]
    return {
        "n": len(ok),
        "n_invalid": len(runs) - len(valid),
        "n_noisy": len(valid) - len(quiet) if quiet else 0,
        "rps": med(lambda r: r["rps"]),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50": med(lambda r: r["lat_ms"]["p50"]),
        "p99": med(lambda r: r["lat_ms"]["p99"]),
        "cpu_us": med(lambda r: r["server_cpu_us_per_token"]),
        "sys_us": med(lambda r: r.get("server_sys_us_per_token", 0.0)),
        "server_cores": med(lambda r: r["server_cores"]),
        "wrk_cpu": med(lambda r: r["wrk_cpu_pct"]),
        "busy": med(lambda r: r["machine_busy_pct"]),
        "foreign": med(lambda r: r["foreign_cpu_pct"]),
        "non2xx": sum(r["non2xx"] + (r["warmup"]["non2xx"] if r.get("warmup") else 0) for r in runs),
    }


def markdown(
    variants: list[Variant], results: dict[str, list[dict[str, Any]]], args: argparse.Namespace
) -> str:
    head = (
        "| grant | scenario | server | SQLite synchronous | conns | tokens/s | p50 ms | p99 ms"
        " | server CPU µs/token (kernel) | server cores | wrk CPU | machine busy | foreign CPU | non-2xx | runs |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for v in variants:
        s = summarize(results[v.name], args.foreign_max)
        spread = f" ({s['rps_min']:,.0f}-{s['rps_max']:,.0f})" if s["n"] > 1 else ""
        inval = f", {s['n_invalid']} invalid" if s["n_invalid"] else ""
        inval += f", {s['n_noisy']} noisy left out" if s["n_noisy"] else ""
        lines.append(
            f"| {v.grant} | {v.group}{' ' + v.rev if v.rev else ''} | {v.server} x{args.workers} | {v.synchronous} | {v.conns} | **{s['rps']:,.0f}**{spread}"
            f" | {s['p50']:.2f} | {s['p99']:.2f} | {s['cpu_us']:,.0f} ({s['sys_us']:,.0f}) | {s['server_cores']:.2f}"
            f" | {s['wrk_cpu']:.0f}% | {s['busy']:.0f}% | {s['foreign']:.0f}% | {s['non2xx']} | {s['n']}{inval} |"
        )
    return head + "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------- main
def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--grant",
        default="both",
        choices=["jwt-bearer", "refresh", "both"],
        help="grant(s) to load (default both)",
    )
    p.add_argument("--conns", default="", help="connection counts for the main table (default: JWT bearer"
                   " 1,16,64; refresh 1,16,32,64)")  # fmt: skip
    p.add_argument("--duration", type=int, default=10, help="measured seconds per run (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="warm-up seconds per run (default 3)")
    p.add_argument("--runs", type=int, default=3, help="runs per variant; the median is reported (default 3)")
    p.add_argument("--quick", action="store_true", help="1 run of 5 s per variant")
    p.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    p.add_argument("--compare-servers", action="store_true", help="also granian at 64 connections")
    p.add_argument(
        "--durability", action="store_true", help="also SSOIDC_SQLITE_SYNCHRONOUS=FULL at 64 conns"
    )
    p.add_argument("--all", action="store_true", help="--compare-servers and --durability")
    p.add_argument("--skip-main", action="store_true", help="only the comparison variants")
    p.add_argument("--rate-estimate", type=float, default=0, help="first guess of JWT-bearer tokens/s, sizes the"
                   f" request files (default {DEFAULT_RATE['jwt-bearer']:.0f})")  # fmt: skip
    p.add_argument("--refresh-rate-estimate", type=float, default=0, help="first guess of refresh tokens/s, sizes"
                   f" the seeded tokens and files (default {DEFAULT_RATE['refresh']:.0f})")  # fmt: skip
    p.add_argument(
        "--idle-wait", type=float, default=300, help="max seconds to wait for an idle machine per run"
    )
    p.add_argument(
        "--idle-threshold", type=float, default=10, help="machine busy %% counted as idle (default 10)"
    )
    p.add_argument("--foreign-max", type=float, default=10, help="repeat a run if other processes used more than"
                   " this %% of one core during it (default 10)")  # fmt: skip
    p.add_argument("--refresh-seed-min", type=int, default=50000, help="seed at least this many refresh tokens per"
                   " run (the unused ones pad the table to the same size in every run; default 50000)")  # fmt: skip
    p.add_argument("--history", default="", help="comma-separated git revisions: also --history-grant at 64"
                   " connections served by each revision's ssoidc/ (exported with git archive to a temp dir),"
                   " interleaved with this working tree's")  # fmt: skip
    p.add_argument("--history-grant", default="jwt-bearer", choices=["jwt-bearer", "refresh"],
                   help="grant of the --history rows (default jwt-bearer; refresh seeds with this tree's code, so"
                   " only for revisions with the same token rows)")  # fmt: skip
    p.add_argument("--keep", action="store_true", help="keep the temporary data dirs and request files")
    p.add_argument(
        "--report", default="", help="only print the table of a saved bench/out/bench-*.json again"
    )
    a = p.parse_args()
    if a.report:
        return report(Path(a.report), a)
    if a.quick:
        a.runs, a.duration = 1, 5
    if a.all:
        a.compare_servers = a.durability = True
    if shutil.which("wrk") is None:
        print("wrk is not installed (make system-deps)", file=sys.stderr)
        return 2

    grants = ["jwt-bearer", "refresh"] if a.grant == "both" else [a.grant]
    variants: list[Variant] = []
    cmp_c = 64
    for g in grants:
        short = "jwt" if g == "jwt-bearer" else "refresh"
        conns = [int(c) for c in (a.conns or DEFAULT_CONNS[g]).split(",") if c]
        if not a.skip_main:
            variants += [
                Variant(f"{short}-uvicorn-NORMAL-c{c}", g, "uvicorn", "NORMAL", c, "connections")
                for c in conns
            ]
        if (a.compare_servers or a.durability) and not any(
            v.name == f"{short}-uvicorn-NORMAL-c{cmp_c}" for v in variants
        ):
            variants.append(
                Variant(f"{short}-uvicorn-NORMAL-c{cmp_c}", g, "uvicorn", "NORMAL", cmp_c, "baseline")
            )
        if a.compare_servers:
            variants.append(
                Variant(f"{short}-granian-NORMAL-c{cmp_c}", g, "granian", "NORMAL", cmp_c, "server")
            )
        if a.durability:
            variants.append(
                Variant(f"{short}-uvicorn-FULL-c{cmp_c}", g, "uvicorn", "FULL", cmp_c, "durability")
            )

    history = [r for r in a.history.split(",") if r]
    sources: dict[str, Path] = {}
    src_root = h.scratch_dir("ssoidc-bench-revs-")
    for rev in history:
        short, path = h.export_revision(rev, src_root)
        sources[short] = path
    if history:
        # Refresh tokens are seeded by this tree's code: only for revisions whose token rows have the same columns.
        g = a.history_grant
        name = "jwt" if g == "jwt-bearer" else "refresh"
        for short in sources:
            variants.append(
                Variant(f"{name}-{short}-c{cmp_c}", g, "uvicorn", "NORMAL", cmp_c, "history", short)
            )
        if not any(v.name == f"{name}-uvicorn-NORMAL-c{cmp_c}" for v in variants):
            variants.append(
                Variant(f"{name}-uvicorn-NORMAL-c{cmp_c}", g, "uvicorn", "NORMAL", cmp_c, "baseline")
            )

    OUT.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    meta = {
        "date": stamp,
        "argv": sys.argv,
        "args": vars(a),
        **machine_info(),
        "source": h.source_fingerprint(),
    }
    log(f"{meta['nproc']} CPUs ({meta['cpu_model']}), Python {meta['python']}, SQLite {meta['sqlite']}; "
        f"{len(variants)} variants x {a.runs} runs, {a.warmup}s warm-up + {a.duration}s measured")  # fmt: skip
    results: dict[str, list[dict[str, Any]]] = {v.name: [] for v in variants}
    # Signing processes are children of this script, not of the server's group, and only work while it is idle.
    try:
        with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool:
            bench = Bench(a, pool, sources)
            for i in range(a.runs):
                log(f"run {i + 1}/{a.runs}")
                for v in variants:
                    results[v.name].append(bench.measure(v))
                    _save(OUT / f"bench-{stamp}.json", meta, results)
    finally:
        shutil.rmtree(src_root, ignore_errors=True)
    table = markdown(variants, results, a)
    hashes = {r["source"]["sources_sha256"] for v in variants if not v.rev for r in results[v.name]}
    if len(hashes) > 1:
        table += (
            f"\nWARNING: the server sources changed during the benchmark ({len(hashes)} versions measured);"
            " see source in the JSON.\n"
        )
    head = meta["source"]
    table += f"\nserver code: git {head['head']}{' + uncommitted changes' if head['dirty'] else ''}"
    table += f" (sources {head['sources_sha256']})"
    table += f"; history rows: the ssoidc/ of git {', '.join(sources)}\n" if sources else "\n"
    summary = {v.name: summarize(results[v.name], a.foreign_max) for v in variants}
    _save(OUT / f"bench-{stamp}.json", meta, results, summary)
    (OUT / f"bench-{stamp}.md").write_text(table)
    print()
    print(table)
    print(f"raw results: {OUT / f'bench-{stamp}.json'}")
    return 0 if all(r["valid"] for rs in results.values() for r in rs) else 1


def report(path: Path, a: argparse.Namespace) -> int:
    doc = json.loads(path.read_text())
    results: dict[str, list[dict[str, Any]]] = doc["results"]
    variants = [Variant(**rs[0]["variant"]) for rs in results.values() if rs]
    a.workers = doc["meta"]["args"]["workers"]
    print(markdown(variants, results, a), end="")
    src = doc["meta"]["source"]
    print(f"\nserver code: git {src['head']}{' + uncommitted changes' if src['dirty'] else ''}"
          f" (sources {src['sources_sha256']}); measured {doc['meta']['date']}")  # fmt: skip
    return 0


def _save(path: Path, meta: dict[str, Any], results: Any, summary: Any = None) -> None:
    doc = {"meta": meta, "results": results}
    if summary is not None:
        doc["summary"] = summary
    path.write_text(json.dumps(doc, indent=1, default=str))


if __name__ == "__main__":
    sys.exit(main())

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

    .venv/bin/python bench/run.py                       # both grants, uvicorn x2, JWT 1/16/64, refresh 1/16/32/64,
                                                        # + refresh on PostgreSQL at 32 conns on 1 and 2 nodes
    .venv/bin/python bench/run.py --grant refresh       # one grant only (jwt-bearer | refresh | both)
    .venv/bin/python bench/run.py --durability          # + synchronous=FULL at 64 connections
    .venv/bin/python bench/run.py --all                 # + granian vs uvicorn, + FULL (64 conns)
    .venv/bin/python bench/run.py --quick               # 1 run of 5 s each
    .venv/bin/python bench/run.py --compare-servers --durability --conns 64
    .venv/bin/python bench/run.py --grant jwt-bearer --skip-main --history d85818b,eedf62c  # older revisions
    .venv/bin/python bench/run.py --grant refresh --skip-main --history e5504d8 --history-grant refresh  # A/B
    .venv/bin/python bench/run.py --report bench/out/bench-<stamp>.json                     # a saved table again
    .venv/bin/python bench/run.py --grant refresh --skip-main --postgres    # only PostgreSQL: 1 and 2 nodes at 32
                                                        # conns, next to SQLite (SSOIDC_BENCH_PG_URL or --pg-url)
    .venv/bin/python bench/run.py --no-postgres         # SQLite only
    .venv/bin/python bench/run.py --grant refresh --skip-main --postgres --pg-sync on,off --pg-conns 32,64

Raw results go to bench/out/ (git-ignored) as JSON and Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import functools
import importlib.metadata
import json
import math
import multiprocessing
import os
import platform
import secrets
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
import pgstats

from tests.helpers.pg import drop_schema, pg_run  # pgstats (imported first) puts the checkout on sys.path

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
    store: str = "sqlite"  # sqlite | postgres
    # servers on one PostgreSQL schema, each with --workers workers; conns are split between them
    nodes: int = 1
    pg_sync: str = ""  # PostgreSQL synchronous_commit of the servers' sessions (postgres only)
    # CHECKPOINT after seeding: each page's first change in the run writes a full-page image to the WAL
    pg_checkpoint: bool = False
    pg_pool: int = 10  # pool_max_size of each server process's PostgreSQL pool
    settings: tuple[tuple[str, str], ...] = ()  # SSOIDC_* of this variant's servers only (--ab-set)


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


def wrk_args(url: str, path: Path, duration: int, conns: int, threads: int) -> list[str]:
    return [
        "wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--timeout", "10s", "--latency",
        "-s", str(LUA), url, "--", str(path), str(threads),
    ]  # fmt: skip


def run_wrk(url: str, path: Path, duration: int, conns: int, threads: int) -> dict[str, Any]:
    return run_wrks([(url, path, conns)], duration, threads)


def run_wrks(targets: list[tuple[str, Path, int]], duration: int, threads: int) -> dict[str, Any]:
    """One wrk per ``(url, request file, connections)`` (one per node), all started together.

    With several targets the results are merged: counts, rates and wrk CPU are summed; p50 and mean are the
    request-weighted means of the nodes' and p90/p99/max the worst node's (wrk gives percentiles, not its
    histogram); ``per_node`` keeps each wrk's own result."""
    t0 = time.monotonic()
    procs = [
        subprocess.Popen(
            wrk_args(url, path, duration, conns, threads), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for url, path, conns in targets
    ]
    deadline = t0 + duration + 60
    done: dict[int, tuple[int, Any, float]] = {}
    while len(done) < len(procs):  # wrk stops itself after -d; the deadline is only a backstop for a hung wrk
        for proc in procs:
            if proc.pid in done:
                continue
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, ru = os.wait4(proc.pid, 0)
            else:
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                done[proc.pid] = (status, ru, time.monotonic() - t0)
        time.sleep(0.05)
    results = []
    for proc in procs:
        status, ru, wall = done[proc.pid]
        assert proc.stdout is not None
        text = proc.stdout.read().decode(errors="replace")
        line = next((ln for ln in text.splitlines() if ln.startswith("WRKJSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk produced no WRKJSON line:\n{text}")
        r: dict[str, Any] = json.loads(line[len("WRKJSON ") :])
        r["wrk_exit"] = os.waitstatus_to_exitcode(status)
        r["wrk_cpu_s"] = ru.ru_utime + ru.ru_stime
        r["wrk_wall_s"] = wall
        results.append(r)
    if len(results) == 1:
        return results[0]
    n: int = max(1, sum(r["requests"] for r in results))

    def weighted(k: str) -> float:
        total: float = sum(r["lat_ms"][k] * r["requests"] for r in results)
        return total / n

    return {
        "requests": sum(r["requests"] for r in results),
        "duration_s": max(r["duration_s"] for r in results),
        "rps": sum(r["rps"] for r in results),
        "ok": sum(r["ok"] for r in results),
        "sent": sum(r["sent"] for r in results),
        "non2xx": sum(r["non2xx"] for r in results),
        "exhausted": any(r["exhausted"] for r in results),
        "lat_ms": {
            "p50": weighted("p50"),
            "mean": weighted("mean"),
            **{k: max(r["lat_ms"][k] for r in results) for k in ("p90", "p99", "max")},
        },
        "errors": {k: sum(r["errors"][k] for r in results) for k in results[0]["errors"]},
        "threads": sum(r["threads"] for r in results),
        "first_bad": next((r["first_bad"] for r in results if r["first_bad"]), ""),
        "wrk_exit": next((r["wrk_exit"] for r in results if r["wrk_exit"]), 0),
        "wrk_cpu_s": sum(r["wrk_cpu_s"] for r in results),
        "wrk_wall_s": max(r["wrk_wall_s"] for r in results),
        "per_node": results,
    }


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
        return f"{v.grant}/{v.rev}/{v.server}/{v.synchronous}/{v.conns}/{v.store}/{v.nodes}/{v.pg_sync}/{v.pg_checkpoint}/{v.pg_pool}"

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

    def servers(self, v: Variant, workdir: Path) -> tuple[list[h.Server], str, str]:
        """The server(s) of one run and, for PostgreSQL, the run's schema and its URL (a fresh schema per run)."""
        a = self.args
        src = self.sources.get(v.rev)
        if v.store != "postgres":
            server = h.Server(v.server, h.free_port(), workdir, a.workers, v.synchronous, src=src, users=a.users,
                              extra_env=v.settings)  # fmt: skip
            return [server], "", ""
        schema = f"ssoidc_bench_{os.getpid()}_{secrets.token_hex(4)}"
        url = pgstats.pg_url(a.pg_url, schema, pool_max_size=str(v.pg_pool), synchronous_commit=v.pg_sync)
        ports: list[int] = []
        while len(set(ports)) < v.nodes:
            ports = [h.free_port() for _ in range(v.nodes)]
        first = f"http://127.0.0.1:{ports[0]}"
        servers = [
            h.Server(
                v.server,
                port,
                workdir / f"node{i}",
                a.workers,
                v.synchronous,
                src=src,
                database_url=url,
                config_base_url=first,
                users=a.users,
                extra_env=v.settings,
            )
            for i, port in enumerate(ports)
        ]
        return servers, schema, url

    def _serve(
        self,
        v: Variant,
        servers: list[h.Server],
        workdir: Path,
        n_warm: int,
        n_meas: int,
        pg: tuple[str, str],
    ) -> dict[str, Any]:
        """Seed (refresh), start, smoke-test, sign, warm up and measure; the caller stops the servers.

        Several servers (nodes on one PostgreSQL schema) each get their own tokens, request files (signed for
        their own host:port) and wrk, with ``v.conns`` split evenly between them."""
        a = self.args
        refresh = v.grant == "refresh"
        nodes = len(servers)
        conns = [v.conns // nodes + (1 if i < v.conns % nodes else 0) for i in range(nodes)]
        out: dict[str, Any] = {"source": h.source_fingerprint(servers[0].src, v.rev), "seed_s": 0.0}
        smoke_tokens: list[str | None] = [None] * nodes
        warm_tokens: list[list[str]] = [[] for _ in servers]
        meas_tokens: list[list[str]] = [[] for _ in servers]
        if (
            refresh
        ):  # into the store before the servers start: 1 smoke + warm-up + measured per node, each used once
            for server in servers:
                server.prepare()
            t_seed = time.monotonic()
            pad = max(0, a.refresh_seed_min - nodes * (1 + n_warm + n_meas))
            lists = h.seed_refresh_tokens(
                servers[0].settings(), [1, n_warm, n_meas] * nodes + [pad], src=servers[0].src
            )
            for i in range(nodes):
                smoke_tokens[i] = lists[3 * i][0]
                warm_tokens[i], meas_tokens[i] = lists[3 * i + 1], lists[3 * i + 2]
            del lists
            out["seed_s"] = time.monotonic() - t_seed
        schema, url = pg
        if url and v.pg_checkpoint:  # as on a server whose last checkpoint is newer than most pages' changes
            pg_run(url, lambda conn: conn.execute("CHECKPOINT"))
        if url:  # after seeding (its connections closed, so their counters are in), before any server runs
            out["pg_before"] = pgstats.pg_stats(url, schema)
        t_start = time.monotonic()
        for server in servers:
            server.start()
        out["startup_s"] = time.monotonic() - t_start
        specs = []
        for i, server in enumerate(servers):
            if refresh:
                spec = h.SignSpec(server.port)
            else:
                kid, pem = h.read_demo_issuer_key(server.data_dir)
                spec = h.SignSpec(server.port, kid, pem, users=self.args.users)
            specs.append(spec)
            smoke(server, self.pool, spec, smoke_tokens[i])
        warm_files = [workdir / f"warmup-{i}.req" for i in range(nodes)]
        meas_files = [workdir / f"measured-{i}.req" for i in range(nodes)]
        t_sign = time.monotonic()
        sign_s = 0.0
        for i, spec in enumerate(specs):
            if refresh:
                sign_s += h.write_refresh_file(self.pool, spec, meas_files[i], meas_tokens[i])
                if n_warm:
                    sign_s += h.write_refresh_file(self.pool, spec, warm_files[i], warm_tokens[i])
            else:
                sign_s += h.write_request_file(self.pool, spec, meas_files[i], n_meas)
                if n_warm:
                    sign_s += h.write_request_file(self.pool, spec, warm_files[i], n_warm)
        del warm_tokens, meas_tokens
        out["sign_s"] = sign_s
        out["warm"] = None
        if n_warm:
            out["warm"] = run_wrks(
                [(s.url, f, c) for s, f, c in zip(servers, warm_files, conns, strict=True)],
                a.warmup,
                a.threads,
            )
        age = time.monotonic() - t_sign
        if age + a.duration > SIGV4_BUDGET_S:
            raise RuntimeError(f"signatures would be {age + a.duration:.0f}s old by the end of the run")
        pgids = [s.pgid for s in servers]
        postmaster = int(out["pg_before"]["postmaster_pid"]) if url else 0
        cpu0 = sum(h.group_cpu_s(g) for g in pgids)
        sys0 = sum(h.group_cpu_s(g, system_only=True) for g in pgids)
        pg0 = h.postgres_cpu_s(postmaster) if postmaster else 0.0
        m0 = h.machine_ticks()
        out["r"] = run_wrks(
            [(s.url, f, c) for s, f, c in zip(servers, meas_files, conns, strict=True)], a.duration, a.threads
        )
        m1 = h.machine_ticks()
        out["server_cpu_s"] = sum(h.group_cpu_s(g) for g in pgids) - cpu0
        out["server_sys_s"] = sum(h.group_cpu_s(g, system_only=True) for g in pgids) - sys0
        out["pg_cpu_s"] = (h.postgres_cpu_s(postmaster) - pg0) if postmaster else 0.0
        out["m0"], out["m1"] = m0, m1
        out["nprocs"] = sum(len(s.worker_pids()) for s in servers)
        return out

    def _measure_once(self, v: Variant, rate: float) -> dict[str, Any]:
        a = self.args
        busy_before = wait_idle(a.idle_wait, a.idle_threshold)
        workdir = h.scratch_dir(f"ssoidc-bench-{v.server}-")
        servers, schema, url = self.servers(v, workdir)
        nodes = len(servers)
        refresh = v.grant == "refresh"
        # Each node's share of the rate; with several nodes, room for one to take up to 1.5x its share.
        per_node = rate / nodes * (1.5 if nodes > 1 else 1.0)
        n_warm = max(200, math.ceil(per_node * a.warmup * MARGIN)) if a.warmup > 0 else 0
        n_meas = max(500, math.ceil(per_node * a.duration * MARGIN))
        pg_after: dict[str, float] = {}
        try:
            try:
                o = self._serve(v, servers, workdir, n_warm, n_meas, (schema, url))
            finally:
                for server in servers:
                    server.stop()
            # What the store says, read after the servers stopped: every 2xx must be one redemption, and no more
            # redemptions than requests sent. JWT bearer: one used_jtis row per token. Refresh: one retired refresh
            # token per token, and no revoked family (a revocation would mean a token was presented twice).
            if url:
                # the servers' backends exited: their counters are in
                pg_after = pgstats.pg_stats(url, schema)
                count = functools.partial(pgstats.pg_count, url)
            else:
                count = functools.partial(h.count_rows, servers[0].data_dir)
            if refresh:
                redeemed = count("tokens", "kind = 'refresh' AND retired_at IS NOT NULL")
                revoked = count("revoked_families")
            else:
                redeemed = count("used_jtis")
                revoked = 0
            tokens = count("tokens")
        finally:
            if url and not a.keep:
                drop_schema(url, schema)
            if not a.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        r: dict[str, Any] = o["r"]
        warm, m0, m1 = o["warm"], o["m0"], o["m1"]
        busy_ticks, total_ticks, steal_ticks = (m1[i] - m0[i] for i in range(3))
        window_s = total_ticks / h.CLK / (os.cpu_count() or 1)
        busy_s = busy_ticks / h.CLK
        server_cpu_s = o["server_cpu_s"]
        foreign_s = max(0.0, busy_s - server_cpu_s - o["pg_cpu_s"] - r["wrk_cpu_s"])
        done = max(1, r["requests"])
        ok_before = nodes + (warm["ok"] if warm else 0)
        sent_before = nodes + (warm["sent"] if warm else 0)
        seeded = max(a.refresh_seed_min, nodes * (1 + n_warm + n_meas)) if refresh else 0
        r.update(
            variant=asdict(v),
            source=o["source"],
            rate_estimate=rate,
            n_warmup=n_warm,
            n_measured=n_meas,
            seeded=seeded,
            seed_s=round(o["seed_s"], 2),
            sign_s=round(o["sign_s"], 2),
            startup_s=round(o["startup_s"], 2),
            server_processes=o["nprocs"],
            server_cpu_s=server_cpu_s,
            server_cpu_us_per_token=1e6 * server_cpu_s / done,
            server_sys_us_per_token=1e6 * o["server_sys_s"] / done,
            server_cores=server_cpu_s / r["duration_s"],
            pg_cpu_s=o["pg_cpu_s"],
            pg_cpu_us_per_token=1e6 * o["pg_cpu_s"] / done,
            wrk_cpu_pct=100.0 * r["wrk_cpu_s"] / r["wrk_wall_s"],
            machine_busy_pct=100.0 * busy_ticks / max(1, total_ticks),
            steal_pct=100.0 * steal_ticks / max(1, total_ticks),
            foreign_cpu_pct=100.0 * foreign_s / max(window_s, 1e-9),
            busy_before_pct=busy_before,
            warmup=warm,
            redeemed=redeemed,
            revoked_families=revoked,
            token_rows=tokens,
            stored_check=ok_before + r["ok"] <= redeemed <= sent_before + r["sent"] and revoked == 0,
        )
        if url:
            # Counter deltas over everything the servers did (start, smoke, warm-up, measured run), per token
            # issued in that window (= redeemed: one rotation per token).
            before = o["pg_before"]
            delta = {k: pg_after[k] - before[k] for k in before if k != "postmaster_pid"}
            r["pg"] = {"delta": delta, "tokens": redeemed,
                       "per_token": {k: d / max(1, redeemed) for k, d in delta.items()}}  # fmt: skip
        r["valid"] = (
            r["wrk_exit"] == 0
            and not r["exhausted"]
            and r["non2xx"] == 0
            and all(n == 0 for n in r["errors"].values())
            and r["stored_check"]
            and (warm is None or warm["non2xx"] == 0)
        )
        pg_note = ""
        if url:
            pt = r["pg"]["per_token"]
            pg_note = (
                f"  pg {r['pg_cpu_us_per_token']:4.0f} µs/token, {pt['xact_commit']:.2f} xacts,"
                f" {pt['wal_sync']:.3f} WAL fsyncs, {pt['wal_bytes']:.0f} WAL B per token"
            )
        log(
            f"  {v.name:<32} {r['rps']:8.1f} tokens/s  p50 {r['lat_ms']['p50']:7.2f} ms  p99 {r['lat_ms']['p99']:7.2f}"
            f" ms  server {r['server_cpu_us_per_token']:6.0f} µs/token ({r['server_cores']:.2f} cores)"
            f" kernel {r['server_sys_us_per_token']:4.0f}  wrk {r['wrk_cpu_pct']:4.1f}%  busy {r['machine_busy_pct']:3.0f}%  foreign {r['foreign_cpu_pct']:3.0f}%"
            f"  non2xx {r['non2xx']}  {'ok' if r['valid'] else 'INVALID ' + r['first_bad'][:200]}"
            + (f"  (seeded {seeded} in {o['seed_s']:.1f}s)" if refresh else "")
            + pg_note
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
        "pg_cpu_us": med(lambda r: r.get("pg_cpu_us_per_token", 0.0)),
        "pg": {k: med(lambda r, k=k: r["pg"]["per_token"][k]) for k in ok[0]["pg"]["per_token"]}
        if all("pg" in r for r in ok)
        else {},
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
        server = f"{v.server} x{args.workers}" + (f" on {v.nodes} nodes" if v.nodes > 1 else "")
        store = v.synchronous if v.store == "sqlite" else f"PostgreSQL synchronous_commit={v.pg_sync}"
        store += ", CHECKPOINT first" if v.pg_checkpoint else ""
        store += f", pool {v.pg_pool}" if v.store == "postgres" and v.pg_pool != 10 else ""
        store += "".join(f", {k}={val}" for k, val in v.settings)
        lines.append(
            f"| {v.grant} | {v.group}{' ' + v.rev if v.rev else ''} | {server} | {store} | {v.conns} | **{s['rps']:,.0f}**{spread}"
            f" | {s['p50']:.2f} | {s['p99']:.2f} | {s['cpu_us']:,.0f} ({s['sys_us']:,.0f}) | {s['server_cores']:.2f}"
            f" | {s['wrk_cpu']:.0f}% | {s['busy']:.0f}% | {s['foreign']:.0f}% | {s['non2xx']} | {s['n']}{inval} |"
        )
    return head + "\n".join(lines) + "\n" + postgres_markdown(variants, results, args)


def postgres_markdown(
    variants: list[Variant], results: dict[str, list[dict[str, Any]]], args: argparse.Namespace
) -> str:
    """The PostgreSQL rows next to the SQLite row of the same grant and connection count: tokens/s per node and
    its ratio to SQLite's, and what PostgreSQL did per token (its CPU; transactions, i.e. round trips; WAL fsyncs,
    records, bytes and full-page images; tuple writes in the run's schema)."""
    pg = [v for v in variants if v.store == "postgres"]
    if not pg:
        return ""
    head = (
        "\n| store | nodes x workers | conns | tokens/s | per node | vs SQLite per node | p99 ms | server CPU µs/token"
        " | PostgreSQL CPU µs/token | xacts/token | WAL fsyncs/token | WAL records/token | WAL bytes/token"
        " | full-page images/token | tuple writes/token (ins + upd, HOT) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )

    def baseline(v: Variant) -> Variant | None:
        return next(
            (b for b in variants if b.store == "sqlite" and b.grant == v.grant and b.conns == v.conns
             and b.synchronous == "NORMAL" and not b.rev and b.server == v.server and b.settings == v.settings),
            None,
        )  # fmt: skip

    rows: list[Variant] = []
    for v in pg:
        base = baseline(v)
        rows += [x for x in (base, v) if x is not None and x not in rows]
    lines = []
    for v in rows:
        s = summarize(results[v.name], args.foreign_max)
        base = baseline(v)
        ratio = ""
        if base is not None and v.store == "postgres":
            ratio = (
                f"{100.0 * s['rps'] / v.nodes / summarize(results[base.name], args.foreign_max)['rps']:.0f}%"
            )
        g = s["pg"]
        if g:
            writes = g["schema_ins"] + g["schema_upd"]
            pg_cols = (
                f"{s['pg_cpu_us']:,.0f} | {g['xact_commit']:.2f} | {g['wal_sync']:.3f} | {g['wal_records']:.1f}"
                f" | {g['wal_bytes']:,.0f} | {g['wal_fpi']:.2f} | {writes:.2f} ({g['schema_ins']:.2f} + {g['schema_upd']:.2f},"
                f" {g['schema_hot_upd']:.2f} HOT)"
            )
        else:
            pg_cols = "- | - | - | - | - | - | -"
        store = "SQLite NORMAL" if v.store == "sqlite" else f"PostgreSQL sc={v.pg_sync}"
        store += ", CHECKPOINT first" if v.pg_checkpoint else ""
        store += f", pool {v.pg_pool}" if v.store == "postgres" and v.pg_pool != 10 else ""
        store += "".join(f", {k}={val}" for k, val in v.settings)
        lines.append(
            f"| {store} | {v.nodes} x {args.workers} | {v.conns} | **{s['rps']:,.0f}** | {s['rps'] / v.nodes:,.0f}"
            f" | {ratio} | {s['p99']:.2f} | {s['cpu_us']:,.0f} | {pg_cols} |"
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
    p.add_argument("--users", type=int, default=1, help="users in the configuration; JWT-bearer assertions go"
                   " round them at random (default 1: every request starts a session of the same user, so from"
                   " the 101st on each also evicts one under the default family cap)")  # fmt: skip
    p.add_argument("--ab-set", default="", help="NAME=VALUE: also run each variant with SSOIDC_NAME=VALUE on its"
                   " servers only, interleaved (e.g. MAX_REFRESH_FAMILIES=0)")  # fmt: skip
    p.add_argument("--history", default="", help="comma-separated git revisions: also --history-grant at 64"
                   " connections served by each revision's ssoidc/ (exported with git archive to a temp dir),"
                   " interleaved with this working tree's")  # fmt: skip
    p.add_argument("--history-grant", default="jwt-bearer", choices=["jwt-bearer", "refresh"],
                   help="grant of the --history rows (default jwt-bearer; refresh seeds each revision's store"
                   " with that revision's own code)")  # fmt: skip
    p.add_argument("--postgres", action=argparse.BooleanOptionalAction, default=None, help="the PostgreSQL"
                   " scenario (on by default unless --skip-main; --no-postgres skips it): the refresh grant at --pg-conns connections"
                   " on 1 node and on --pg-nodes nodes (each --workers workers, one wrk per node, the connections"
                   " split between them) on one PostgreSQL schema, next to SQLite on 1 node; with --skip-main, only"
                   " that")  # fmt: skip
    p.add_argument("--pg-url", default=os.environ.get("SSOIDC_BENCH_PG_URL", h.DEFAULT_PG_URL),
                   help="PostgreSQL server for --postgres; every run gets a fresh schema on it, dropped afterwards"
                   " (default $SSOIDC_BENCH_PG_URL or %(default)s)")  # fmt: skip
    p.add_argument("--pg-conns", default="32", help="connection counts of the PostgreSQL scenario, in total over"
                   " the nodes (default 32)")  # fmt: skip
    p.add_argument("--pg-nodes", default="1,2", help="node counts of the PostgreSQL scenario (default 1,2)")
    p.add_argument("--pg-sync", default="on", help="synchronous_commit values of the servers' sessions, comma-"
                   "separated (default on: every commit waits for its WAL fsync; off: for comparison only)")  # fmt: skip
    p.add_argument("--pg-checkpoint", action="store_true", help="also 1 node with a CHECKPOINT between seeding"
                   " and the server's start (full-page images in the WAL, as in a long-running server)")  # fmt: skip
    p.add_argument("--pg-pool-max", default="10", help="pool_max_size values of each server process's PostgreSQL"
                   " pool, comma-separated (default 10, the store's default)")  # fmt: skip
    p.add_argument("--keep", action="store_true", help="keep the temporary data dirs and request files")
    p.add_argument(
        "--report", default="", help="only print the table of a saved bench/out/bench-*.json again"
    )
    a = p.parse_args()
    if a.users < 1:
        p.error("--users must be at least 1")
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

    if a.postgres is None:
        a.postgres = not a.skip_main
    if a.postgres and "refresh" not in grants:
        log("the PostgreSQL scenario measures the refresh grant: skipped with --grant jwt-bearer")
        a.postgres = False
    if a.postgres:
        for c in [int(c) for c in a.pg_conns.split(",") if c]:
            if not any(v.name == f"refresh-uvicorn-NORMAL-c{c}" for v in variants):
                variants.append(
                    Variant(f"refresh-uvicorn-NORMAL-c{c}", "refresh", "uvicorn", "NORMAL", c, "postgres")
                )
            pools = [int(x) for x in a.pg_pool_max.split(",") if x]
            for sync in [x for x in a.pg_sync.split(",") if x]:
                for n in [int(n) for n in a.pg_nodes.split(",") if n]:
                    for pool_max in pools:
                        suffix = f"-pool{pool_max}" if pool_max != 10 else ""
                        variants.append(
                            Variant(f"refresh-pg-{sync}-{n}node{'s' if n > 1 else ''}-c{c}{suffix}", "refresh",
                                    "uvicorn", "NORMAL", c, "postgres", store="postgres", nodes=n, pg_sync=sync,
                                    pg_pool=pool_max)
                        )  # fmt: skip
            if a.pg_checkpoint:
                sync = a.pg_sync.split(",")[0]
                variants.append(
                    Variant(f"refresh-pg-{sync}-1node-checkpoint-c{c}", "refresh", "uvicorn", "NORMAL", c,
                            "postgres", store="postgres", nodes=1, pg_sync=sync, pg_checkpoint=True,
                            pg_pool=pools[0])
                )  # fmt: skip

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

    if a.ab_set:
        from ssoidc.settings import OPTIONS

        name, eq, value = a.ab_set.partition("=")
        name = name.upper().removeprefix("SSOIDC_")
        if not eq or f"SSOIDC_{name}" not in {o.env for o in OPTIONS.values()}:
            raise SystemExit(
                f"--ab-set {a.ab_set!r}: want NAME=VALUE with NAME an SSOIDC_ setting (docs/settings.md)"
            )
        twins = [
            dataclasses.replace(
                v, name=f"{v.name}-{name.lower()}={value}", settings=(("SSOIDC_" + name, value),)
            )
            for v in variants
        ]
        variants = [x for pair in zip(variants, twins, strict=True) for x in pair]

    OUT.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    meta = {
        "date": stamp,
        "argv": sys.argv,
        "args": vars(a),
        **machine_info(),
        "source": h.source_fingerprint(),
    }
    if a.postgres:
        meta["postgres"] = pgstats.pg_server_info(a.pg_url)
        meta["packages"]["asyncpg"] = importlib.metadata.version("asyncpg")
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

"""Scale benchmark of the configuration plane (issue 12): provision users through identitystore ``CreateUser``
and measure, at each store size, what grows with it.

For each store (SQLite; PostgreSQL on a fresh schema it creates and drops) and each client concurrency, a series:

* two nodes, A and B, each ``ssoidc serve --workers 2`` (``harness.Server``) with the benchmark configuration of
  ``harness.bench_config`` (the demo trusted token issuer, one application with the JWT-bearer grant, one user).
  PostgreSQL: both nodes on the series' schema, as behind a load balancer. SQLite has no second node: B is a
  second ``ssoidc serve`` process on the same data dir (a symlink to A's), which reads the store exactly as A's
  other worker does, so "visible on node B" is the time for a change made by one process to be served by
  another;
* bulk provisioning to each checkpoint with ``--clients`` threads, each with its own boto3 ``identitystore``
  client for node A (real SigV4 with the bootstrap admin credential the harness seeds), one CreateUser at a
  time, each user with a unique UserName and email. SDK retries are off (``total_max_attempts`` 1), so every
  failed call is counted by its error code (``ConflictException``, timeouts, ...), never retried or hidden;
* at each checkpoint, with provisioning paused and one client: ``--samples`` single CreateUser calls (median and
  p90), ListUsers filtered on the UserName of a random provisioned user, JWT-bearer CreateTokenWithIAM (boto3
  ``sso-oidc``) whose assertion's ``email`` claim maps (``emails.value``) to a random provisioned user (the
  idToken's ``sub`` must be that user), ``--visibility-samples`` users created on A and polled on B with
  GetUserId until found, the RSS of every process of both nodes (``/proc/<pid>/status``), and the store's size;
* the budget: today's design rewrites the whole configuration on every write (O(N) per CreateUser, O(N^2) to
  provision), so before each step the rate seen in the previous one (``scale_plan.fit_rate``: seconds per user
  as a line in the store size) predicts the time to the next checkpoint; a step predicted to take longer than
  ``--step-budget`` (or the series' share of ``--budget``) is not started, and a step that runs out of its
  allowance stops where it is and is measured there (``partial``). The reason is recorded. Every call has a
  timeout; nothing waits unbounded.

Everything binds and connects to 127.0.0.1 only. Raw results go to ``bench/out/scale-<stamp>.json`` (after
every checkpoint) and ``.md``; the plots (one PNG per metric, store size on a log axis, one line per store x
concurrency) to ``--plots`` (default ``docs/img``).

    .venv/bin/python bench/scale.py                                  # both stores, 1 and 16 clients, to 100k
    .venv/bin/python bench/scale.py --max-users 3000 --step-budget 240
    .venv/bin/python bench/scale.py --stores sqlite --clients 16 --checkpoints 500,2000 --max-users 2000
    .venv/bin/python bench/scale.py --report bench/out/scale-<stamp>.json   # tables and plots of a saved run

It measures through the wire API only (and reads the demo issuer's signing key from the store, as the load
benchmark does), so it runs unchanged on any storage design.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import random
import resource
import secrets
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness as h
import pgstats
import scale_plan as sp
from run import log, wait_idle

from tests.helpers.pg import drop_schema, pg_run  # pgstats (imported first) puts the checkout on sys.path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
STORE_ID = str(h.bench_config("")["Instance"]["IdentityStoreId"])
EMAIL_DOMAIN = "scale.example.com"
VISIBLE_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 120.0  # botocore read timeout: one call under contention can take long, never forever


# ---------------------------------------------------------------------------------------------------- clients
def client(service: str, url: str) -> Any:
    """A boto3 client of ``service`` for ``url``, with the bootstrap admin credential and no SDK retries."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service,
        endpoint_url=url,
        region_name=h.REGION,
        aws_access_key_id=h.ADMIN_KEY,
        aws_secret_access_key=h.ADMIN_SECRET,
        config=Config(
            retries={"total_max_attempts": 1},
            connect_timeout=10,
            read_timeout=CALL_TIMEOUT_S,
            max_pool_connections=2,
        ),
    )


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ``ClientError``, else the exception's class name (timeouts, connection errors)."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return type(exc).__name__


@dataclass(frozen=True)
class User:
    name: str
    email: str
    user_id: str


def user_request(i: int) -> dict[str, Any]:
    name = f"scale-{i:07d}"
    return {
        "IdentityStoreId": STORE_ID,
        "UserName": name,
        "DisplayName": f"Scale User {i}",
        "Name": {"GivenName": "Scale", "FamilyName": f"User{i}"},
        "Emails": [{"Value": f"{name}@{EMAIL_DOMAIN}", "Type": "work", "Primary": True}],
    }


@dataclass
class Directory:
    """The users this series created (for random picks) and the next unused index, shared by the threads."""

    initial: int
    users: list[User] = field(default_factory=list)
    next_index: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def size(self) -> int:
        return self.initial + len(self.users)

    def take_index(self) -> int:
        with self.lock:
            i = self.next_index
            self.next_index += 1
            return i

    def add(self, user: User) -> int:
        with self.lock:
            self.users.append(user)
            return self.initial + len(self.users)

    def pick(self, rng: random.Random) -> User:
        with self.lock:
            return rng.choice(self.users)


def create_user(c: Any, i: int) -> User:
    req = user_request(i)
    resp = c.create_user(**req)
    return User(req["UserName"], req["Emails"][0]["Value"], str(resp["UserId"]))


# ---------------------------------------------------------------------------------------------------- provision
@dataclass
class Step:
    created: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    latencies: list[float] = field(default_factory=list)
    samples: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since the step started, store size) at each successful call."""
    wall_s: float = 0.0
    stopped: str = ""


def provision(clients: list[Any], directory: Directory, target: int, allowance_s: float) -> Step:
    """Create users with one thread per client until the store holds ``target`` users, the allowance is spent,
    or nothing succeeds any more (``max(200, 10 x clients)`` failures in a row). Threads finish the call they
    are in (bounded by the client's read timeout) and are joined with a bound."""
    step = Step()
    lock = threading.Lock()
    inflight = 0
    failures_in_row = 0
    give_up = max(200, 10 * len(clients))
    t0 = time.perf_counter()
    deadline = t0 + allowance_s

    def reserve() -> int | None:
        nonlocal inflight
        with lock:
            if step.stopped or directory.size() + inflight >= target:
                return None
            if time.perf_counter() >= deadline:
                step.stopped = step.stopped or "allowance"
                return None
            inflight += 1
        return directory.take_index()

    def loop(c: Any) -> None:
        nonlocal inflight, failures_in_row
        while (i := reserve()) is not None:
            t = time.perf_counter()
            user: User | None = None
            code = ""
            try:
                user = create_user(c, i)
            except Exception as exc:  # counted by code; a thread never dies silently
                code = error_code(exc)
            done = time.perf_counter()
            with lock:
                inflight -= 1
                step.latencies.append(done - t)
                if user is not None:
                    size = directory.add(user)
                    step.created += 1
                    step.samples.append((done - t0, size))
                    failures_in_row = 0
                else:
                    step.errors[code] += 1
                    failures_in_row += 1
                    if failures_in_row >= give_up:
                        step.stopped = f"no progress: {failures_in_row} failed CreateUser calls in a row"

    threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(allowance_s + CALL_TIMEOUT_S + 30)
    if any(t.is_alive() for t in threads):
        step.stopped = "client threads still running after the allowance and a read timeout"
    step.wall_s = time.perf_counter() - t0
    return step


# ---------------------------------------------------------------------------------------------------- measure
class Measurer:
    """The single-client measurements at a checkpoint, on node A (B for visibility)."""

    def __init__(
        self, a_url: str, b_url: str, directory: Directory, key: tuple[str, bytes], seed: int
    ) -> None:
        self.ids_a = client("identitystore", a_url)
        self.ids_b = client("identitystore", b_url)
        self.oidc = client("sso-oidc", a_url)
        self.directory = directory
        self.kid, self.pem = key
        self.issuer = f"{a_url}/demo-issuer"  # config_base_url of both nodes is A's
        self.rng = random.Random(seed)
        self.errors: collections.Counter[str] = collections.Counter()

    def _timed(self, fn: Callable[[], None], n: int) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            try:
                fn()
            except Exception as exc:  # counted, never hidden
                self.errors[error_code(exc)] += 1
                continue
            out.append(time.perf_counter() - t)
        return out

    def create(self, n: int) -> list[float]:
        def one() -> None:
            self.directory.add(create_user(self.ids_a, self.directory.take_index()))

        return self._timed(one, n)

    def list_users(self, n: int) -> list[float]:
        out: list[float] = []
        for _ in range(n if self.directory.users else 0):
            u = self.directory.pick(self.rng)
            t = time.perf_counter()
            try:
                resp = self.ids_a.list_users(
                    IdentityStoreId=STORE_ID,
                    Filters=[{"AttributePath": "UserName", "AttributeValue": u.name}],
                )
            except Exception as exc:
                self.errors[error_code(exc)] += 1
                continue
            out.append(time.perf_counter() - t)
            if [x["UserId"] for x in resp.get("Users", [])] != [u.user_id]:
                self.errors["ListUsers: not exactly the user filtered on"] += 1
        return out

    def assertion(self, email: str) -> str:
        import jwt

        now = int(time.time())
        claims = {"iss": self.issuer, "sub": email, "aud": h.AUDIENCE, "email": email, "email_verified": True, "iat": now, "nbf": now,
                  "exp": now + 300, "jti": secrets.token_urlsafe(16)}  # fmt: skip
        return jwt.encode(claims, self.pem, algorithm="RS256", headers={"kid": self.kid})

    def tokens(self, n: int) -> list[float]:
        import jwt

        out: list[float] = []
        for _ in range(n if self.directory.users else 0):
            u = self.directory.pick(self.rng)
            assertion = self.assertion(u.email)  # signed before the clock starts
            t = time.perf_counter()
            try:
                resp = self.oidc.create_token_with_iam(
                    clientId=h.APP_ARN, grantType=h.JWT_BEARER, assertion=assertion
                )
            except Exception as exc:
                self.errors[error_code(exc)] += 1
                continue
            out.append(time.perf_counter() - t)
            sub = jwt.decode(resp.get("idToken", ""), options={"verify_signature": False}).get("sub")
            if not resp.get("accessToken") or sub != u.user_id:
                self.errors["CreateTokenWithIAM: not the user the claim maps to"] += 1
        return out

    def visibility(self, n: int) -> tuple[list[float], list[int]]:
        """Create a user on A, then GetUserId on B until it is found: seconds from A's answer to B's, and the
        number of calls to B."""
        from botocore.exceptions import ClientError

        times: list[float] = []
        polls: list[int] = []
        for _ in range(n):
            try:
                user = create_user(self.ids_a, self.directory.take_index())
            except Exception as exc:
                self.errors[error_code(exc)] += 1
                continue
            self.directory.add(user)
            created = time.perf_counter()
            k = 0
            while True:
                k += 1
                try:
                    self.ids_b.get_user_id(
                        IdentityStoreId=STORE_ID,
                        AlternateIdentifier={
                            "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": user.name}
                        },
                    )
                except ClientError as exc:
                    if error_code(exc) != "ResourceNotFoundException":
                        self.errors[f"GetUserId on B: {error_code(exc)}"] += 1
                        break
                    if time.perf_counter() - created > VISIBLE_TIMEOUT_S:
                        self.errors[f"not visible on B after {VISIBLE_TIMEOUT_S:.0f} s"] += 1
                        break
                    time.sleep(0.001)
                    continue
                except Exception as exc:
                    self.errors[f"GetUserId on B: {error_code(exc)}"] += 1
                    break
                times.append(time.perf_counter() - created)
                polls.append(k)
                break
        return times, polls


# ---------------------------------------------------------------------------------------------------- processes
def rss_mb(pid: int, field: str = "VmRSS") -> float | None:
    """A memory figure of ``/proc/<pid>/status`` in MB: ``VmRSS`` (all resident pages, including the file pages
    SQLite's memory map of the database brings in, which are the kernel's shared page cache) or ``RssAnon`` (the
    process's private memory: what would grow if a worker held the directory)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def role(pid: int, pgid: int) -> str:
    """``serve`` (the process we started), ``worker`` (a uvicorn worker: multiprocessing's spawn) or ``helper``
    (multiprocessing's resource tracker, anything else), from ``/proc/<pid>/cmdline``."""
    if pid == pgid:
        return "serve"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ")
    except OSError:
        return "gone"
    return "worker" if b"spawn_main" in cmd else "helper"


def node_rss(server: h.Server, field: str = "VmRSS") -> dict[str, list[float]]:
    """RSS (MB; ``field`` of ``rss_mb``) of the node's processes by role (``role``)."""
    out: dict[str, list[float]] = {}
    for pid in sorted(server.worker_pids()):
        r = rss_mb(pid, field)
        if r is not None:
            out.setdefault(role(pid, server.pgid), []).append(round(r, 2))
    return out


def store_mb(data_dir: Path, url: str, schema: str) -> float | None:
    """Bytes the store occupies: the SQLite files, or the schema's tables with their indexes and TOAST."""
    if not url:
        return sum(p.stat().st_size for p in data_dir.glob("ssoidc.db*")) / 1e6
    sql = (
        "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'"
    )
    return float(pg_run(url, lambda conn: conn.fetchval(sql, schema))) / 1e6


def pg_demo_issuer_key(url: str) -> tuple[str, bytes]:
    """(kid, private PEM) of the demo issuer's active key in the PostgreSQL store (as
    ``harness.read_demo_issuer_key`` does for SQLite)."""
    from ssoidc.crypto import Sealer

    row = pg_run(
        url,
        lambda conn: conn.fetchrow(
            "SELECT kid, private_enc FROM signing_keys WHERE purpose = 'demo-issuer' AND active"
            " ORDER BY created_at DESC LIMIT 1"
        ),
    )
    if row is None:
        raise RuntimeError("no demo-issuer key in the PostgreSQL store")
    kid = str(row[0])
    return kid, Sealer(h.master_key(), "signing-key").open(bytes(row[1]), kid.encode())


class CpuMeter:
    """Cores used between ``start`` and ``stop``: the nodes' process groups, PostgreSQL, this process, and the
    rest of the machine (other people's jobs: "foreign")."""

    def __init__(self, servers: list[h.Server], postmaster: int) -> None:
        self.servers = servers
        self.postmaster = postmaster
        self._start: tuple[float, float, float, float, tuple[int, int, int]] = (0, 0, 0, 0, (0, 0, 0))

    def _read(self) -> tuple[float, float, float, float, tuple[int, int, int]]:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return (
            time.perf_counter(),
            sum(h.group_cpu_s(s.pgid) for s in self.servers),
            h.postgres_cpu_s(self.postmaster) if self.postmaster else 0.0,
            ru.ru_utime + ru.ru_stime,
            h.machine_ticks(),
        )

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        t1, srv1, pg1, me1, m1 = self._read()
        t0, srv0, pg0, me0, m0 = self._start
        wall = max(t1 - t0, 1e-9)
        busy_s = (m1[0] - m0[0]) / h.CLK
        total_ticks = max(1, m1[1] - m0[1])
        server, pg, me = srv1 - srv0, pg1 - pg0, me1 - me0
        return {
            "server": server / wall,
            "postgres": pg / wall,
            "client": me / wall,
            "foreign": max(0.0, busy_s - server - pg - me) / wall,
            "busy": 100.0 * (m1[0] - m0[0]) / total_ticks,
        }


# ---------------------------------------------------------------------------------------------------- series
@contextlib.contextmanager
def nodes(store: str, workdir: Path, a: argparse.Namespace) -> Iterator[tuple[h.Server, h.Server, str, str]]:
    """Nodes A and B (started, stopped on leaving) and, for PostgreSQL, the schema and its URL (dropped)."""
    ports: list[int] = []
    while len(set(ports)) < 2:
        ports = [h.free_port(), h.free_port()]
    first = f"http://127.0.0.1:{ports[0]}"
    schema = url = ""
    if store == "postgres":
        schema = f"ssoidc_scale_{os.getpid()}_{secrets.token_hex(4)}"
        url = pgstats.pg_url(a.pg_url, schema)
    servers = [
        h.Server("uvicorn", port, workdir / f"node{i}", a.workers, "NORMAL", database_url=url, config_base_url=first)
        for i, port in enumerate(ports)
    ]  # fmt: skip
    if store == "sqlite":  # B serves A's data dir: the same files, another process
        servers[0].data_dir.mkdir(parents=True, exist_ok=True)
        servers[1].workdir.mkdir(parents=True, exist_ok=True)
        servers[1].data_dir.symlink_to(servers[0].data_dir, target_is_directory=True)
    try:
        for s in servers:  # one after the other: B's first start finds A's migrations and keys done
            s.start()
        yield servers[0], servers[1], schema, url
    finally:
        for s in servers:
            s.stop()
        if url and not a.keep:
            drop_schema(url, schema)


def run_series(store: str, n_clients: int, a: argparse.Namespace, share_s: float, save: Callable[[], None],
               series: sp.Series) -> None:  # fmt: skip
    """One store x concurrency: provision to each checkpoint within the budget, measure at each; ``series`` is
    filled in place and ``save`` called after every checkpoint."""
    t_series = time.monotonic()
    deadline = t_series + share_s
    workdir = h.scratch_dir(f"ssoidc-scale-{store}-")
    try:
        with nodes(store, workdir, a) as (node_a, node_b, schema, url):
            key = h.read_demo_issuer_key(node_a.data_dir) if store == "sqlite" else pg_demo_issuer_key(url)
            postmaster = int(pgstats.pg_stats(url, schema)["postmaster_pid"]) if url else 0
            probe = client("identitystore", node_a.url)
            initial = len(probe.list_users(IdentityStoreId=STORE_ID, MaxResults=100).get("Users", []))
            directory = Directory(initial=initial)
            clients = [client("identitystore", node_a.url) for _ in range(n_clients)]
            measurer = Measurer(node_a.url, node_b.url, directory, key, seed=a.seed)
            meter = CpuMeter([node_a, node_b], postmaster)
            model: sp.RateModel | None = None
            for target in sp.schedule(sp.parse_ints(a.checkpoints), a.max_users):
                decision = sp.next_step(
                    model, directory.size(), target, a.step_budget, deadline - time.monotonic()
                )
                if not decision.go:
                    series["stopped"] = decision.reason
                    log(f"  stop before {target:,}: {decision.reason}")
                    break
                pred = (
                    f", predicted {decision.predicted_s:,.0f} s" if decision.predicted_s is not None else ""
                )
                log(f"  provisioning {directory.size():,} → {target:,} users ({sp.label(store, n_clients)}, allowance"
                    f" {decision.allowance_s:,.0f} s{pred})")  # fmt: skip
                meter.start()
                step = provision(clients, directory, target, decision.allowance_s)
                cpu = meter.stop()
                model = sp.fit_rate(step.samples) or model
                cp = measure(measurer, node_a, node_b, directory, target, step, cpu, url, schema, a)
                series["checkpoints"].append(cp)
                series["wall_s"] = time.monotonic() - t_series
                save()
                log(
                    f"  {cp['users']:,} users: bulk {cp['rate']:,.1f}/s (end {cp['rate_end']:,.1f}/s), errors"
                    f" {sp.errors_text(cp['errors'])}; CreateUser p50 {sp.fmt(cp['create_p50_ms'])} ms,"
                    f" ListUsers {sp.fmt(cp['list_p50_ms'])} ms, CreateTokenWithIAM {sp.fmt(cp['token_p50_ms'])} ms,"
                    f" visible on B {sp.fmt(cp['visible_p50_ms'])} ms, worker RSS {sp.fmt(cp['worker_rss_mb'], 0)} MB"
                    f" (private {sp.fmt(cp.get('worker_anon_mb'), 0)} MB);"
                    f" cores: server {cpu['server']:.2f}, pg {cpu['postgres']:.2f}, client {cpu['client']:.2f},"
                    f" foreign {cpu['foreign']:.2f}"
                )
                if step.stopped:
                    rate = sp.end_rate(step.samples)
                    why = (
                        f"budget: step allowance of {decision.allowance_s:,.0f} s spent at {cp['users']:,} of"
                        f" {target:,} users (at {rate:,.1f} users/s)"
                        if step.stopped == "allowance"
                        else step.stopped
                    )
                    series["stopped"] = why
                    log(f"  stopped: {why}")
                    break
            else:
                series["stopped"] = (
                    f"reached the last checkpoint, {a.max_users:,} users ({directory.size():,} after its"
                    " measurements)"
                )
    except Exception as exc:  # recorded; the other series still run
        series["stopped"] = f"error: {type(exc).__name__}: {exc}"[:500]
        log(f"  series failed: {series['stopped']}")
    finally:
        series["wall_s"] = time.monotonic() - t_series
        save()
        if not a.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def measure(m: Measurer, node_a: h.Server, node_b: h.Server, directory: Directory, target: int, step: Step,
            cpu: dict[str, float], url: str, schema: str, a: argparse.Namespace) -> sp.Checkpoint:  # fmt: skip
    users = directory.size()
    m.errors.clear()
    ra, rb = node_rss(node_a), node_rss(node_b)
    rss = {f"{node}-{r}": v for node, by_role in (("a", ra), ("b", rb)) for r, v in by_role.items()}
    anon = node_rss(node_a, "RssAnon")
    anon_workers = anon.get("worker") or anon.get("serve") or []
    create = m.create(a.samples)
    listed = m.list_users(a.samples)
    tokens = m.tokens(a.samples)
    visible, polls = m.visibility(a.visibility_samples)
    workers = ra.get("worker") or ra.get("serve") or []  # --workers 1: the serve process is the worker
    return {
        "target": target,
        "users": users,
        "partial": users < target,
        "step_s": step.wall_s,
        "step_created": step.created,
        "rate": step.created / step.wall_s if step.wall_s > 0 else 0.0,
        "rate_end": sp.end_rate(step.samples),
        "prov_p50_ms": sp.ms(step.latencies, 50),
        "prov_p90_ms": sp.ms(step.latencies, 90),
        "errors": dict(step.errors),
        "measure_errors": dict(m.errors),
        "create_p50_ms": sp.ms(create, 50),
        "create_p90_ms": sp.ms(create, 90),
        "list_p50_ms": sp.ms(listed, 50),
        "list_p90_ms": sp.ms(listed, 90),
        "token_p50_ms": sp.ms(tokens, 50),
        "token_p90_ms": sp.ms(tokens, 90),
        "visible_p50_ms": sp.ms(visible, 50),
        "visible_max_ms": sp.ms(visible, 100),
        "visible_polls": sp.percentile([float(p) for p in polls], 50),
        "rss_mb": rss,
        "worker_rss_mb": max(workers) if workers else None,
        "worker_anon_mb": max(anon_workers) if anon_workers else None,
        "store_mb": store_mb(node_a.data_dir, url, schema),
        "cpu": cpu,
    }


# ---------------------------------------------------------------------------------------------------- plots
PLOTS = (
    ("create_p50_ms", "create-user", "One CreateUser (one client, median)", "ms", True),
    ("list_p50_ms", "list-users", "ListUsers filtered on UserName (median)", "ms", True),
    ("token_p50_ms", "create-token", "JWT-bearer CreateTokenWithIAM (median)", "ms", True),
    ("rate", "bulk-rate", "Bulk CreateUser rate over the step", "users/s", True),
    ("visible_p50_ms", "visibility", "A new user visible on node B (median)", "ms", True),
    ("worker_rss_mb", "worker-rss", "Worker RSS, node A (largest worker)", "MB", False),
)


def plot(series: list[sp.Series], outdir: Path, title: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    style = {"sqlite": ("tab:blue", "o"), "postgres": ("tab:orange", "s")}
    for key, name, what, unit, logy in PLOTS:
        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
        drew = False
        for s in series:
            values: list[Mapping[str, Any]] = list(s["checkpoints"])
            pts = [(float(c["users"]), float(c[key]), bool(c["partial"])) for c in values
                   if isinstance(c.get(key), int | float)]  # fmt: skip
            if not pts:
                continue
            color, marker = style.get(s["store"], ("tab:gray", "^"))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color=color, marker=marker,
                    linestyle="-" if s["clients"] == 1 else "--", label=sp.label(s["store"], s["clients"]))  # fmt: skip
            partial = [p for p in pts if p[2]]  # stopped short by the budget: hollow
            if partial:
                ax.plot([p[0] for p in partial], [p[1] for p in partial], color=color, marker=marker,
                        linestyle="none", markerfacecolor="white")  # fmt: skip
            drew = True
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0)))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        if logy and drew:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_minor_locator(NullLocator())
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.4g}"))
        ax.set_xlabel("users in the store (log scale)")
        ax.set_ylabel(unit + (" (log scale)" if logy else ""))
        ax.set_title(what, fontsize=11)
        ax.grid(True, which="major", alpha=0.3)
        if drew:
            ax.legend(fontsize=8)
        fig.text(0.99, 0.01, title, ha="right", va="bottom", fontsize=7, color="gray")
        fig.tight_layout()
        path = outdir / f"scale-{name}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------------- main
def machine_info() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    pkgs = {}
    for name in ("uvicorn", "starlette", "botocore", "boto3", "asyncpg", "orjson", "matplotlib"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            pkgs[name] = importlib.metadata.version(name)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": pkgs,
        "loadavg_at_start": open("/proc/loadavg").read().split()[:3],
    }


def report(doc: dict[str, Any], plots: Path | None) -> str:
    series: list[sp.Series] = doc["series"]
    src = doc["meta"]["source"]
    title = (
        f"ssoidc git {src['head']}{' + changes' if src['dirty'] else ''}, {doc['meta']['date']},"
        f" {doc['meta']['nproc']} CPUs"
    )
    text = sp.markdown(series) + "\n" + sp.stops(series)
    ratios = sp.ratios_markdown(series)
    if ratios:
        text += "\nBetween checkpoints (later / earlier):\n\n" + ratios
    targets = sp.targets_markdown(series)
    if targets:
        text += "\nIssue 12's targets:\n\n" + targets
    text += (
        f"\nserver code: git {src['head']}{' + uncommitted changes' if src['dirty'] else ''}"
        f" (sources {src['sources_sha256']}); measured {doc['meta']['date']}\n"
    )
    if plots is not None:
        for path in plot(series, plots, title):
            text += f"plot: {path.relative_to(h.ROOT) if path.is_relative_to(h.ROOT) else path}\n"
    return text


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--stores", default="sqlite,postgres", help="stores to run, comma-separated (default %(default)s)"
    )
    p.add_argument(
        "--clients", default="1,16", help="concurrent bulk clients per series (default %(default)s)"
    )
    p.add_argument(
        "--max-users", type=int, default=100000, help="provision up to this many users (default 100000)"
    )
    p.add_argument(
        "--checkpoints",
        default=",".join(map(str, sp.DEFAULT_CHECKPOINTS)),
        help="store sizes to measure at (default %(default)s; --max-users is always the last)",
    )
    p.add_argument(
        "--step-budget",
        type=float,
        default=300,
        help="seconds a provisioning step may take; a step"
        " predicted to take longer is not started, one that runs out stops where it is (default 300)",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=3600,
        help="overall seconds; each series not yet run gets an equal share of what is left (default 3600)",
    )
    p.add_argument("--samples", type=int, default=50, help="calls per latency measurement (default 50)")
    p.add_argument(
        "--visibility-samples", type=int, default=5, help="users polled on node B per checkpoint (default 5)"
    )
    p.add_argument("--workers", type=int, default=2, help="worker processes of each node (default 2)")
    p.add_argument(
        "--pg-url",
        default=os.environ.get("SSOIDC_BENCH_PG_URL", h.DEFAULT_PG_URL),
        help="PostgreSQL server; every series gets a fresh schema on it, dropped afterwards"
        " (default $SSOIDC_BENCH_PG_URL or %(default)s)",
    )
    p.add_argument(
        "--plots",
        default=str(h.ROOT / "docs" / "img"),
        help="directory of the PNG plots (default docs/img; '' for none)",
    )
    p.add_argument(
        "--idle-wait",
        type=float,
        default=120,
        help="max seconds to wait for a quiet machine before each series (default 120)",
    )
    p.add_argument(
        "--idle-threshold", type=float, default=10, help="machine busy %% counted as quiet (default 10)"
    )
    p.add_argument("--seed", type=int, default=12, help="seed of the random picks (default 12)")
    p.add_argument("--keep", action="store_true", help="keep the data dirs and the PostgreSQL schemas")
    p.add_argument(
        "--report",
        default="",
        help="only print the tables (and draw the plots) of a saved bench/out/scale-*.json",
    )
    a = p.parse_args()  # fmt: skip
    plots = Path(a.plots) if a.plots else None
    if a.report:
        print(report(json.loads(Path(a.report).read_text()), plots), end="")
        return 0
    stores = [s for s in a.stores.split(",") if s]
    for s in stores:
        if s not in sp.STORE_LABEL:
            p.error(f"unknown store {s!r} (sqlite, postgres)")
    counts = sp.parse_ints(a.clients)
    combos = [(s, c) for s in stores for c in counts]
    OUT.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    meta: dict[str, Any] = {"date": stamp, "argv": sys.argv, "args": vars(a), **machine_info(),
                            "source": h.source_fingerprint()}  # fmt: skip
    if "postgres" in stores:
        meta["postgres"] = pgstats.pg_server_info(a.pg_url)
    out_json = OUT / f"scale-{stamp}.json"
    doc: dict[str, Any] = {"meta": meta, "series": []}

    def save() -> None:
        out_json.write_text(json.dumps(doc, indent=1, default=str))

    log(f"{meta['nproc']} CPUs ({meta['cpu_model']}); {len(combos)} series; checkpoints"
        f" {sp.schedule(sp.parse_ints(a.checkpoints), a.max_users)}; step budget {a.step_budget:.0f} s, overall"
        f" {a.budget:.0f} s")  # fmt: skip
    t_start = time.monotonic()
    waited = 0.0  # waiting for a quiet machine is not charged to the budget
    for i, (store, n) in enumerate(combos):
        t_wait = time.monotonic()
        busy = wait_idle(a.idle_wait, a.idle_threshold)
        waited += time.monotonic() - t_wait
        share = sp.series_share(a.budget - (time.monotonic() - t_start - waited), len(combos) - i)
        log(f"series {sp.label(store, n)} (machine {busy:.0f}% busy before; budget share {share:,.0f} s)")
        series: sp.Series = {"store": store, "clients": n, "checkpoints": [], "stopped": "", "wall_s": 0.0}
        doc["series"].append(series)
        run_series(store, n, a, share, save, series)
    doc["meta"]["wall_s"] = time.monotonic() - t_start
    doc["meta"]["idle_wait_s"] = waited
    doc["meta"]["source_after"] = h.source_fingerprint()
    save()
    text = report(doc, plots)
    if doc["meta"]["source_after"]["sources_sha256"] != meta["source"]["sources_sha256"]:
        text += "\nWARNING: the server sources changed during the benchmark; see source/source_after in the JSON.\n"
    (OUT / f"scale-{stamp}.md").write_text(text)
    print()
    print(text)
    print(f"raw results: {out_json}")
    return 0 if all(not s["stopped"].startswith("error") for s in doc["series"]) else 1


if __name__ == "__main__":
    sys.exit(main())

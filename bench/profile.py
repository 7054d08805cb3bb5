"""Where the CPU of one CreateTokenWithIAM goes (JWT bearer or refresh_token): in-process profile of the ASGI app.

The app (``ssoidc.web.app.create_app``) runs in this process on one asyncio (uvloop) loop, with the same
configuration as bench/run.py, and is driven directly through the ASGI interface with pre-signed requests (one
at a time, so the profile is deterministic; no HTTP server, no sockets). The demo issuer's discovery document and
JWKS are served on 127.0.0.1 by a tiny stdlib HTTP server, fetched once and then cached by the node.

``--grant refresh`` seeds refresh tokens into the store first (``harness.seed_refresh_tokens_async``, as
bench/run.py does), plus ``--pad`` unused ones so the tokens table is about as large as in a load run, and each
request redeems one of them.

It prints:
1. the end-to-end cost per request in-process (no profiler), to compare with the server CPU µs/token under load;
2. a breakdown of pyinstrument's samples into categories (SigV4, JSON, assertion verification, idToken signing,
   SQLite, framework...), each also converted to µs with (1);
3. direct timings of each component called on its own (µs/op, median of 5 batches);
4. a few primitives also timed by the peer benchmark, to compare machines (docs/benchmarks.md, "Machine");
5. the top of pyinstrument's call tree.

    .venv/bin/python bench/profile.py [--grant jwt-bearer|refresh] [--requests 3000] [--synchronous NORMAL|FULL]
                                      [--html bench/out/profile.html] [--live]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import multiprocessing
import os
import random
import secrets
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import harness as h
import pgstats
import run as bench_run
import yaml

from ssoidc.base64url import b64u_decode
from ssoidc.oauth import jose
from tests.helpers.pg import drop_schema  # pgstats (imported first) puts the checkout on sys.path

OUT = Path(__file__).resolve().parent / "out"

# (path fragment, function name or None) -> category. While walking down the call tree, the innermost frame that
# matches a rule decides the category of its own time and of every callee that matches nothing more specific.
RULES: list[tuple[str, str | None, str]] = [
    ("uvicorn/protocols/", None, "HTTP server: uvicorn + httptools protocol (live mode)"),
    ("uvicorn/middleware/", None, "HTTP server: uvicorn + httptools protocol (live mode)"),
    ("starlette/", None, "framework: Starlette routing, Request, Response"),
    ("ssoidc/web/app.py", None, "ASGI handler glue: routing, body read, WireRequest"),
    ("ssoidc/snapshot.py", "refresh", "SQLite read: config version check (every request)"),
    ("ssoidc/snapshot.py", None, "other ssoidc glue"),
    ("ssoidc/aws/skeleton.py", None, "other ssoidc glue"),
    ("ssoidc/aws/protocols.py", "decode", "request JSON decode + botocore shape validation"),
    ("ssoidc/aws/models.py", None, "request JSON decode + botocore shape validation"),
    ("ssoidc/aws/oidc.py", "token_request", "request JSON decode + botocore shape validation"),
    ("ssoidc/aws/protocols.py", "encode", "response JSON encode"),
    ("ssoidc/aws/oidc.py", "token_response", "response JSON encode"),
    ("ssoidc/aws/oidc.py", None, "other ssoidc glue"),
    ("uuid.py", None, "other ssoidc glue"),
    ("ssoidc/aws/sigv4.py", None, "SigV4 verification"),
    ("ssoidc/oauth/service.py", None, "token service checks"),
    ("ssoidc/iam/policy.py", None, "IAM ActorPolicy evaluation"),
    ("ssoidc/oauth/grants/", None, "grant logic: user lookup, scopes, claims"),
    ("ssoidc/oauth/scopes.py", None, "grant logic: user lookup, scopes, claims"),
    ("ssoidc/model.py", None, "grant logic: user lookup, scopes, claims"),
    ("ssoidc/oauth/assertion.py", None, "assertion parse + claim checks (base64, stdlib json)"),
    ("ssoidc/oauth/jose.py", "verify", "assertion RS256 signature verify"),
    ("ssoidc/oauth/jwks.py", None, "assertion: JWKS cache lookup"),
    ("ssoidc/oauth/issuer.py", None, "token issuing glue: claims, records"),
    ("ssoidc/oauth/tokens.py", "mint", "access/refresh token minting (random, HMAC, SHA-256)"),
    ("ssoidc/oauth/tokens.py", "open_refresh", "sealed refresh token open (AES-SIV + JSON + SHA-256)"),
    ("ssoidc/oauth/tokens.py", "seal_identity_context", "identity context AES-GCM seal"),
    ("ssoidc/oauth/keys.py", "sign", "idToken ES256 signing"),
    ("ssoidc/storage/sqlite.py", "issue", "SQLite: rows for a write (before the group commit)"),
    ("ssoidc/storage/sqlite.py", "rotate_refresh", "SQLite: rows for a write (before the group commit)"),
    # Group commit: the write ops run inside _flush, a loop callback, not under the coroutine that submitted them.
    ("ssoidc/storage/sqlite.py", "_flush", "SQLite write txn (group commit: flock, BEGIN, ops, COMMIT)"),
    ("ssoidc/storage/sqlite.py", "find_token", "SQLite read: find_token (token row + revoked family)"),
    ("ssoidc/storage/sqlite.py", "config_version", "SQLite read: config version check (every request)"),
    ("ssoidc/storage/postgres.py", None, "PostgreSQL store: statements, pool, row decode"),
    ("ssoidc/storage/postgres.py", "config_version", "PostgreSQL read: config version check (every request)"),
    ("ssoidc/storage/postgres.py", "find_token", "PostgreSQL read: find_token"),
    ("ssoidc/storage/postgres.py", "rotate_refresh", "PostgreSQL rotate statement (retire + 2 rows, commit)"),
    ("ssoidc/storage/postgres.py", "issue", "PostgreSQL issue statement (jti + 2 rows, commit)"),
    ("asyncpg/", None, "asyncpg: pool acquire/release, protocol"),
    ("logging/", None, "logging"),
]
OUTSIDE = "driver + event loop (not the app)"
CHUNKS = 5  # timed batches are split in this many parts; medians of the parts are reported
LIVE_OUTSIDE = "event loop: uvloop (epoll, socket reads/writes, callbacks)"


def category_of(frame: Any, current: str) -> str:
    path = (frame.file_path or "").replace("\\", "/")
    best = current
    for frag, func, cat in RULES:
        if frag in path and (func is None or func == frame.function):
            best = cat  # later (more specific) rules override earlier ones
    return best


def breakdown(root: Any) -> dict[str, float]:
    out: dict[str, float] = {}

    def walk(frame: Any, cat: str) -> None:
        cat = category_of(frame, cat)
        child_time = sum(c.time for c in frame.children)
        out[cat] = out.get(cat, 0.0) + max(0.0, frame.time - child_time)
        for c in frame.children:
            walk(c, cat)

    walk(root, OUTSIDE)
    return out


# ---------------------------------------------------------------------------------------------------- timing
def timeit_us(fn: Callable[[], Any], min_time: float = 0.3, repeats: int = 5) -> float:
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time / 4 or n > 1_000_000:
            break
        n *= 2
    n = max(1, int(n * (min_time / max(dt, 1e-9))))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n)
    return 1e6 * statistics.median(samples)


async def atimeit_us(make: Callable[[], Awaitable[Any]], n: int, repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            await make()
        samples.append((time.perf_counter() - t0) / n)
    return 1e6 * statistics.median(samples)


def instrument(targets: list[tuple[Any, str, str]]) -> tuple[dict[str, float], Callable[[], None]]:
    """Wrap functions/methods with timers (seconds accumulated per label); returns (totals, undo)."""
    totals: dict[str, float] = {}
    undo: list[tuple[Any, str, Any]] = []
    for owner, attr, label in targets:
        orig = getattr(owner, attr, None)
        if orig is None:  # the code moved on; time what still exists
            continue
        totals[label] = 0.0
        if asyncio.iscoroutinefunction(orig):

            async def wrapped(*a: Any, _orig: Any = orig, _label: str = label, **k: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return await _orig(*a, **k)
                finally:
                    totals[_label] += time.perf_counter() - t0

        else:

            def wrapped(*a: Any, _orig: Any = orig, _label: str = label, **k: Any) -> Any:  # type: ignore[misc]
                t0 = time.perf_counter()
                try:
                    return _orig(*a, **k)
                finally:
                    totals[_label] += time.perf_counter() - t0

        setattr(owner, attr, wrapped)
        undo.append((owner, attr, orig))

    def restore() -> None:
        for owner, attr, orig in reversed(undo):
            setattr(owner, attr, orig)

    return totals, restore


# ---------------------------------------------------------------------------------------------------- ASGI
def scope_for(port: int, headers: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/token",
        "raw_path": b"/token",
        "query_string": b"aws_iam=t",
        "root_path": "",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", port),
        "state": {},
    }


async def call(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    delivered = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # never: the app reads one message only
        return {"type": "http.disconnect"}

    async def send(msg: dict[str, Any]) -> None:
        nonlocal status
        if msg["type"] == "http.response.start":
            status = msg["status"]
        elif msg["type"] == "http.response.body":
            chunks.append(msg.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


class IssuerDocs(BaseHTTPRequestHandler):
    """Serves the demo issuer's discovery document and JWKS (the node fetches them once, then caches)."""

    docs: dict[str, bytes] = {}

    def do_GET(self) -> None:
        body = self.docs.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: Any) -> None:
        pass


def decode_create_token_with_iam(body: bytes) -> Any:
    """What the skeleton does to a CreateTokenWithIAM body: the protocol's decode, the model check, the mapping."""
    from ssoidc.aws.models import operation, validate
    from ssoidc.aws.oidc import token_request
    from ssoidc.aws.protocols import PROTOCOLS
    from ssoidc.aws.wire import WireRequest

    op = operation("sso-oidc", "CreateTokenWithIAM")
    raw = PROTOCOLS["rest-json"].decode(op, WireRequest("POST", b"/token", b"aws_iam=t", [], body))
    return token_request(validate(op.input_shape, raw, ""))


# ---------------------------------------------------------------------------------------------------- main
async def profile(args: argparse.Namespace, workdir: Path, pool: Any) -> dict[str, Any]:
    from ssoidc.aws.sigv4 import SignedRequest, SigV4Verifier
    from ssoidc.compose import build_services
    from ssoidc.demo import demo_discovery
    from ssoidc.oauth.assertion import peek_issuer, verify_assertion
    from ssoidc.oauth.request import Caller
    from ssoidc.settings import Settings
    from ssoidc.storage.base import Redemption, TokenRecord
    from ssoidc.web.app import build_app

    port = h.free_port()
    base = f"http://127.0.0.1:{port}"
    (workdir / "config.yaml").write_text(yaml.safe_dump(h.bench_config(base, args.users)))
    os.environ.update(h.base_env(args.synchronous))
    settings = Settings(
        data_dir=workdir / "data",
        port=port,
        demo=True,
        allow_insecure_issuers=True,
        config_file=workdir / "config.yaml",
        sqlite_synchronous=args.synchronous,
        database_url=args.database_url,
        **({} if args.family_cap is None else {"max_refresh_families": args.family_cap}),
    ).validate()
    db = "PostgreSQL" if args.database_url else "SQLite"
    refresh = args.grant == "refresh"
    n_warm, n = args.warmup, args.requests
    n_domain, n_rotate = 500, 5 * 400
    seeded: list[str] = []
    if refresh:  # before the node below opens the store, as bench/run.py seeds before the server starts
        print(
            f"seeding {n_warm + 3 * n + n_domain + n_rotate + args.pad} refresh tokens ...", file=sys.stderr
        )
        seeded, *_ = await h.seed_refresh_tokens_async(
            settings, [n_warm + 3 * n + n_domain + n_rotate, args.pad]
        )
    node = await build_services(settings)
    app = build_app(node)
    node.start_background()  # as the ASGI lifespan does: background WAL checkpointer, purge loop
    verifier = SigV4Verifier(
        node.snapshot.credential,
        region=settings.region,
        service="sso-oauth",
        max_skew_seconds=settings.sigv4_max_skew,
    )
    IssuerDocs.docs = {
        "/demo-issuer/.well-known/openid-configuration": json.dumps(demo_discovery(settings)).encode(),
        "/demo-issuer/jwks.json": json.dumps(node.demo_jwks).encode(),
    }
    httpd = ThreadingHTTPServer(("127.0.0.1", port), IssuerDocs)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        demo_key = next(k for k in await node.store.signing_keys("demo-issuer") if k.active)
        kid, pem = demo_key.kid, demo_key.private_pem
        spec = h.SignSpec(port, kid, pem, users=args.users)
        total = n_warm + 3 * n + n_domain
        print(f"signing {total} requests ...", file=sys.stderr)
        if refresh:
            chunks = [(spec, seeded[i : min(i + 250, total)]) for i in range(0, total, 250)]
            reqs = [r for chunk in pool.imap(_sign_refresh_many, chunks) for r in chunk]
        else:
            reqs = [r for chunk in pool.imap(_sign_many, [(spec, 250)] * (total // 250 + 1)) for r in chunk][
                :total
            ]
        scoped = [(scope_for(port, hd), body) for hd, body in reqs]

        for sc, body in scoped[:n_warm]:
            status, out = await call(app, sc, body)
            assert status == 200, out[:300]

        bench_run.wait_idle(args.idle_wait, 10.0)
        m0, own0 = h.machine_ticks(), time.process_time()
        # 1. end to end in-process, no profiler. Each batch is timed in CHUNKS parts and the median part is
        # reported: a WAL checkpoint (background thread) or a neighbour on the machine can stall a few requests.
        size = n // CHUNKS
        walls, cpus = [], []
        batch = scoped[n_warm : n_warm + n]
        for c in range(CHUNKS):
            t0, c0 = time.perf_counter(), time.process_time()
            for sc, body in batch[c * size : (c + 1) * size]:
                status, out = await call(app, sc, body)
                assert status == 200, out[:300]
            walls.append(1e6 * (time.perf_counter() - t0) / size)
            cpus.append(1e6 * (time.process_time() - c0) / size)
        wall_us, cpu_us = statistics.median(walls), statistics.median(cpus)

        # 2. instrumented: timers around the main steps of the same path (a timer costs well under 1 µs)
        import ssoidc.aws.oidc as oidc_mod
        import ssoidc.oauth.grants.jwt_bearer as jwt_bearer_mod
        from ssoidc.aws.protocols import RestJson
        from ssoidc.aws.sigv4 import SigV4Verifier
        from ssoidc.oauth.keys import Signer
        from ssoidc.oauth.service import TokenService
        from ssoidc.oauth.tokens import TokenMinter

        store_cls = type(node.store)  # SqliteStore, or PostgresStore with --postgres

        common = [
            (SigV4Verifier, "verify", "SigV4 verification"),
            (RestJson, "decode", "request JSON decode + shape validation"),
            (oidc_mod, "token_request", "request JSON decode + shape validation"),
            (store_cls, "config_version", f"{db} read: config version check"),
            (TokenService, "authorize_caller", "ActorPolicy evaluation"),
            (Signer, "sign", "idToken ES256 signing"),
            (TokenMinter, "mint", "access + refresh token minting"),
            (TokenMinter, "seal_identity_context", "identity context seal (AES-GCM)"),
            (RestJson, "encode", "response JSON encode"),
        ]
        specific: list[tuple[object, str, str]]  # classes or modules, and the attribute to time
        if refresh:
            specific = [
                (TokenMinter, "open_refresh", "sealed refresh token open (AES-SIV + JSON + SHA-256)"),
                (TokenMinter, "mint_refresh", "sealed refresh token mint (AES-SIV)"),
                (store_cls, "find_token", f"{db} read: find_token (token row + revoked family)"),
                (
                    store_cls,
                    "rotate_refresh",
                    f"{db} rotate txn: retire the old token + 2 token rows + COMMIT (group commit)",
                ),
            ]
        else:
            specific = [
                (jwt_bearer_mod, "peek_issuer", "assertion: peek_issuer (parse to pick the issuer)"),
                (
                    jwt_bearer_mod,
                    "verify_assertion",
                    "assertion: verify_assertion (signature, claims; parsed by peek_issuer)",
                ),
                (jose, "verify", "  of which the RS256 signature check"),
                (store_cls, "issue", f"{db} write txn: jti + 2 token rows + COMMIT"),
            ]
        totals, restore = instrument(common + specific)
        batch = scoped[n_warm + n : n_warm + 2 * n]
        glue = "everything else: ASGI handler, grant/issuer glue, claims, records"
        parts: list[dict[str, float]] = []
        try:
            for c in range(CHUNKS):
                before = dict(totals)
                t0 = time.perf_counter()
                for sc, body in batch[c * size : (c + 1) * size]:
                    status, out = await call(app, sc, body)
                    assert status == 200, out[:300]
                wall = time.perf_counter() - t0
                part = {k: 1e6 * (v - before[k]) / size for k, v in totals.items()}
                part[glue] = 1e6 * wall / size - sum(v for k, v in part.items() if not k.startswith(" "))
                parts.append(part)
        finally:
            restore()
        m1, own1 = h.machine_ticks(), time.process_time()
        window = (m1[1] - m0[1]) / h.CLK / (os.cpu_count() or 1)
        foreign_pct = 100.0 * max(0.0, (m1[0] - m0[0]) / h.CLK - (own1 - own0)) / max(window, 1e-9)
        steps = {k: statistics.median(p[k] for p in parts) for k in parts[0]}
        step_range = {k: (min(p[k] for p in parts), max(p[k] for p in parts)) for k in parts[0]}

        # 3. profiled
        from pyinstrument import Profiler

        profiler = Profiler(interval=args.interval, async_mode="disabled")
        batch = scoped[n_warm + 2 * n : n_warm + 3 * n]
        profiler.start()
        for sc, body in batch:
            status, _ = await call(app, sc, body)
        profiler.stop()
        session = profiler.last_session
        assert session is not None
        cats = breakdown(session.root_frame(trim_stem=False))

        # 4. components on their own
        hd, body = reqs[0]
        sc = scope_for(port, hd)
        now = time.time()
        signed = SignedRequest("POST", b"/token", b"aws_iam=t", sc["headers"], body)
        verified = verifier.verify(signed, now)
        treq = decode_create_token_with_iam(body)
        directory = await node.snapshot.refresh()
        application = directory.applications[treq.client_id]
        caller = Caller(verified.principal_arn, verified.access_key_id, "127.0.0.1", None)
        tti = next(iter(directory.issuers.values()))
        claims = {
            "iss": f"{base}/{directory.instance.instance_id}",
            "sub": h.USER_ID,
            "aud": application.arn,
            "iat": int(now),
            "exp": int(now) + 3600,
            "auth_time": "2026-01-01T00:00:00Z",
            "aws:identity_store_id": directory.instance.identity_store_id,
            "aws:identity_store_arn": directory.instance.identity_store_arn,
            "aws:instance_arn": directory.instance.instance_arn,
            "aws:instance_account": directory.instance.owner_account_id,
            "aws:credential_id": "x" * 22,
            "aws:application_arn": application.arn,
            "sts:identity_context": "y" * 300,
            "act": {"sub": tti.arn},
        }
        ctx_doc = {"v": 1, "iss": claims["iss"], "sub": h.USER_ID, "isa": "arn", "app": application.arn,
                   "iat": 1, "exp": 2, "fam": "f" * 22}  # fmt: skip

        def records(
            grant_type: str = h.JWT_BEARER, family: str = "", parent: bytes | None = None
        ) -> list[Any]:
            common = dict(family_id=family or secrets.token_urlsafe(16), parent_hash=parent,
                          application_arn=application.arn, user_id=h.USER_ID, scopes=("openid", "aws"),
                          issued_at=now, expires_at=now + 3600, session_expires_at=now + 28800,
                          grant_type=grant_type, context={"auth_time": now, "act": {"sub": tti.arn}})  # fmt: skip
            return [
                TokenRecord(token_hash=secrets.token_bytes(32), kind="access", **common),  # type: ignore[arg-type]
                TokenRecord(token_hash=secrets.token_bytes(32), kind="refresh", **common),  # type: ignore[arg-type]
            ]

        async def version() -> None:
            await node.store.config_version()

        # The domain alone (no HTTP, no SigV4, no codec) needs a fresh assertion or refresh token each time: use
        # the requests signed for it and never sent.
        spare = [decode_create_token_with_iam(b) for _, b in reqs[n_warm + 3 * n :]]
        it = iter(spare)

        async def domain() -> None:
            await node.create_token(next(it), caller)

        comps = {
            "SigV4 verify (parse, canonical request, SHA-256 x2, cached signing key, HMAC)": timeit_us(
                lambda: verifier.verify(signed, time.time())
            ),
            "request JSON decode + shape validation": timeit_us(lambda: decode_create_token_with_iam(body)),
            "ActorPolicy evaluation (authorize_caller)": timeit_us(
                lambda: node.token_service.authorize_caller(directory, application, caller, now)
            ),
        }
        if refresh:
            assert treq.refresh_token
            refresh_token = treq.refresh_token

            # Hashes of seeded tokens no request used, in random order over the table (not one hot page).
            def token_hash(token: str) -> bytes:
                opened = node.minter.open_refresh(token, application.arn)
                assert opened is not None
                return opened[0]

            rotate_hashes = [token_hash(t) for t in seeded[total : total + n_rotate]]
            find_hashes = [token_hash(t) for t in seeded[: total + n_rotate]]
            random.shuffle(find_hashes)
            finds = itertools.cycle(find_hashes)
            rotations = iter(rotate_hashes)

            async def find() -> None:
                await node.store.find_token(next(finds))

            async def rotate() -> None:
                old = next(rotations)
                assert old is not None
                outcome = await node.store.rotate_refresh(
                    old, application.arn, time.time(), 5.0, records(h.REFRESH_TOKEN, "fam", old)
                )
                assert outcome is Redemption.OK, outcome

            comps |= {
                "sealed refresh token open (AES-SIV + JSON + SHA-256, TokenMinter.open_refresh)": timeit_us(
                    lambda: node.minter.open_refresh(refresh_token, application.arn)
                ),
                f"{db} find_token (not in the path of a sealed token), random seeded tokens": await atimeit_us(
                    find, 5000
                ),
                f"{db} rotate txn (retire + 2 tokens, COMMIT, synchronous={args.synchronous})": await atimeit_us(
                    rotate, n_rotate // 5
                ),
            }
        else:
            assert treq.assertion
            assertion = treq.assertion
            parsed = peek_issuer(assertion)
            key = await node.jwks.get_signing_key(tti.issuer_url, kid, "RS256")
            signing_part, _, signature_part = assertion.rpartition(".")
            signing_input, signature = signing_part.encode("ascii"), b64u_decode(signature_part)

            async def issue() -> None:
                await node.store.issue(records(), jti=(tti.issuer_url, secrets.token_urlsafe(16), now + 660))

            async def verify() -> None:
                await verify_assertion(parsed, issuer_url=tti.issuer_url, allowed_algorithms=("RS256",),
                                       keys=node.jwks, now=time.time(), leeway_seconds=60)  # fmt: skip

            comps |= {
                "assertion: peek_issuer (parse only)": timeit_us(lambda: peek_issuer(assertion)),
                "assertion: verify_assertion (RS256 verify + claims, already parsed)": await atimeit_us(
                    verify, 2000
                ),
                "assertion: RS256 signature check only (jose.verify)": timeit_us(
                    lambda: jose.verify(signing_input, signature, key.key, "RS256")
                ),
                f"{db} issue txn (jti + 2 tokens, COMMIT, synchronous={args.synchronous})": await atimeit_us(
                    issue, 1000
                ),
            }
        comps |= {
            "idToken ES256 sign (Signer.sign)": timeit_us(lambda: node.signer.sign(claims)),
            "identity context seal (AES-GCM + base64)": timeit_us(
                lambda: node.minter.seal_identity_context(ctx_doc)
            ),
            "mint one access/refresh token": timeit_us(lambda: node.minter.mint("access")),
            f"{db} config version read": await atimeit_us(version, 20000),
            "domain: TokenService.create_token_with_iam (no HTTP/SigV4/codec)": await atimeit_us(
                domain, n_domain // 5
            ),
        }
        text = profiler.output_text(unicode=True, color=False, show_all=False)
        html = profiler.output_html() if args.html else ""
        return {
            "foreign_pct": foreign_pct, "wall_us": wall_us, "cpu_us": cpu_us, "wall_parts": walls, "cpu_parts": cpus, "n": n, "steps": steps,
            "step_range": step_range, "cats": cats, "components": comps, "tree": text, "html": html,
        }  # fmt: skip
    finally:
        httpd.shutdown()
        await node.close()


def _sign_many(job: tuple[h.SignSpec, int]) -> list[tuple[list[tuple[str, str]], bytes]]:
    spec, k = job
    return [h.one_signed_request(spec) for _ in range(k)]


def _sign_refresh_many(job: tuple[h.SignSpec, list[str]]) -> list[tuple[list[tuple[str, str]], bytes]]:
    spec, tokens = job
    return [h.one_signed_request(spec, t) for t in tokens]


def calibration() -> dict[str, float]:
    """Primitives the peer benchmark's limit/microbench.py also timed (cryptography directly), on this machine."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    eck = ec.generate_private_key(ec.SECP256R1())
    rsak = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    msg = b"e" * 600
    tok = secrets.token_urlsafe(32).encode()
    rsig = rsak.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    return {
        "ES256 sign, cryptography direct": timeit_us(lambda: eck.sign(msg, ec.ECDSA(hashes.SHA256()))),
        "RS256 sign, cryptography direct": timeit_us(
            lambda: rsak.sign(msg, padding.PKCS1v15(), hashes.SHA256())
        ),
        "RS256 verify, cryptography direct": timeit_us(
            lambda: rsak.public_key().verify(rsig, msg, padding.PKCS1v15(), hashes.SHA256())
        ),
        "sha256(token)": timeit_us(lambda: hashlib.sha256(tok).digest()),
        "secrets.token_urlsafe(32)": timeit_us(lambda: secrets.token_urlsafe(32)),
    }


PEER = {  # the peer benchmark's "Limit" table, measured on its machine (docs/benchmarks.md, "Machine")
    "ES256 sign, cryptography direct": 27.69,
    "RS256 sign, cryptography direct": 302.82,
    "sha256(token)": 0.35,
    "secrets.token_urlsafe(32)": 0.72,
}


def live(args: argparse.Namespace, workdir: Path, pool: Any) -> dict[str, Any]:
    """One uvicorn worker (httptools, uvloop) in this process under the profiler, loaded by wrk from 127.0.0.1."""
    import uvicorn
    from pyinstrument import Profiler

    from ssoidc.web.app import create_app

    port = h.free_port()
    server_info = h.Server("uvicorn", port, workdir, 1, args.synchronous)
    server_info.data_dir.mkdir(parents=True, exist_ok=True)
    server_info.config_path.write_text(yaml.safe_dump(h.bench_config(server_info.url)))
    os.environ.update(h.base_env(args.synchronous))
    n = int(args.live_rate * args.live_seconds * 1.3)
    n_warm = max(500, n // 3)
    warm_tokens: list[str] = []
    live_tokens: list[str] = []
    smoke_token: str | None = None
    if args.grant == "refresh":  # before the server opens the store, as bench/run.py does
        (smoke_token,), warm_tokens, live_tokens = h.seed_refresh_tokens(
            server_info.settings(), [1, n_warm, n]
        )
    app = create_app(server_info.settings())
    holder: dict[str, Any] = {}

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            holder["loop"] = asyncio.get_running_loop()
        await app(scope, receive, send)

    config = uvicorn.Config(
        asgi,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    profiler = Profiler(interval=args.interval, async_mode="disabled")
    out: dict[str, Any] = {}

    def drive() -> None:
        try:
            deadline = time.monotonic() + 60
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.05)
            if smoke_token is not None:
                spec = h.SignSpec(port)
                bench_run.smoke(server_info, pool, spec, smoke_token)
                h.write_refresh_file(pool, spec, workdir / "warm.req", warm_tokens)
                h.write_refresh_file(pool, spec, workdir / "live.req", live_tokens)
            else:
                kid, pem = h.read_demo_issuer_key(server_info.data_dir)
                spec = h.SignSpec(port, kid, pem)
                bench_run.smoke(server_info, pool, spec)
                h.write_request_file(pool, spec, workdir / "warm.req", n_warm)
                h.write_request_file(pool, spec, workdir / "live.req", n)
            bench_run.run_wrk(server_info.url, workdir / "warm.req", 2, args.live_conns, 1)
            loop = holder["loop"]
            loop.call_soon_threadsafe(profiler.start)  # the profiler samples the thread that starts it
            time.sleep(0.2)
            out["wrk"] = bench_run.run_wrk(
                server_info.url, workdir / "live.req", args.live_seconds, args.live_conns, 1
            )
            done = threading.Event()

            def stop_profiler() -> None:
                profiler.stop()
                done.set()

            loop.call_soon_threadsafe(stop_profiler)
            done.wait(30)
        finally:
            server.should_exit = True

    threading.Thread(target=drive, daemon=True).start()
    server.run()
    session = profiler.last_session
    if session is None or "wrk" not in out:
        raise RuntimeError("live profile did not complete")
    session.save(str(OUT / "profile-live-last.pyisession"))
    cats = breakdown(session.root_frame(trim_stem=False))
    if OUTSIDE in cats:
        cats[LIVE_OUTSIDE] = cats.pop(OUTSIDE)
    return {
        "wrk": out["wrk"],
        "cats": cats,
        "tree": profiler.output_text(unicode=True, color=False, show_all=False),
        "html": profiler.output_html() if args.html else "",
    }


def print_live(a: argparse.Namespace, res: dict[str, Any]) -> None:
    w = res["wrk"]
    print(
        f"\n## Live uvicorn worker ({a.grant}; 1 process, httptools + uvloop) under pyinstrument, wrk -c{a.live_conns}\n"
    )
    print(f"{w['rps']:.0f} tokens/s while profiled (the profiler slows it down; read shares, not rates), "
          f"{w['non2xx']} non-2xx\n")  # fmt: skip
    print("| category | share of the worker's samples |")
    print("|---|---|")
    total = sum(res["cats"].values())
    for cat, t in sorted(res["cats"].items(), key=lambda kv: -kv[1]):
        print(f"| {cat} | {100 * t / total:.1f}% |")
    lines = res["tree"].splitlines()
    print(f"\n### pyinstrument call tree (top {a.tree_lines} lines)\n")
    print("\n".join(lines[: a.tree_lines]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--requests", type=int, default=3000, help="requests timed, and again profiled (default 3000)"
    )
    p.add_argument(
        "--grant", default="jwt-bearer", choices=["jwt-bearer", "refresh"], help="grant to profile"
    )
    p.add_argument("--idle-wait", type=float, default=300, help="max seconds to wait for an idle machine")
    p.add_argument(
        "--warmup", type=int, default=1000, help="requests sent before anything is timed (default 1000)"
    )
    p.add_argument("--pad", type=int, default=50000, help="--grant refresh: extra unused tokens seeded so the table"
                   " is as large as in a load run (default 50000)")  # fmt: skip
    p.add_argument("--synchronous", default="NORMAL", choices=["NORMAL", "FULL"])
    p.add_argument("--postgres", action="store_true", help="store in PostgreSQL (a fresh schema on --pg-url, dropped"
                   " afterwards) instead of SQLite; not with --live")  # fmt: skip
    p.add_argument(
        "--users", type=int, default=1, help="users the assertions go round (bench/run.py --users)"
    )
    p.add_argument(
        "--family-cap",
        type=int,
        default=None,
        help="SSOIDC_MAX_REFRESH_FAMILIES for the node (default: its default)",
    )
    p.add_argument("--pg-url", default=os.environ.get("SSOIDC_BENCH_PG_URL", h.DEFAULT_PG_URL),
                   help="PostgreSQL server for --postgres (default $SSOIDC_BENCH_PG_URL or %(default)s)")  # fmt: skip
    p.add_argument("--interval", type=float, default=0.0002, help="pyinstrument sampling interval, s")
    p.add_argument("--html", default="", help="also write pyinstrument's HTML report here")
    p.add_argument("--tree-lines", type=int, default=70, help="lines of the call tree to print")
    p.add_argument("--live", action="store_true", help="profile a live uvicorn worker under wrk load instead")
    p.add_argument("--live-conns", type=int, default=64, help="wrk connections in --live mode (default 64)")
    p.add_argument("--live-seconds", type=int, default=8, help="profiled wrk run in --live mode (default 8)")
    p.add_argument("--live-rate", type=float, default=800, help="tokens/s guess that sizes the --live file")
    a = p.parse_args()
    if a.users < 1:
        p.error("--users must be at least 1")
    a.database_url = ""
    schema = ""
    if a.postgres:
        if a.live:
            p.error("--postgres works in-process only, not with --live")
        schema = f"ssoidc_profile_{os.getpid()}_{secrets.token_hex(4)}"
        a.database_url = pgstats.pg_url(a.pg_url, schema)

    import uvloop

    OUT.mkdir(exist_ok=True)
    workdir = h.scratch_dir("ssoidc-profile-")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    if a.live:
        try:
            with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool:
                res = live(a, workdir, pool)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if a.html:
            Path(a.html).write_text(res["html"])
        res.pop("html", None)
        print_live(a, res)
        out = OUT / f"profile-live-{a.grant}-{stamp}.json"
        out.write_text(json.dumps({"args": vars(a), "source": h.source_fingerprint(), **res}, indent=1))
        print(f"\nraw: {out}")
        return 0
    try:
        with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool:
            res = uvloop.run(profile(a, workdir, pool))
        cal = calibration()
        if a.html:
            Path(a.html).write_text(res.pop("html"))
        res.pop("html", None)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if schema:
            drop_schema(a.database_url, schema)

    total = sum(res["cats"].values())
    app_total = total - res["cats"].get(OUTSIDE, 0.0)
    grant = "JWT bearer" if a.grant == "jwt-bearer" else "refresh_token"
    print(f"\n## In-process CreateTokenWithIAM ({grant}), {res['n']} requests one at a time, "
          + (f"PostgreSQL ({a.pg_url})" if a.postgres else f"SQLite synchronous={a.synchronous}") + "\n")  # fmt: skip
    print(f"end to end through the ASGI app, no profiler: {res['wall_us']:.0f} µs/request wall, "
          f"{res['cpu_us']:.0f} µs CPU (excludes the HTTP server: uvicorn/httptools parsing, sockets); median of"
          f" {CHUNKS} parts, wall {min(res['wall_parts']):.0f}-{max(res['wall_parts']):.0f}; other processes used"
          f" {res['foreign_pct']:.0f}% of a core meanwhile\n")  # fmt: skip
    print("### Where the µs go: timers around each step of the same path (no profiler)\n")
    print(f"| step | µs/request (median of {CHUNKS} parts) | min-max of the parts | share |")
    print("|---|---|---|---|")
    total_steps = sum(v for k, v in res["steps"].items() if not k.startswith(" "))
    for name, us in sorted(res["steps"].items(), key=lambda kv: -kv[1]):
        if not name.startswith(" "):
            lo, hi = res["step_range"][name]
            print(f"| {name} | {us:.0f} | {lo:.0f}-{hi:.0f} | {100 * us / total_steps:.1f}% |")
            sub = [
                (k, v)
                for k, v in res["steps"].items()
                if k.startswith(" ") and name.startswith("assertion: v")
            ]
            for k, v in sub:
                print(f"| {k.strip()} | ({v:.0f}) | | ({100 * v / total_steps:.1f}%) |")
    print(f"| **total (sum of the medians)** | **{total_steps:.0f}** | | |")
    print("\n### Profile breakdown (pyinstrument samples, share of the app's samples; the profiler inflates")
    print("pure-Python code more than C code, so read the table above for µs)\n")
    print("| category | share of app samples |")
    print("|---|---|")
    for cat, t in sorted(res["cats"].items(), key=lambda kv: -kv[1]):
        if cat == OUTSIDE:
            continue
        share = t / app_total if app_total else 0.0
        print(f"| {cat} | {100 * share:.1f}% |")
    print(
        f"\n(outside the app, not counted above: {100 * res['cats'].get(OUTSIDE, 0.0) / total:.1f}% of samples)\n"
    )
    print("### Components timed on their own (µs/op, median of 5 batches)\n")
    print("| component | µs/op |")
    print("|---|---|")
    for name, us in res["components"].items():
        print(f"| {name} | {us:.1f} |")
    print("\n### Machine calibration: primitives also timed by the peer benchmark (µs/op)\n")
    print("| primitive | this machine | peer machine | ratio |")
    print("|---|---|---|---|")
    for name, us in cal.items():
        peer = PEER.get(name)
        ratio = f"{us / peer:.2f}x" if peer else "-"
        print(f"| {name} | {us:.2f} | {peer if peer else '-'} | {ratio} |")
    lines = res["tree"].splitlines()
    print(f"\n### pyinstrument call tree (top {a.tree_lines} lines)\n")
    print("\n".join(lines[: a.tree_lines]))
    out = OUT / f"profile-{a.grant}{'-postgres' if a.postgres else ''}-{stamp}.json"
    out.write_text(
        json.dumps({"args": vars(a), "source": h.source_fingerprint(), **res, "calibration": cal}, indent=1)
    )
    print(f"\nraw: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

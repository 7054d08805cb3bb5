"""What the refresh-family cap costs the store: ``SqliteStore.issue`` of a new session (an access and a parentless
refresh token, with a jti), the cap off against the default cap, in one process, interleaved rounds.

Requests are issued ``--concurrency`` at a time (``asyncio.gather``), so they share group commits as under load, and
the cost is the process's CPU time per issue (``time.process_time``: the WAL checkpointer thread, started as a
server starts it, included), not wall time. Assertions go round ``--users`` users at random, so each holds fewer sessions than the cap (as in a
real directory); ``--users 1`` shows the cap's eviction path (every session past the 100th revokes the oldest).

    .venv/bin/python bench/family_cap.py [--users 1000] [--rounds 5] [--requests 3200] [--concurrency 16]
                                         [--src DIR]   # another revision's ssoidc/ (git worktree), for an A/B
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

APP = "arn:aws:sso::123456789012:application/ssoins-0000000000000001/apl-0000000000000001"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def records(token_record: Any, user: str, now: float) -> list[Any]:
    common: dict[str, Any] = dict(
        family_id=secrets.token_urlsafe(16),
        parent_hash=None,
        application_arn=APP,
        user_id=user,
        scopes=("openid", "aws"),
        issued_at=now,
        expires_at=now + 3600,
        session_expires_at=now + 28800,
        grant_type=JWT_BEARER,
        context={"auth_time": now, "act": {"sub": "arn:aws:sso::123456789012:trustedTokenIssuer/x/tti-1"}},
    )
    return [
        token_record(token_hash=secrets.token_bytes(32), kind="access", **common),
        token_record(token_hash=secrets.token_bytes(32), kind="refresh", **common),
    ]


async def measure(args: argparse.Namespace, workdir: Path) -> dict[int, list[float]]:
    from ssoidc.storage.base import TokenRecord
    from ssoidc.storage.sqlite import SqliteStore

    users = [f"0000000002-00000000-0000-4000-8000-{i:012d}" for i in range(args.users)]
    caps = (0, args.cap)
    stores = {cap: SqliteStore(workdir / f"cap{cap}.db", master_key=bytes(32)) for cap in caps}
    for store in stores.values():
        store.start_background()  # as a server: WAL checkpoints once a second in a thread of their own
    out: dict[int, list[float]] = {cap: [] for cap in caps}
    try:
        for r in range(args.rounds):
            order = list(stores.items())
            for cap, store in order if r % 2 == 0 else order[::-1]:  # neither always goes first
                now = time.time()
                batch = [
                    records(TokenRecord, users[secrets.randbelow(len(users))], now)
                    for _ in range(args.requests)
                ]
                jtis = [("bench", secrets.token_urlsafe(16), now + 600) for _ in range(args.requests)]
                c = args.concurrency
                t0 = time.process_time()
                for k in range(0, args.requests, c):
                    pairs = zip(batch[k : k + c], jtis[k : k + c], strict=True)
                    await asyncio.gather(*[store.issue(b, jti=j, family_cap=cap) for b, j in pairs])
                out[cap].append(1e6 * (time.process_time() - t0) / args.requests)
    finally:
        for store in stores.values():
            await store.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--cap", type=int, default=100, help="the capped variant's SSOIDC_MAX_REFRESH_FAMILIES")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--requests", type=int, default=3200, help="issues per variant and round")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--src", default="", help="import ssoidc from this directory (another revision's tree)")
    args = p.parse_args()
    if args.users < 1:
        p.error("--users must be at least 1")
    sys.path.insert(0, args.src or str(Path(__file__).resolve().parents[1]))
    with tempfile.TemporaryDirectory(prefix="ssoidc-family-cap-") as tmp:
        out = asyncio.run(measure(args, Path(tmp)))
    off = statistics.median(out[0])
    for cap, values in out.items():
        med = statistics.median(values)
        extra = "" if cap == 0 else f"  (+{med - off:.1f} µs over the cap off)"
        print(f"cap {cap:>5}: {med:6.1f} µs CPU per issue ({min(values):.1f}-{max(values):.1f}){extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

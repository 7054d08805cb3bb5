"""How long ``ssoidc.testing`` takes: importing it, the first server, each later server, and the sample suite.

Measured in fresh subprocesses so nothing is cached from this one:

1. ``import ssoidc.testing`` (median of 5 interpreters);
2. in one interpreter, ``--servers`` consecutive ``ssoidc.testing.server()`` starts (first, then median and max of
   the rest; start = from the call to the yielded server, which has answered nothing yet) and the stop time;
3. the sample suite ``examples/`` under pytest, serial and with ``-n 2`` (pytest-xdist), wall time of the whole run.

    .venv/bin/python bench/testing_startup.py [--servers 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STARTS = """
import json, sys, time
t0 = time.perf_counter()
import ssoidc.testing
t1 = time.perf_counter()
starts, stops = [], []
for _ in range(int(sys.argv[1])):
    a = time.perf_counter()
    with ssoidc.testing.server() as srv:
        b = time.perf_counter()
        srv.client("sso-admin").list_instances()
        c = time.perf_counter()
    stops.append(time.perf_counter() - c)
    starts.append(b - a)
print(json.dumps({"import": t1 - t0, "starts": starts, "stops": stops}))
"""


def run(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", type=int, default=20)
    args = ap.parse_args()
    imports = []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-c", "import time; t=time.perf_counter(); import ssoidc.testing;"
             " print(time.perf_counter()-t)"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        )  # fmt: skip
        imports.append(float(out.stdout))
    out = subprocess.run(
        [sys.executable, "-c", STARTS, str(args.servers)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    doc = json.loads(out.stdout)
    starts, stops = doc["starts"], doc["stops"]
    later = starts[1:]
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples"]
    serial = run([*pytest, "-n", "0"])
    parallel = run([*pytest, "-n", "2"])
    print(f"import ssoidc.testing: median {statistics.median(imports) * 1000:.0f} ms (5 interpreters)")
    print(f"first server: {starts[0] * 1000:.0f} ms")
    print(
        f"later servers ({len(later)}): median {statistics.median(later) * 1000:.0f} ms,"
        f" max {max(later) * 1000:.0f} ms; stop median {statistics.median(stops) * 1000:.0f} ms"
    )
    print(
        f"examples/ suite: {serial:.1f} s serial, {parallel:.1f} s with -n 2 (wall, including interpreter start)"
    )


if __name__ == "__main__":
    main()

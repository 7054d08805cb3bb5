"""The pure pieces of the scale benchmark (``bench/scale_plan.py``): schedule, percentiles, the rate model and
budget decisions, and the tables. No server, no clock."""

from __future__ import annotations

import sys

import pytest

from tests.helpers.config import ROOT

sys.path.insert(0, str(ROOT / "bench"))  # bench/ holds top-level script modules, not a package

import scale_plan as sp  # needs bench/ on sys.path (above)


def test_parse_ints_and_schedule() -> None:
    assert sp.parse_ints("1, 16") == [1, 16]
    assert sp.parse_ints("1k,3k,1e4,") == [1000, 3000, 10000]
    with pytest.raises(ValueError):
        sp.parse_ints("1.5")
    assert sp.schedule(sp.DEFAULT_CHECKPOINTS, 100000) == [1000, 3000, 10000, 30000, 100000]
    assert sp.schedule(sp.DEFAULT_CHECKPOINTS, 3000) == [1000, 3000]
    assert sp.schedule([3000, 1000, 1000, 0], 5000) == [1000, 3000, 5000]
    assert sp.schedule([], 200) == [200]
    with pytest.raises(ValueError):
        sp.schedule([1000], 0)


def test_percentile() -> None:
    assert sp.percentile([], 50) is None
    assert sp.percentile([3.0], 90) == 3.0
    assert sp.percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert sp.percentile([float(i) for i in range(1, 11)], 90) == pytest.approx(9.1)
    assert sp.ms([0.001, 0.003], 100) == pytest.approx(3.0)


def quadratic_step(start: int, end: int, a: float, b: float) -> list[tuple[float, int]]:
    """Samples of a step whose user n costs ``a + b * n`` seconds (today's O(N) CreateUser)."""
    t, out = 0.0, []
    for n in range(start + 1, end + 1):
        t += a + b * n
        out.append((t, n))
    return out


def test_rate_model_predicts_a_linear_cost() -> None:
    a, b = 0.005, 3.3e-5  # about issue 12's SQLite figures: 105 ms per CreateUser at 3,000 users
    model = sp.fit_rate(quadratic_step(1000, 3000, a, b))
    assert model is not None
    assert model.slope == pytest.approx(b, rel=0.05)
    actual = sum(a + b * n for n in range(3001, 10001))
    assert model.seconds_to(3000, 10000) == pytest.approx(actual, rel=0.05)
    assert model.seconds_to(3000, 3000) == 0.0
    assert sp.end_rate(quadratic_step(1000, 3000, a, b)) == pytest.approx(1 / (a + b * 2800), rel=0.05)


def test_rate_model_is_pessimistic_for_a_superlinear_cost() -> None:
    samples = [(sum(1e-8 * m * m for m in range(1001, n + 1)), n) for n in range(1001, 3001)]
    model = sp.fit_rate(samples)  # user n costs 1e-8 n^2 s: the line alone would under-predict
    assert model is not None and model.exponent == pytest.approx(2.0, rel=0.1)
    actual = sum(1e-8 * n * n for n in range(3001, 10001))
    line = sp.RateModel(model.at, model.seconds_per_user, model.slope, exponent=0.0)
    assert line.seconds_to(3000, 10000) < 0.5 * actual
    assert model.seconds_to(3000, 10000) == pytest.approx(actual, rel=0.1)


def test_rate_model_flat_and_too_few_samples() -> None:
    flat = sp.fit_rate([(0.002 * i, 100 + i) for i in range(1, 501)])
    assert flat is not None and flat.slope == 0.0
    assert flat.seconds_to(600, 100600) == pytest.approx(200.0, rel=0.01)
    assert sp.fit_rate([(0.1, 2)] * 9) is None
    assert sp.end_rate([]) == 0.0


def test_next_step_decisions() -> None:
    model = sp.fit_rate(quadratic_step(1000, 3000, 0.005, 3.3e-5))
    first = sp.next_step(None, 1, 1000, step_budget=300, series_left=900)
    assert first.go and first.allowance_s == 300 and first.predicted_s is None
    near = sp.next_step(model, 3000, 3500, step_budget=300, series_left=900)
    assert near.go and near.predicted_s is not None and near.predicted_s < 300
    far = sp.next_step(model, 3000, 10000, step_budget=300, series_left=900)
    assert not far.go and far.reason.startswith("budget: 10,000 users predicted in")
    short = sp.next_step(model, 3000, 3500, step_budget=300, series_left=10)
    assert not short.go and short.allowance_s == 10
    spent = sp.next_step(None, 1, 1000, step_budget=300, series_left=-1)
    assert not spent.go and spent.reason == "overall budget spent"
    assert sp.series_share(900, 3) == 300


def checkpoint(target: int, users: int, **kw: object) -> sp.Checkpoint:
    cp: sp.Checkpoint = {
        "target": target, "users": users, "partial": users < target, "step_s": 10.0, "step_created": users,
        "rate": 100.0, "rate_end": 50.0, "prov_p50_ms": 5.0, "prov_p90_ms": 9.0, "errors": {},
        "measure_errors": {}, "create_p50_ms": 10.0, "create_p90_ms": 12.0, "list_p50_ms": 2.0,
        "list_p90_ms": 3.0, "token_p50_ms": 5.0, "token_p90_ms": 6.0, "visible_p50_ms": 4.0,
        "visible_max_ms": 8.0, "visible_polls": 1.0, "rss_mb": {"a": [30.0, 80.0, 82.0]},
        "worker_rss_mb": 82.0, "store_mb": 1.0, "cpu": {"foreign": 0.05},
    }  # fmt: skip
    cp.update(kw)  # type: ignore[typeddict-item]
    return cp


def test_tables() -> None:
    series: list[sp.Series] = [
        {
            "store": "sqlite",
            "clients": 16,
            "checkpoints": [
                checkpoint(1000, 1001),
                checkpoint(3000, 2500, create_p50_ms=30.0, errors={"ConflictException": 3, "ReadTimeoutError": 1}),
            ],
            "stopped": "budget: step allowance spent",
            "wall_s": 300.0,
        }
    ]  # fmt: skip
    table = sp.markdown(series)
    assert "| SQLite, 16 clients | 2,500 (of 3,000, budget) |" in table
    assert "4 (ConflictException 3, ReadTimeoutError 1)" in table
    assert table.count("\n") == 4
    ratios = sp.ratios_markdown(series)
    assert "| 1,001 → 2,500 | 2.50x | 3.00x |" in ratios
    targets = sp.targets_markdown(series)
    assert "bulk ≥ 500 users/s with zero errors | 100.0 to 100.0 users/s, 4 errors | no |" in targets
    assert "2,500 users (partial): 3.00x of 1,001 | not reached |" in targets
    assert sp.errors_text({}) == "0"
    assert "SQLite, 16 clients: budget: step allowance spent (300 s in all)" in sp.stops(series)

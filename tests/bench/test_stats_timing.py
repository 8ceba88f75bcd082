"""Statistics and the timing loop on known inputs (a fake clock: no real timing is asserted)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from agegender_edge.bench.stats import median, percentile, summarize
from agegender_edge.bench.timing import Budget, run_timed


@pytest.mark.parametrize("q", [0, 10, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy_linear(q):
    xs = sorted(np.random.default_rng(1).exponential(size=37).tolist())
    assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)), rel=1e-12)


def test_summarize_known_samples():
    st = summarize([0.004, 0.001, 0.003, 0.002], items_per_call=8)   # seconds, unsorted on purpose
    assert (st.n, st.items_per_call) == (4, 8)
    assert st.min_ms == pytest.approx(1.0) and st.max_ms == pytest.approx(4.0)
    assert st.mean_ms == pytest.approx(2.5) and st.median_ms == pytest.approx(2.5)
    assert st.p90_ms == pytest.approx(3.7) and st.p95_ms == pytest.approx(3.85) and st.p99_ms == pytest.approx(3.97)
    assert st.std_ms == pytest.approx(math.sqrt(5 / 3), rel=1e-9)      # sample std of 1,2,3,4
    assert st.total_s == pytest.approx(0.010)
    assert st.items_per_s == pytest.approx(8 * 4 / 0.010)              # 3200 faces/s
    assert set(st.to_dict()) >= {"min_ms", "mean_ms", "median_ms", "p90_ms", "p95_ms", "p99_ms", "items_per_s"}


def test_summarize_single_sample_and_median():
    st = summarize([0.5])
    assert st.min_ms == st.median_ms == st.p99_ms == pytest.approx(500.0) and st.std_ms == 0.0
    assert median([3.0, 1.0, 2.0, 10.0]) == pytest.approx(2.5)


@pytest.mark.parametrize("bad", [[], [-0.1], [float("nan")], [float("inf")]])
def test_summarize_rejects_bad_samples(bad):
    with pytest.raises(ValueError):
        summarize(bad)


def test_summarize_rejects_zero_items():
    with pytest.raises(ValueError):
        summarize([0.1], items_per_call=0)


@pytest.mark.parametrize("spec,count,seconds", [("20", 20, None), ("0", 0, None), ("2s", None, 2.0),
                                                ("1.5s", None, 1.5), ("500ms", None, 0.5), (" 3 s ", None, 3.0)])
def test_budget_parse(spec, count, seconds):
    b = Budget.parse(spec)
    assert (b.count, b.seconds) == (count, seconds)


@pytest.mark.parametrize("spec", ["abc", "2.5", "-1", "2min", ""])
def test_budget_parse_rejects(spec):
    with pytest.raises(ValueError):
        Budget.parse(spec)


def test_budget_needs_exactly_one_limit():
    with pytest.raises(ValueError):
        Budget(count=1, seconds=1.0)
    with pytest.raises(ValueError):
        Budget()


class FakeClock:
    def __init__(self, step: float):
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        return self.t

    def work(self) -> None:
        self.t += self.step


def test_run_timed_counts_warmup_apart():
    clock = FakeClock(0.01)
    calls, progress = [], []
    samples = run_timed(lambda: (calls.append(1), clock.work()), Budget(count=5), Budget(count=10),
                        progress=lambda done, el: progress.append(done), clock=clock)
    assert len(calls) == 15                  # 5 warm-up calls + 10 measured
    assert len(samples) == 10 and all(s == pytest.approx(0.01) for s in samples)
    assert progress == list(range(1, 11))    # progress reported for measured calls only


def test_run_timed_duration_budget():
    clock = FakeClock(0.01)
    samples = run_timed(clock.work, Budget(seconds=0.05), Budget(seconds=0.1), clock=clock)
    assert 10 <= len(samples) <= 11          # stops once 0.1 s of fake time has passed
    # a zero duration still makes min_count calls
    assert len(run_timed(clock.work, Budget(count=0), Budget(seconds=0.0, min_count=3), clock=clock)) == 3

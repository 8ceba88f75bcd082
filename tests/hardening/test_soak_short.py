"""Short soak in the default suite (the long one is benchmarks/soak.py, >= 10,000 predictions):
500 predictions after 6 unsampled warm-up rounds; resident memory must not grow by more than
10 MiB (the long run's tolerance, see benchmarks/soak.py)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


def _soak_module():
    spec = importlib.util.spec_from_file_location("agegender_soak", SOAK)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_short_soak_memory_is_flat(model_path):
    soak = _soak_module()
    r = soak.soak(model_path, predictions=500, batch=32, full_every=5, n_files=200, warmup_rounds=6)
    assert r["predictions"] >= 500 and r["unexpected_errors"] == 0
    rss = [s["rss_mib"] for s in r["samples"]]
    growth = max(rss) - rss[0]
    assert growth <= soak.TOLERANCE["max_growth_mib"], f"RSS grew {growth:.1f} MiB over 500 predictions: {rss}"


def test_soak_evaluation_rule():
    soak = _soak_module()
    flat = [{"predictions": i * 100, "rss_mib": 300.0 + (5.0 if i < 10 else 0.0)} for i in range(100)]
    assert soak.evaluate(flat)["flat"] is True
    leak = [{"predictions": i * 100, "rss_mib": 300.0 + i * 0.2} for i in range(100)]   # 20 MiB per 10k
    r = soak.evaluate(leak)
    assert r["flat"] is False and abs(r["slope_mib_per_10k"] - 20.0) < 0.01

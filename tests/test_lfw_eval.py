"""benchmarks/lfw_eval.py (the in-the-wild acceptance script) on the first photos of the LFW dev
set: its figures follow from its own per-photo dump (misses count as wrong)."""
import json
import subprocess
import sys

import numpy as np

from .conftest import REPO, SHARED_DATA


def test_lfw_eval_figures_are_consistent_with_the_per_photo_dump(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "lfw_eval.py"), "--limit", "60", "--out", str(out),
                           "--faces-npz", str(tmp_path / "faces.npz"), "--data", str(SHARED_DATA / "lfw")],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (report,) = [json.loads(p.read_text()) for p in out.glob("lfw_*.json")]
    assert (out / f"{next(out.glob('lfw_*.json')).stem}.md").is_file()
    assert report["photos"] == 60 and report["detector"].startswith("yunet")     # the SDK's defaults
    d = np.load(tmp_path / "faces.npz")
    assert len(d["p_male"]) == 60 and d["truth_male"].sum() == report["male"]
    found = np.isfinite(d["p_male"])
    assert report["found_rate"] == found.mean() and len(report["misses"]) == (~found).sum()
    right = found & ((d["p_male"] > 0.5) == d["truth_male"])
    male, female = right[d["truth_male"]].mean(), right[~d["truth_male"]].mean()
    assert report["male_recall"] == male and report["female_recall"] == female
    assert report["balanced_accuracy"] == (male + female) / 2
    assert 0 <= report["gender_ece"] <= 1 and report["photos_per_s"] > 0
    assert sum(b["count"] for b in report["reliability"]) == found.sum()

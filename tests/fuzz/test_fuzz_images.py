"""The long fuzz target (issue #7): >= 10,000 cases through ``load_image`` and ``Predictor.predict``
(Haar pipeline and chip mode alternately), each case between two good images whose results must
not change. Zero crashes, hangs or undocumented exceptions allowed.

Run:  python -m pytest -m fuzz tests/fuzz -q        (FUZZ_CASES=N to change the count)
Records: benchmarks/fuzz_run.json and benchmarks/fuzz_run.md (count, duration, crashes, the
exception types seen). A crash (segfault) would kill the run before the record is written;
faulthandler prints its stack, and tests/fuzz/last_case.bin holds the case being run.
"""
from __future__ import annotations

import collections
import faulthandler
import json
import os
import platform
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.fuzz.strategies import FUZZ_MAX_PIXELS, Violation, fuzz_input, run_case

CASES = int(os.environ.get("FUZZ_CASES", "10000"))
SEED = int(os.environ.get("FUZZ_SEED", "20261129"))
HANG_SECONDS = 60.0            # any single case slower than this is a hang (the watchdog aborts at 120 s)
REPO = Path(__file__).resolve().parents[2]
RECORD = REPO / "benchmarks" / "fuzz_run"
LAST_CASE = Path(__file__).resolve().parent / "last_case.bin"


@pytest.mark.fuzz
def test_fuzz_images_and_predict(model_path, face_paths, tmp_path):
    import cv2
    import hypothesis
    import onnxruntime

    from agegender_edge.backends.onnxruntime import OrtOptions
    from agegender_edge.predictor import Predictor

    opts = OrtOptions(intra_op_threads=1)
    haar = Predictor(model_path, backend="onnxruntime", device="cpu", detector="haar",
                     max_pixels=FUZZ_MAX_PIXELS, ort_options=opts)
    chips = Predictor(model_path, backend="onnxruntime", device="cpu", detector=None,
                      max_pixels=FUZZ_MAX_PIXELS, ort_options=opts)
    goods = face_paths[:12]
    refs = {id(p): {str(g): p.predict(str(g)).faces for g in goods} for p in (haar, chips)}

    load_seen: collections.Counter = collections.Counter()
    pred_seen: collections.Counter = collections.Counter()
    kinds: collections.Counter = collections.Counter()
    violations: list[str] = []
    slowest = [0.0, ""]
    n_cases = [0]

    @seed(SEED)
    @settings(max_examples=CASES, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=fuzz_input())
    def one(case):
        kind, value, colour_order = case
        n = n_cases[0]
        n_cases[0] += 1
        kinds[kind] += 1
        LAST_CASE.write_bytes(value if isinstance(value, bytes) else repr((kind, type(value).__name__)).encode())
        predictor = haar if n % 2 == 0 else chips
        faulthandler.dump_traceback_later(2 * HANG_SECONDS, exit=True)
        t0 = time.perf_counter()
        try:
            load, pred = run_case(kind, value, colour_order, predictor, refs[id(predictor)], goods, tmp_path, n)
        except Violation as exc:
            violations.append(f"case {n} ({kind}): {exc}")
            return
        finally:
            faulthandler.cancel_dump_traceback_later()
        dt = time.perf_counter() - t0
        if dt > slowest[0]:
            slowest[:] = [dt, kind]
        load_seen[load] += 1
        pred_seen[pred] += 1

    t0 = time.time()
    try:
        one()
    finally:
        haar.close()
        chips.close()
    duration = time.time() - t0
    LAST_CASE.unlink(missing_ok=True)
    hangs = int(slowest[0] > HANG_SECONDS)
    record = {
        "target": "tests/fuzz/test_fuzz_images.py::test_fuzz_images_and_predict",
        "engine": f"hypothesis {hypothesis.__version__} (generate phase, seed {SEED})",
        "cases": n_cases[0],
        "duration_s": round(duration, 1),
        "cases_per_s": round(n_cases[0] / duration, 1),
        "crashes": 0,            # the process survived every case (a segfault would abort before this)
        "hangs": hangs,
        "slowest_case_s": round(slowest[0], 3),
        "slowest_case_kind": slowest[1],
        "contract_violations": len(violations),
        "violations": violations[:50],
        "case_kinds": dict(kinds),
        "load_image_outcomes": dict(load_seen),
        "predict_outcomes": dict(pred_seen),
        "max_pixels": FUZZ_MAX_PIXELS,
        "entry_points": ["imageio.load_image (path, str path, bytes, array, other objects)",
                         "Predictor.predict([good, case, good]) with the Haar detector",
                         "Predictor.predict([good, case, good]) with detector=None (chip mode, = predict_faces)"],
        "model": model_path.name,
        "environment": {"python": platform.python_version(), "opencv": cv2.__version__,
                        "onnxruntime": onnxruntime.__version__, "machine": platform.machine(),
                        "cpus": os.cpu_count()},
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if CASES >= 10_000:
        RECORD.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
        RECORD.with_suffix(".md").write_text(render_md(record))
    print(json.dumps(record, indent=2))
    assert not violations, "\n".join(violations[:20])
    assert hangs == 0, f"slowest case took {slowest[0]:.1f} s"
    assert n_cases[0] >= CASES


def render_md(r: dict) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(r["predict_outcomes"].items()))
    lrows = "\n".join(f"| {k} | {v} |" for k, v in sorted(r["load_image_outcomes"].items()))
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["case_kinds"].items()))
    return f"""# Fuzz run (issue #7)

`python -m pytest -m fuzz tests/fuzz -q` — {r['engine']}, model `{r['model']}`, {r['date_utc']}.

| | |
|---|---|
| cases | {r['cases']:,} |
| duration | {r['duration_s']} s ({r['cases_per_s']} cases/s) |
| crashes | {r['crashes']} |
| hangs (a case > 60 s) | {r['hangs']} (slowest case {r['slowest_case_s']} s, {r['slowest_case_kind']}) |
| contract violations | {r['contract_violations']} |

Case kinds: {kinds}. Each case goes through `load_image` and through `Predictor.predict([good, case, good])`
(Haar pipeline and chip mode alternately, `max_pixels` {r['max_pixels']:,}); the two good images must give
their reference results, the case either faces with valid numbers or a documented per-image error naming it.

Outcomes of `predict` for the fuzzed image:

| outcome | count |
|---|---|
{rows}

Outcomes of `load_image`:

| outcome | count |
|---|---|
{lrows}

Environment: {json.dumps(r['environment'])}
"""

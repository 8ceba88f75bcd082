"""The thread budget (agegender_edge/threads.py): inference threads + prep workers fit the cores."""
import pytest

from agegender_edge.threads import plan_threads, usable_cores


@pytest.mark.parametrize("cores", [1, 2, 3, 4, 8, 64])
def test_default_split_never_exceeds_the_cores(cores):
    plan = plan_threads(cores)
    assert plan.cores == cores
    assert plan.intra_op_threads >= 1 and plan.prep_workers >= 1
    assert plan.intra_op_threads + plan.prep_workers <= max(cores, 2)


def test_two_cores_split_one_and_one():
    plan = plan_threads(2)
    assert (plan.intra_op_threads, plan.prep_workers) == (1, 1)
    assert "1 inference thread(s) + 1 prep worker(s) on 2 core(s)" == plan.describe()


def test_an_explicit_choice_is_kept_and_the_other_takes_the_rest():
    assert (plan_threads(8, workers=6).intra_op_threads, plan_threads(8, workers=6).prep_workers) == (2, 6)
    p = plan_threads(8, intra_op_threads=7)
    assert (p.intra_op_threads, p.prep_workers) == (7, 1)
    p = plan_threads(2, workers=3, intra_op_threads=2)      # both given: the caller asked for it
    assert (p.intra_op_threads, p.prep_workers) == (2, 3)
    assert plan_threads(4, intra_op_threads=0).intra_op_threads == 2   # 0 = choose, as ORT's 0 means default


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="workers"):
        plan_threads(2, workers=0)
    with pytest.raises(ValueError, match="intra_op_threads"):
        plan_threads(2, intra_op_threads=-1)


def test_usable_cores_is_the_affinity_mask():
    import os
    assert usable_cores() == len(os.sched_getaffinity(0))


# --- the split from measured costs (more than 2 cores) -----------------------------------------

def test_split_follows_the_costlier_stage():
    from agegender_edge.threads import StageCosts, split_from_costs
    prep_heavy = StageCosts(prep_chip_s=0.004, prep_photo_s=0.030, infer_face_s=0.001)
    infer_heavy = StageCosts(prep_chip_s=0.001, prep_photo_s=0.004, infer_face_s=0.010)
    for cores in (2, 3, 4, 8, 16):
        for costs in (prep_heavy, infer_heavy):
            intra, workers = split_from_costs(cores, costs)
            assert intra >= 1 and workers >= 1 and intra + workers == cores
    assert split_from_costs(2, infer_heavy) == (1, 1)                  # one split on 2 cores
    assert split_from_costs(8, prep_heavy)[1] > split_from_costs(8, infer_heavy)[1]
    assert split_from_costs(8, infer_heavy)[0] > split_from_costs(8, infer_heavy)[1]
    assert split_from_costs(8, prep_heavy)[1] > split_from_costs(8, prep_heavy)[0]


def test_environment_forces_or_disables_the_split(monkeypatch, tmp_path):
    from agegender_edge.threads import CACHE_ENV, THREADS_ENV
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    model = tmp_path / "never_read.onnx"
    monkeypatch.setenv(THREADS_ENV, "3+1")
    p = plan_threads(8, model_path=model)
    assert (p.intra_op_threads, p.prep_workers) == (3, 1)
    monkeypatch.setenv(THREADS_ENV, "rule")                        # no calibration: half and half
    p = plan_threads(8, model_path=model)
    assert (p.intra_op_threads, p.prep_workers) == (4, 4) and not any(tmp_path.rglob("*.json"))
    monkeypatch.setenv(THREADS_ENV, "lots")
    with pytest.raises(ValueError, match="AGEGENDER_EDGE_THREADS"):
        plan_threads(8, model_path=model)


def test_calibration_is_short_cached_and_keyed_by_model(monkeypatch, tmp_path):
    """A real ONNX Runtime session and the real default detector; cached per CPU model + model file."""
    import time

    import cv2  # noqa: F401  - imported by every Predictor anyway: not part of the calibration's cost
    import onnxruntime  # noqa: F401

    from agegender_edge.shipped import WEIGHTS_DIR
    from agegender_edge.threads import CACHE_ENV, THREADS_ENV, calibrate, split_from_costs
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    monkeypatch.delenv(THREADS_ENV, raising=False)
    models = sorted(WEIGHTS_DIR.glob("*.onnx"))[:2]
    t0 = time.process_time()        # CPU seconds: a loaded machine stretches the wall time, not the work
    costs = calibrate(models[0])
    cpu_seconds = time.process_time() - t0
    assert costs is not None and not costs.cached
    assert 0 < costs.prep_chip_s < costs.prep_photo_s and costs.infer_face_s > 0
    assert cpu_seconds < 1.5, f"calibration used {cpu_seconds:.2f} CPU s (budget: about 1 s)"
    again = calibrate(models[0])
    assert again.cached and (again.prep_chip_s, again.prep_photo_s, again.infer_face_s) == \
        (costs.prep_chip_s, costs.prep_photo_s, costs.infer_face_s)
    assert len(list(tmp_path.rglob("*.json"))) == 1
    calibrate(models[1])
    assert len(list(tmp_path.rglob("*.json"))) == 2                  # another model file: its own entry
    p = plan_threads(6, model_path=models[0])                          # the cached costs decide
    assert (p.intra_op_threads, p.prep_workers) == split_from_costs(6, again)

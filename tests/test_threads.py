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

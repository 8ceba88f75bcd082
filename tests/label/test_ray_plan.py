"""Actor-pool sizing (no cluster needed): actors never reserve every CPU, GPUs are shared as asked."""
from __future__ import annotations

import pytest

from agegender_edge.label import LabelInputError
from agegender_edge.label.ray_engine import RayOptions, plan_pool


def test_actors_leave_cpu_for_ray_data_tasks_on_two_cpus():
    two = plan_pool(2, 0, RayOptions(actors=2))
    assert two.cpus_per_actor * two.actors < 2 and two.threads_per_actor == 1
    one = plan_pool(2, 0, RayOptions(actors=1))
    assert (one.cpus_per_actor, one.threads_per_actor) == (1.0, 2)
    assert plan_pool(16, 0, RayOptions()).actors == 8          # default: one per 2 CPUs


def test_gpu_shares_decide_the_default_pool():
    plan = plan_pool(32, 4, RayOptions(gpus_per_actor=0.5))
    assert (plan.actors, plan.gpus_per_actor) == (8, 0.5)
    assert plan_pool(32, 4, RayOptions(gpus_per_actor=1, cpus_per_actor=4)).cpus_per_actor == 4


@pytest.mark.parametrize("cpus, gpus, opts, message", [
    (2, 0, RayOptions(gpus_per_actor=1), "has 0 GPU"),
    (8, 2, RayOptions(actors=3, gpus_per_actor=1), "needs more than the cluster's 2 GPU"),
    (2, 0, RayOptions(actors=2, cpus_per_actor=1.5), "do not fit the cluster's 2 CPUs"),
])
def test_pools_that_cannot_fit_are_refused(cpus, gpus, opts, message):
    with pytest.raises(LabelInputError, match=message):
        plan_pool(cpus, gpus, opts)

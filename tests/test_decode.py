"""Output decoding: the reported age (mean or median) and the group that follows it."""
import numpy as np

from agegender_edge.decode import age_and_interval, age_quantiles, decode_outputs
from agegender_edge.labels import AGE_GROUP_LABELS
from agegender_edge.metadata import (OUTPUT_AGE_BINS, OUTPUT_AGE_GROUP, OUTPUT_AGE_MEAN, OUTPUT_AGE_STD,
                                     OUTPUT_GENDER, ModelMetadata)


def _outputs(p: np.ndarray) -> dict:
    bins = np.arange(101, dtype=np.float32)
    mean = p @ bins
    return {OUTPUT_GENDER: np.tile([[0.2, 0.8]], (len(p), 1)).astype(np.float32),
            OUTPUT_AGE_GROUP: np.full((len(p), 8), 1 / 8, np.float32), OUTPUT_AGE_MEAN: mean,
            OUTPUT_AGE_STD: np.ones(len(p), np.float32), OUTPUT_AGE_BINS: p}


def _meta(estimate: str) -> ModelMetadata:
    return ModelMetadata(name="m", architecture="edge_resnet", age_groups=AGE_GROUP_LABELS,
                         age_bins=tuple(float(i) for i in range(101)), age_group_rule="expected_age",
                         age_estimate=estimate)


def test_median_of_a_skewed_distribution_differs_from_the_mean_and_moves_the_group():
    p = np.zeros((1, 101), np.float32)
    p[0, 30], p[0, 90] = 0.6, 0.4          # mean 54 (group 48-53 by the nearest rule); median ~29.9
    mean_face = decode_outputs(_outputs(p), _meta("mean"))[0]
    median_face = decode_outputs(_outputs(p), _meta("median"))[0]
    assert abs(mean_face["age"] - 54.0) < 1e-4 and mean_face["age_group"] in ("48-53", "60-100")
    assert abs(median_face["age"] - float(age_quantiles(p, np.arange(101, dtype=np.float32), (0.5,))[0, 0])) < 1e-6
    assert 29 < median_face["age"] < 31 and median_face["age_group"] == "25-32"
    # the 80% interval does not depend on the estimate
    assert mean_face["age_interval_80"] == median_face["age_interval_80"]


def test_reported_age_on_symmetric_distributions_agrees():
    p = np.zeros((2, 101), np.float32)
    p[0, 19:22] = [0.25, 0.5, 0.25]
    p[1, 60] = 1.0
    bins = np.arange(101, dtype=np.float32)
    med = age_and_interval(p, bins, p @ bins, "median")[0]
    np.testing.assert_allclose(age_and_interval(p, bins, p @ bins, "mean")[0], [20, 60], atol=1e-5)
    np.testing.assert_allclose(med, [20, 60], atol=0.51)   # linear within the bin CDF

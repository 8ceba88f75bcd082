import pytest

from agegender_edge.engine.profile import BatchProfile


def test_profile_validation():
    with pytest.raises(ValueError, match="min <= opt <= max"):
        BatchProfile(4, 2, 8)
    with pytest.raises(ValueError, match="positive"):
        BatchProfile(0, 1, 1)
    with pytest.raises(ValueError):
        BatchProfile(1, 1, True)  # bools are not batch sizes


def test_from_values_flags_override_recipe_and_clamp_opt():
    base = BatchProfile(1, 32, 128)
    assert BatchProfile.from_values(base=base) == base
    assert BatchProfile.from_values(max_batch=16, base=base) == BatchProfile(1, 16, 16)   # opt clamped
    assert BatchProfile.from_values(min_batch=8, opt_batch=8, max_batch=8, base=base) == BatchProfile(8, 8, 8)
    assert BatchProfile.for_max_batch(24) == BatchProfile(1, 24, 24)


def test_shapes_and_trtexec_strings():
    p = BatchProfile(1, 16, 64)
    assert p.shapes((96, 96)) == {"min": (1, 3, 96, 96), "opt": (16, 3, 96, 96), "max": (64, 3, 96, 96)}
    assert p.trtexec_shapes("input", (96, 96))["max"] == "input:64x3x96x96"


@pytest.mark.parametrize("n,mx", [(1, 32), (31, 32), (32, 32), (33, 32), (100, 7), (0, 4)])
def test_chunks_cover_exactly_once_within_max(n, mx):
    p = BatchProfile(1, 1, mx)
    chunks = list(p.chunks(n))
    covered = [i for s, e in chunks for i in range(s, e)]
    assert covered == list(range(n))
    assert all(0 < e - s <= mx for s, e in chunks)


def test_static_profile_pads_small_batches():
    p = BatchProfile(8, 8, 8)
    assert p.padded_size(3) == 8 and p.padded_size(8) == 8
    with pytest.raises(ValueError, match="split it first"):
        p.padded_size(9)

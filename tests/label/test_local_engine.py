"""The local engine: the dataset says what Predictor.predict says, nothing dropped, resumable."""
from __future__ import annotations

from agegender_edge.label import label
from tests.label.conftest import assert_rows_match_predict, assert_same_rows, keyed, read_rows


def test_local_dataset_equals_predictor_predict(local_chips_dataset, chip_predictions):
    rows = read_rows(local_chips_dataset)
    assert_rows_match_predict(rows, chip_predictions)
    assert len(rows) == 303 and len({r["source"] for r in rows}) == 303  # one row each: 300 faces, 3 errors


def test_broken_files_become_error_rows(local_chips_dataset, chip_inputs):
    errors = {r["source"]: r for r in read_rows(local_chips_dataset) if r["error"] is not None}
    assert set(errors) == set(chip_inputs["broken"])
    for source, row in errors.items():
        assert row["error_type"] == "InvalidImageError" and source in row["error"]
        assert row["face_index"] is None and row["num_faces"] == 0 and row["age"] is None


def test_rows_record_the_model_and_sdk(local_chips_dataset):
    from agegender_edge import Predictor, __version__

    with Predictor(detector=None) as predictor:
        meta = predictor.metadata
    rows = read_rows(local_chips_dataset)
    assert {(r["model_name"], r["model_weights_sha256"], r["sdk_version"], r["detector"]) for r in rows} == \
        {(meta.name, meta.weights_sha256, __version__, "none")}
    assert len(meta.weights_sha256) == 64


def test_default_detector_photos_equal_predict(local_photos_dataset, photo_inputs):
    from agegender_edge import Predictor

    with Predictor() as predictor:
        results = predictor.predict(photo_inputs)
    rows = read_rows(local_photos_dataset)
    assert_rows_match_predict(rows, results)
    assert sum(r["face_index"] is not None for r in rows) == sum(len(r.faces) for r in results) > len(photo_inputs)


def test_rerun_after_a_partial_run_adds_only_the_missing_images(chip_inputs, local_chips_dataset, tmp_path):
    out = tmp_path / "out"
    first = label(chip_inputs["files"][:100], out, detector="none", shard_images=30, progress=False)
    assert (first.images, first.skipped, first.shards) == (100, 0, 4)
    second = label(chip_inputs["manifest"], out, detector="none", shard_images=30, progress=False)
    assert (second.sources, second.skipped, second.images, second.errors) == (303, 100, 203, 3)
    rows = read_rows(out)
    keyed(rows)   # no duplicate (source, face_index)
    assert_same_rows(rows, read_rows(local_chips_dataset))
    third = label(chip_inputs["manifest"], out, detector="none", progress=False)
    assert (third.images, third.skipped, third.shards) == (0, 303, 0)
    assert "nothing to label" in third.describe()


def test_ctrl_c_keeps_the_finished_images_and_the_rerun_completes(chip_inputs, local_chips_dataset, tmp_path):
    """SIGINT to the CLI part-way (shards too large to have been written yet): the images finished
    so far are flushed on the way out; the rerun adds exactly the rest."""
    import re
    import signal
    import subprocess
    import sys
    import threading

    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "agegender_edge.cli.main", "label", str(chip_inputs["manifest"]), "--out", str(out),
           "--detector", "none", "--shard-size", "100000", "--progress"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    started = threading.Event()
    seen = bytearray()

    def watch():   # tqdm's "  12/303" counter on stderr says images are being labelled
        while chunk := proc.stderr.read1(4096):
            seen.extend(chunk)
            if re.search(rb"\b([1-9]\d*)/303\b", bytes(seen)):
                started.set()
        started.set()

    threading.Thread(target=watch, daemon=True).start()
    assert started.wait(120) and proc.poll() is None, bytes(seen)[-2000:]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) != 0
    partial = read_rows(out)
    assert 0 < len(partial) < 303
    keyed(partial)
    resumed = label(chip_inputs["manifest"], out, detector="none", progress=False)
    assert resumed.skipped == len({r["source"] for r in partial}) and resumed.images == 303 - resumed.skipped
    assert_same_rows(read_rows(out), read_rows(local_chips_dataset))

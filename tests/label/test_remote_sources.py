"""Sources given as URIs go through pyarrow filesystems. Only file:// can run without a network;
s3:// / gs:// use the same calls (FileSystem.from_uri, get_file_info, open_input_file) untested."""
from __future__ import annotations

import pytest

from agegender_edge.label import LabelInputError, label
from agegender_edge.label.sources import expand_sources
from tests.conftest import FACES_48
from tests.label.conftest import read_rows


def test_prefix_uri_lists_images_and_labels_them_like_paths(tmp_path):
    from agegender_edge import Predictor

    uris = expand_sources([FACES_48.as_uri()])
    paths = sorted(str(p) for p in FACES_48.glob("*.jpg"))
    assert uris == ["file://" + p for p in paths]
    summary = label(FACES_48.as_uri(), tmp_path / "out", detector="none", progress=False)
    assert (summary.images, summary.faces, summary.errors) == (48, 48, 0)
    with Predictor(detector=None) as predictor:
        expected = {("file://" + r.source): r.faces[0] for r in predictor.predict(paths)}
    for row in read_rows(tmp_path / "out"):
        face = expected[row["source"]]
        assert row["age"] == pytest.approx(face.age, abs=1e-6)
        assert row["gender_probability"] == pytest.approx(face.gender_probability, abs=1e-6)


def test_uri_manifest_with_relative_and_missing_entries(tmp_path):
    chips = sorted(FACES_48.glob("*.jpg"))[:3]
    (tmp_path / "imgs").mkdir()
    for c in chips:
        (tmp_path / "imgs" / c.name).write_bytes(c.read_bytes())
    (tmp_path / "imgs" / "broken.jpg").write_text("not a jpeg")
    manifest = tmp_path / "list.csv"
    manifest.write_text("path\n" + "".join(f"imgs/{c.name}\n" for c in chips) + "imgs/broken.jpg\nimgs/gone.jpg\n")
    label(manifest.as_uri(), tmp_path / "out", detector="none", progress=False)
    rows = {r["source"]: r for r in read_rows(tmp_path / "out")}
    base = (tmp_path / "imgs").as_uri()
    assert set(rows) == {f"{base}/{n}" for n in [c.name for c in chips] + ["broken.jpg", "gone.jpg"]}
    gone, broken = rows[f"{base}/gone.jpg"], rows[f"{base}/broken.jpg"]
    assert gone["error_type"] == "InvalidImageError" and "gone.jpg: cannot read" in gone["error"]
    # decoded from fetched bytes, yet the message names the object, not "<bytes i>"
    assert broken["error_type"] == "InvalidImageError" and broken["error"].startswith(f"{base}/broken.jpg")
    assert all(rows[f"{base}/{c.name}"]["face_index"] == 1 for c in chips)


@pytest.mark.parametrize("uri, message", [("file:///no/such/prefix/", "no such object or prefix"),
                                          ("nosuchscheme://bucket/x", "cannot open")])
def test_bad_uri_sources_are_refused(uri, message):
    with pytest.raises(LabelInputError, match=message):
        expand_sources([uri])


def test_keys_with_spaces_round_trip_as_percent_encoded_uris(tmp_path):
    folder = tmp_path / "a b"
    folder.mkdir()
    (folder / "x y.jpg").write_bytes(sorted(FACES_48.glob("*.jpg"))[0].read_bytes())
    (uri,) = expand_sources([folder.as_uri()])
    assert uri == (folder / "x y.jpg").as_uri() and "%20" in uri
    label(uri, tmp_path / "out", detector="none", progress=False)
    (row,) = read_rows(tmp_path / "out")
    assert row["source"] == uri and row["error"] is None and row["face_index"] == 1

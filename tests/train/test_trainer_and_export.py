"""A real (tiny) training run on real UTKFace chips: checkpoint, resume, export, parity."""
import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("h5py")
pytest.importorskip("onnx")

from agegender_edge.train.data.h5pack import pack_h5  # noqa: E402
from agegender_edge.train.data.records import DropCounter  # noqa: E402
from agegender_edge.train.data.utkface import read_utkface  # noqa: E402
from agegender_edge.train.trainer import Trainer, TrainConfig, load_best  # noqa: E402

from ..conftest import FACES_48  # noqa: E402


@pytest.fixture(scope="module")
def tiny_h5(tmp_path_factory):
    folder = tmp_path_factory.mktemp("utk")
    (folder / "images").mkdir()
    files = sorted(FACES_48.glob("*.jpg"))
    for f in files:
        shutil.copy(f, folder / "images" / f.name)
    (folder / "labels.csv").write_text("file,split\n" + "\n".join(
        f"{f.name},{'val' if i % 4 == 0 else 'train'}" for i, f in enumerate(files)))
    out = folder / "tiny.h5"
    drops = DropCounter()
    pack_h5(read_utkface(folder, drops), out, 112, drops, "utkface", {}, progress=False)
    return out


def test_train_checkpoint_resume(tiny_h5, tmp_path):
    cfg = TrainConfig(data=str(tiny_h5), out_dir=str(tmp_path / "run"), epochs=2, batch_size=16)
    t = Trainer(cfg)
    assert len(t.train_data) == 36 and len(t.val_data) == 12
    t.fit(progress=False, log=lambda s: None, stop_after=1)  # "interrupted" after epoch 1
    assert (tmp_path / "run" / "last.pt").is_file() and (tmp_path / "run" / "best.pt").is_file()
    # resume continues at epoch 1 with the same weights, then finishes epoch 2
    t2 = Trainer(cfg)
    assert t2.resume() and t2.epoch == 1
    for a, b in zip(t.net.state_dict().values(), t2.net.state_dict().values()):
        assert torch.equal(a, b)
    t2.fit(progress=False, log=lambda s: None)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    assert all(0 <= r["val"]["gender_accuracy"] <= 1 for r in log)
    assert (tmp_path / "run" / "curve.png").stat().st_size > 1000
    net, loaded_cfg = load_best(tmp_path / "run" / "best.pt")  # weights_only loading
    assert loaded_cfg.epochs == 2


def test_export_parity_and_metadata(tiny_h5, tmp_path):
    import onnxruntime as ort

    from agegender_edge.metadata import METADATA_KEY, OUTPUT_NAMES, ModelMetadata
    from agegender_edge.model_file import initializer_digest
    from agegender_edge.train.export_onnx import build_metadata, export_onnx, parity_check
    from agegender_edge.train.models.registry import create_model

    torch.manual_seed(1)
    net = create_model("edge_resnet", 101).eval()
    meta = build_metadata("edge_resnet", 101, "t", flip_tta=True)
    path = export_onnx(net, meta, tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    stored = ModelMetadata.from_json(sess.get_modelmeta().custom_metadata_map[METADATA_KEY])
    assert stored.input == meta.input and stored.flip_tta and stored.weights_sha256 == initializer_digest(path.read_bytes())
    assert [o.name for o in sess.get_outputs()] == [*OUTPUT_NAMES, "embedding"]   # + the face descriptor
    assert stored.embedding.dim == 320 and stored.embedding.flip == "mean"
    assert sess.get_inputs()[0].shape[0] == "batch"  # dynamic batch
    faces = np.stack([np.full((96, 96, 3), v, dtype=np.uint8) for v in (0, 128, 255)])
    from agegender_edge.train.data.h5pack import read_h5
    real = read_h5(tiny_h5).images[:16, 8:104, 8:104]
    result = parity_check(net, meta, path, np.concatenate([faces, real]))
    assert result.n == 19 and result.ok, result.max_abs_diff
    assert "embedding" in result.max_abs_diff
    out = sess.run(None, {"input": np.zeros((5, 3, 96, 96), np.float32)})
    assert out[0].shape == (5, 2) and out[1].shape == (5, 8) and out[2].shape == (5,)
    np.testing.assert_allclose(out[1].sum(1), 1, atol=1e-5)


def test_distillation_mixes_teacher_targets(tiny_h5, tmp_path):
    """A trained checkpoint as teacher: its flip-averaged probabilities on the training faces are
    computed once, aligned with the training rows, and change the loss; weight 0 is the plain loss."""
    from agegender_edge.train.trainer import loss_fn

    teacher_cfg = TrainConfig(data=str(tiny_h5), out_dir=str(tmp_path / "teacher"), epochs=1, batch_size=16)
    Trainer(teacher_cfg).fit(progress=False, log=lambda s: None)
    cfg = TrainConfig(data=str(tiny_h5), out_dir=str(tmp_path / "student"), epochs=1, batch_size=16,
                      teacher=str(tmp_path / "teacher" / "best.pt"), distill_weight=0.5)
    t = Trainer(cfg)
    n = len(t.train_data)
    assert t.teacher_gender.shape == (n, 2) and t.teacher_age.shape == (n, 101)
    np.testing.assert_allclose(t.teacher_gender.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(t.teacher_age.sum(1), 1, atol=1e-4)
    # row i of the targets is the teacher's output on training face i (checked on 3 faces)
    net, _ = load_best(tmp_path / "teacher" / "best.pt")
    x = t.norm(torch.from_numpy(t.train_data.images[:3, 8:104, 8:104]).permute(0, 3, 1, 2).float())
    with torch.no_grad():
        g = (torch.softmax(net(x)[0], 1) + torch.softmax(net(torch.flip(x, dims=[3]))[0], 1)) / 2
    np.testing.assert_allclose(g.numpy(), t.teacher_gender[:3], atol=0.03)  # bf16 teacher pass
    d = t.train_data
    args = (torch.randn(n, 2), torch.randn(n, 101), torch.from_numpy(d.gender), torch.from_numpy(d.age),
            torch.from_numpy(d.age_group), t.bins, t.groups)
    plain = loss_fn(*args, cfg=TrainConfig())[0]
    distilled = loss_fn(*args, cfg=cfg, teacher_gender=torch.from_numpy(t.teacher_gender),
                        teacher_age=torch.from_numpy(t.teacher_age))[0]
    weight0 = loss_fn(*args, cfg=TrainConfig(distill_weight=0.0), teacher_gender=torch.from_numpy(t.teacher_gender),
                      teacher_age=torch.from_numpy(t.teacher_age))[0]
    assert not torch.isclose(plain, distilled) and torch.isclose(plain, weight0)
    t.fit(progress=False, log=lambda s: None)
    assert json.loads((tmp_path / "student" / "config.json").read_text())["teacher"].endswith("best.pt")


def test_teacher_with_other_age_bins_is_refused(tiny_h5, tmp_path):
    Trainer(TrainConfig(data=str(tiny_h5), out_dir=str(tmp_path / "t8"), epochs=1, batch_size=16,
                        age_bins=8)).fit(progress=False, log=lambda s: None)
    with pytest.raises(ValueError, match="age bins"):
        Trainer(TrainConfig(data=str(tiny_h5), out_dir=str(tmp_path / "s"), teacher=str(tmp_path / "t8" / "best.pt")))


def test_init_from_starts_a_fine_tune_from_best_weights(tiny_h5, tmp_path):
    src = Trainer(TrainConfig(data=str(tiny_h5), out_dir=str(tmp_path / "src"), epochs=1, batch_size=16))
    src.fit(progress=False, log=lambda *_: None)
    best = torch.load(tmp_path / "src" / "best.pt", map_location="cpu", weights_only=True)["ema"]
    tuned = Trainer(TrainConfig(data=str(tiny_h5), out_dir=str(tmp_path / "ft"), epochs=1, batch_size=16,
                                init_from=str(tmp_path / "src" / "best.pt")))
    for name, value in tuned.net.state_dict().items():
        assert torch.equal(value, best[name]), name
    assert tuned.epoch == 0                    # a fresh schedule, not a resume
    fresh = Trainer(TrainConfig(data=str(tiny_h5), out_dir=str(tmp_path / "fresh"), epochs=1, batch_size=16))
    assert not all(torch.equal(v, best[k]) for k, v in fresh.net.state_dict().items() if v.is_floating_point())
    with pytest.raises(ValueError, match="init_from .*best.pt: a edge_resnet with 101 age bins, this run trains a edge_resnet with 8"):
        Trainer(TrainConfig(data=str(tiny_h5), out_dir=str(tmp_path / "bad"), age_bins=8,
                            init_from=str(tmp_path / "src" / "best.pt")))


def test_feature_distillation_projection_fits_resumes_and_is_not_exported(tiny_h5, tmp_path):
    """feature_targets: embeddings matched to the training rows by file name, a training-only
    projection (least-squares start when fine-tuning), its loss logged, its state resumed."""
    from agegender_edge.train.trainer import feature_loss

    src = Trainer(TrainConfig(data=str(tiny_h5), out_dir=str(tmp_path / "src"), epochs=1, batch_size=16))
    src.fit(progress=False, log=lambda *_: None)
    files = np.array(sorted(src.train_data.files)[::-1])         # another order than the .h5's
    emb = np.random.default_rng(0).normal(size=(len(files), 16)).astype(np.float32)
    np.savez(tmp_path / "emb.npz", files=files, embedding=emb)
    cfg = TrainConfig(data=str(tiny_h5), out_dir=str(tmp_path / "fd"), epochs=2, batch_size=16,
                      init_from=str(tmp_path / "src" / "best.pt"), feature_targets=str(tmp_path / "emb.npz"),
                      feature_weight=2.0)
    t = Trainer(cfg)
    row = {f: i for i, f in enumerate(files)}
    want = emb[[row[f] for f in t.train_data.files]]
    np.testing.assert_allclose(t.feature_target, want / np.linalg.norm(want, axis=1, keepdims=True), rtol=1e-6)
    # the least-squares start reproduces the embeddings from the fine-tuned network's features
    x = t.norm(torch.from_numpy(t.train_data.images[:, 8:104, 8:104]).permute(0, 3, 1, 2).float())
    with torch.no_grad():
        t.net.eval()
        t.net(x)
        fitted = feature_loss(t.feature_head(t._features["x"]), torch.from_numpy(t.feature_target)).item()
        rand = feature_loss(torch.nn.Linear(t.feature_head.in_features, 16)(t._features["x"]),
                            torch.from_numpy(t.feature_target)).item()
    assert fitted < 0.1 < rand
    t.fit(progress=False, log=lambda *_: None, stop_after=1)
    log = [json.loads(line) for line in (tmp_path / "fd" / "log.jsonl").read_text().splitlines()]
    assert 0 < log[0]["feature_loss"] < 2
    t2 = Trainer(cfg)
    assert t2.resume() and t2.epoch == 1
    for a, b in zip(t.feature_head.state_dict().values(), t2.feature_head.state_dict().values()):
        assert torch.equal(a, b)
    best = torch.load(tmp_path / "fd" / "best.pt", map_location="cpu", weights_only=True)
    assert not any("feature" in k for k in best["ema"])          # the exported network has no projection
    np.savez(tmp_path / "short.npz", files=files[:5], embedding=emb[:5])
    with pytest.raises(ValueError, match="no embedding for 31 training faces"):
        Trainer(TrainConfig(data=str(tiny_h5), out_dir=str(tmp_path / "bad"), feature_targets=str(tmp_path / "short.npz")))

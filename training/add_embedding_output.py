"""Add the face descriptor output ``embedding`` to already-exported models (the shipped files).

A new export has it (train/export_onnx.py); the files exported before get the same output by a
graph edit (agegender_edge/engine/embedding_output.py: the pooled features the heads read ->
[Split/Add for flip-TTA] -> ReduceL2 -> Clip -> Div), with every initializer unchanged, so the
recorded ``weights_sha256`` still verifies. Checked here on real faces before anything is
written: the five original outputs are bit-identical to the file's own, the descriptor has unit
norm and the right width, and ``Predictor`` loads the result (checksum verified).

    python training/add_embedding_output.py                      # every file in agegender_edge/weights/, in place
    python training/add_embedding_output.py a.onnx --out-dir new/  # others, written elsewhere

Idempotent: a file that already has the output is left as it is. Threshold of the tracker's
appearance gate: training/embedding_threshold.py (writes ``embedding.match_threshold``).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agegender_edge.engine.embedding_output import add_embedding_output  # noqa: E402
from agegender_edge.engine.onnx_meta import read_metadata  # noqa: E402
from agegender_edge.metadata import OUTPUT_EMBEDDING, OUTPUT_NAMES  # noqa: E402

FACES = REPO.parent / "shared" / "data" / "fixtures" / "utkface_48"


def real_faces(meta, n: int = 16) -> np.ndarray:
    from agegender_edge.imageio import DEFAULT_MAX_PIXELS, load_image
    from agegender_edge.preprocess import chip_to_input
    files = sorted(FACES.glob("*.jpg"))[:n]
    return np.stack([chip_to_input(load_image(str(f), None, DEFAULT_MAX_PIXELS).bgr, meta).transpose(2, 0, 1)
                     for f in files]).astype(np.float32)


def check(old_bytes: bytes, new_bytes: bytes, meta) -> float:
    """Max |new - old| over the five outputs (must be 0) after the descriptor checks."""
    import onnxruntime as ort
    x = real_faces(meta)
    a = ort.InferenceSession(old_bytes, providers=["CPUExecutionProvider"]).run(list(OUTPUT_NAMES), {"input": x})
    sess = ort.InferenceSession(new_bytes, providers=["CPUExecutionProvider"])
    b = sess.run([*OUTPUT_NAMES, OUTPUT_EMBEDDING], {"input": x})
    emb = b[-1]
    assert emb.shape == (len(x), meta.embedding.dim), emb.shape
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    return max(float(np.max(np.abs(u - v))) for u, v in zip(a, b[:-1]))


def main() -> None:
    import onnx

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", type=Path, help="default: every .onnx in agegender_edge/weights/")
    ap.add_argument("--out-dir", type=Path, default=None, help="default: rewrite in place")
    args = ap.parse_args()
    models = args.models or sorted((REPO / "agegender_edge" / "weights").glob("*.onnx"))
    for path in models:
        data = path.read_bytes()
        model = onnx.load_from_string(data)
        if any(o.name == OUTPUT_EMBEDDING for o in model.graph.output):
            print(f"{path.name}: has '{OUTPUT_EMBEDDING}' already, left as it is")
            continue
        new, meta = add_embedding_output(model, read_metadata(model, str(path)))
        new_bytes = new.SerializeToString()
        diff = check(data, new_bytes, meta)
        if diff != 0.0:
            raise SystemExit(f"{path.name}: the original outputs changed (max diff {diff}): not written")
        out = (args.out_dir / path.name) if args.out_dir else path
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_bytes(new_bytes)
        os.replace(tmp, out)               # atomic: a reader never sees half a file
        from agegender_edge import Predictor    # loads it as users do: weights checksum verified
        with Predictor(model=out, backend="onnxruntime", device="cpu", detector=None) as p:
            assert p.metadata.embedding_dim == meta.embedding.dim
        print(f"{path.name}: + {OUTPUT_EMBEDDING} [N, {meta.embedding.dim}] (flip {meta.embedding.flip}), "
              f"outputs unchanged, weights_sha256 {meta.weights_sha256[:12]}... verified -> {out}")


if __name__ == "__main__":
    main()

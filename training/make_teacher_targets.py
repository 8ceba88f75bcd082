"""Teacher probabilities for distillation: exported ONNX models (one, or an ensemble whose
probabilities are averaged) run on the training faces of a packed .h5 (centre crop at the model's input size, exactly as validation crops them), saved as
an .npz (``files``, ``gender`` [N, 2], ``age`` [N, bins]) for ``TrainConfig.teacher_targets``.

Teachers of the shipped aligned models (see training/*/HISTORY.md): the previous default,
edge_resnet_utkface v3 (flip averaging inside its graph), run on the ALIGNED training faces; then
the ensemble of v3 and the first aligned run (exported with flip averaging).

    python training/make_teacher_targets.py --data data/utk112a.h5 --model agegender_edge/weights/edge_resnet_utkface.onnx --out teacher.npz
    python training/make_teacher_targets.py --data data/utk112a.h5 --model a.onnx --model b.onnx --out ensemble.npz
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from agegender_edge.metadata import METADATA_KEY, OUTPUT_AGE_BINS, OUTPUT_GENDER, ModelMetadata
from agegender_edge.train.augment import center_crop
from agegender_edge.train.data.h5pack import read_h5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--model", required=True, type=Path, action="append", help="repeat for an ensemble")
    ap.add_argument("--split", default="train")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()

    data = read_h5(args.data, split=args.split)
    runs = [_run(model, data, args.batch) for model in args.model]
    g = np.mean([r[0] for r in runs], axis=0)
    a = np.mean([r[1] for r in runs], axis=0)
    acc = {m.name: float((r[0].argmax(1) == data.gender).mean()) for m, r in zip(args.model, runs)}
    acc["ensemble"] = float((g.argmax(1) == data.gender).mean())
    np.savez_compressed(args.out, files=np.array(data.files), gender=g, age=a)
    print(json.dumps({"faces": len(data), "teachers": [m.name for m in args.model],
                      "gender_accuracy_on_split": acc, "out": str(args.out)}))


def _run(model: Path, data, batch: int) -> tuple[np.ndarray, np.ndarray]:
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    props = sess.get_modelmeta().custom_metadata_map
    meta = ModelMetadata.from_json(props[METADATA_KEY], str(model))
    gender, age = [], []
    for s in range(0, len(data), batch):
        x = center_crop(data.images[s:s + batch], meta.input.size)   # RGB uint8 NHWC
        if meta.input.colour_order == "BGR":
            x = x[..., ::-1]
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype(np.float32)
        g, a = sess.run([OUTPUT_GENDER, OUTPUT_AGE_BINS], {meta.input.name: x})
        gender.append(g)
        age.append(a)
    return np.concatenate(gender), np.concatenate(age)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Selection figures of one model on the three selection sets, each with 95% bootstrap intervals:
#   UTKFace val (2,371 chips): the ready-chip path (predict_faces) and the whole pipeline (predict,
#   YuNet + alignment, subject nearest the centre); AAF val (1,300 head crops, whole pipeline, read
#   through the manifest); LFW dev (2,227 news photos, whole pipeline, balanced gender).
#
#   training/dlib_resnet_aligned/selection_eval.sh MODEL OUT_DIR
# MODEL: a shipped name or an .onnx; data: ../shared/data, AAF images in data/aaf_original,
# UTKFace val chips in data/utk_val (links to the val split of ../shared/data/utkface/images).
set -euo pipefail
MODEL=$1; OUT=$2
DATA=${AGEGENDER_EDGE_DATA_DIR:-../shared/data}
mkdir -p "$OUT"
run() {  # run a command, keep its whole output in $OUT/<name>.txt, show the headline lines
  local name=$1; shift
  "$@" > "$OUT/$name.txt" 2>&1
  grep -E "gender [0-9]|95% intervals|no subject|balanced" "$OUT/$name.txt" || true
}
run utk_val_chips agegender-edge evaluate data/utk_val --model "$MODEL" --json "$OUT/utk_val_chips.json"
run utk_val_detected agegender-edge evaluate data/utk_val --model "$MODEL" --detector auto --json "$OUT/utk_val_detected.json"
run aaf_val_detected agegender-edge evaluate data/aaf_original --aaf-manifest "$DATA/aaf/labels.csv" --split val \
    --model "$MODEL" --detector auto --json "$OUT/aaf_val_detected.json"
run lfw_dev python benchmarks/lfw_eval.py --model "$MODEL" --out "$OUT"

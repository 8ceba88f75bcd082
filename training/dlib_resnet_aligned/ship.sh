#!/usr/bin/env bash
# Checkpoint -> the shipped files: FP32 ONNX (parity-checked), calibrated on one hash half of
# UTKFace val (gender temperature, age-interval quantiles; the other half reports), then static
# INT8 for ONNX Runtime CPU calibrated on 512 aligned TRAIN faces (percentile ranges: on UTKFace val
# -0.08 pt gender vs FP32, where MinMax and entropy lose 0.25 pt; the first conv quantized too:
# 816 vs 497 faces/s model-only at batch 32 on 2 AMD EPYC cores, same accuracy. The fast tier keeps
# its first conv in FP32 as before: INT8_FIRST_CONV=--int8-keep-first-conv).
#   training/dlib_resnet_aligned/ship.sh runs/dlib_resnet_aligned/best.pt data/ship
set -euo pipefail
# NAME, CAL_DIR (calibration report) and INT8_DATA (aligned train crops) select another model,
# e.g. the fast tier: NAME=edge_resnet_aligned CAL_DIR=training/edge_resnet_aligned_v7_dlib_kd/calibration
# INT8_DATA=data/utk112a.h5
CKPT=$1; OUT=${2:-data/ship}; NAME=${NAME:-dlib_resnet_aligned}
CAL_DIR=${CAL_DIR:-$(dirname "$0")/calibration}; INT8_DATA=${INT8_DATA:-data/utk_dlib.h5}
mkdir -p "$OUT"
agegender-edge export --checkpoint "$CKPT" --out "$OUT/raw.onnx" --name "$NAME" --age-estimate median | tail -1
agegender-edge calibrate ../shared/data/utkface/images --labels ../shared/data/utkface/labels.csv --split val \
    --fit-fraction 0.5 --model "$OUT/raw.onnx" --out "$CAL_DIR" --write-model "$OUT/$NAME.onnx" | tail -4
agegender-edge export --onnx "$OUT/$NAME.onnx" --format onnx-int8 --calibration "$INT8_DATA" \
    --int8-calibration-method percentile ${INT8_FIRST_CONV:---int8-quantize-first-conv} \
    --out "$OUT/${NAME}_int8.onnx" --name "${NAME}_int8" | tail -2
rm "$OUT/raw.onnx"

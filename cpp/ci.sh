#!/usr/bin/env bash
# C++ runtime CI (called by .ci/run): install the toolchain packages, build, run the CTest suite,
# then build again with AddressSanitizer + UBSan and rerun the unit and bad-input tests.
#
# Environment: JOBS (default: nproc), AGEGENDER_EDGE_TEST_MODEL (default: the shipped model
# agegender_edge/weights/dlib_resnet_aligned.onnx), AGEGENDER_EDGE_DATA_DIR (default ../shared/data),
# PYTHON (default: python3 on PATH, with agegender_edge importable, for the parity tests),
# SKIP_ASAN=1 to skip the sanitizer pass.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-$(nproc)}

# --- toolchain (Debian packages; JetPack / other distros: see docs/CPP.md) --------------------
PKGS=(cmake g++ ninja-build pkg-config libopencv-dev nlohmann-json3-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "cpp/ci.sh: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-$(command -v python3 || command -v python || true)}
MODEL=${AGEGENDER_EDGE_TEST_MODEL:-$ROOT/agegender_edge/weights/dlib_resnet_aligned.onnx}
DATA=${AGEGENDER_EDGE_DATA_DIR:-$ROOT/../shared/data}
if [ ! -f "$MODEL" ]; then
  echo "cpp/ci.sh: model $MODEL not found (set AGEGENDER_EDGE_TEST_MODEL)" >&2
  exit 1
fi
COMMON=(-G Ninja -DAGEGENDER_EDGE_MODEL="$MODEL" -DAGEGENDER_EDGE_DATA_DIR="$DATA")
[ -n "$PYTHON" ] && COMMON+=(-DAGEGENDER_EDGE_PYTHON="$PYTHON")

# --- release build + full suite ------------------------------------------------------------------
start=$(date +%s)
cmake -S . -B build-cpp -DCMAKE_BUILD_TYPE=Release "${COMMON[@]}" >/dev/null
cmake --build build-cpp -j "$JOBS"
echo "cpp/ci.sh: release build took $(( $(date +%s) - start ))s"
(cd build-cpp && ctest --output-on-failure -j "$JOBS")

# --- AddressSanitizer + UndefinedBehaviorSanitizer: unit and bad-input tests ---------------------
if [ "${SKIP_ASAN:-0}" != "1" ]; then
  start=$(date +%s)
  cmake -S . -B build-cpp-asan -DCMAKE_BUILD_TYPE=Debug -DAGEGENDER_EDGE_SANITIZE=address,undefined \
        "${COMMON[@]}" >/dev/null
  cmake --build build-cpp-asan -j "$JOBS" --target agegender-edge-cpp agegender_edge_unit_tests make_test_inputs
  echo "cpp/ci.sh: sanitizer build took $(( $(date +%s) - start ))s"
  export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:exitcode=86
  export LSAN_OPTIONS=suppressions=$ROOT/cpp/tests/lsan.supp:print_suppressions=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87
  (cd build-cpp-asan && ctest --output-on-failure -L "unit|badinput" -j "$JOBS")
fi

"""The thread budget of a Predictor: ONNX Runtime intra-op threads + preparation workers.

Inference and preparation (decode, detect, crop) run at the same time inside every call, so
their threads add up: ORT's default (one intra-op thread per core) plus two prep workers put
4 busy threads on a 2-core machine, and the spinning ORT threads then steal the cores the
workers need. The plan splits the usable cores (``os.sched_getaffinity``: what this process
may run on, not what the machine has) between the two, never more threads than cores.

On 2 cores there is one split (1 intra-op thread + 1 prep worker; benchmarks/thread_split.py
measured it ahead of 2+1 and 2+2 on an Intel Xeon with AMX and on an AMD EPYC, docs/BENCHMARKS.md).
On more cores the split is chosen from measured costs on the machine at hand: a short calibration
(``calibrate``: one image's decode + detection at chip and at photo size, one batch of inference
on one ONNX Runtime thread; ~0.1-0.5 s) gives the seconds per image of preparation and per face of
inference, and the split that maximises the predicted pipeline rate, min(workers / prep,
threads / inference), averaged (geometric mean) over the two workloads, wins. The costs are cached
in the user cache dir, keyed by CPU model, model file and ONNX Runtime version, so the calibration
runs once per machine and model. ``$AGEGENDER_EDGE_THREADS``: ``auto`` (the default), ``rule``
(no calibration: half the cores prepare, half infer) or ``I+W`` (I intra-op threads + W workers).
Either number can also be given explicitly (``Predictor(workers=, ort_options=OrtOptions(
intra_op_threads=))``); the other then takes the remaining cores.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)
THREADS_ENV = "AGEGENDER_EDGE_THREADS"
CACHE_ENV = "AGEGENDER_EDGE_CACHE_DIR"      # overrides the user cache dir for the calibration cache
CALIBRATION_VERSION = 1


def usable_cores() -> int:
    """Cores this process may run on (CPU affinity, cgroup-pinned containers included)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ThreadPlan:
    cores: int
    intra_op_threads: int     # ONNX Runtime threads for one inference call
    prep_workers: int         # decode / detect / crop threads

    def describe(self) -> str:
        return (f"{self.intra_op_threads} inference thread(s) + {self.prep_workers} prep worker(s) "
                f"on {self.cores} core(s)")


@dataclass(frozen=True)
class StageCosts:
    """Seconds on one thread: preparing one image (decode + detect + crop) at two sizes, and
    inferring one face (batched)."""
    prep_chip_s: float        # a 200x200 face chip
    prep_photo_s: float       # a 640x480 photo
    infer_face_s: float
    cached: bool = False

    def describe(self) -> str:
        return (f"prep {self.prep_chip_s * 1e3:.2f} ms/chip, {self.prep_photo_s * 1e3:.2f} ms/photo, "
                f"inference {self.infer_face_s * 1e3:.2f} ms/face" + (" (cached)" if self.cached else ""))


def split_from_costs(cores: int, costs: StageCosts) -> tuple[int, int]:
    """(intra-op threads, prep workers), together ``cores``, maximising the predicted pipeline rate
    (the slower stage: workers / prep vs threads / inference), geometric mean over chips and photos.
    Ties go to more prep workers. One core: (1, 1)."""
    if cores < 2:
        return 1, 1

    def rate(intra: int) -> float:
        workers = cores - intra
        per = [min(workers / max(p, 1e-9), intra / max(costs.infer_face_s, 1e-9))
               for p in (costs.prep_chip_s, costs.prep_photo_s)]
        return math.exp(sum(math.log(r) for r in per) / len(per))

    best = max(range(1, cores), key=lambda i: (round(rate(i), 6), -i))
    return best, cores - best


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware"):
                    return value.strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def calibration_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agegender_edge"
    return base / "thread_calibration"


def _cache_key(model_path: Path) -> str:
    import onnxruntime as ort
    h = hashlib.sha256()
    with open(model_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    text = json.dumps([CALIBRATION_VERSION, _cpu_model(), h.hexdigest(), ort.__version__])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _best_of(fn, repeats: int = 2) -> float:
    fn()                                     # warm-up (first-call allocations)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure_costs(model_path: Path, batch: int = 8) -> StageCosts:
    """Time the stages on this machine (one thread each): the default detector on a synthetic
    JPEG at chip and at photo size (decode included), and one batch through the model."""
    import cv2
    import numpy as np
    import onnxruntime as ort

    from .detection.factory import create_detector

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [batch] + [d if isinstance(d, int) else 96 for d in inp.shape[1:]]
    rng = np.random.default_rng(0)
    x = (rng.random(shape, dtype=np.float32) * 255.0) if "float" in inp.type else rng.integers(0, 255, shape, dtype=np.uint8)
    infer = _best_of(lambda: sess.run(None, {inp.name: x})) / batch

    try:   # a photo with a face skips YuNet's rotation search; the synthetic image has none
        detector = create_detector("auto", rotation_search=False)
    except TypeError:     # a default detector without that option
        detector = create_detector("auto")
    cv2_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        prep = []
        for w, h in ((200, 200), (640, 480)):
            yy, xx = np.mgrid[0:h, 0:w]
            img = np.dstack([(xx * 255 // w), (yy * 255 // h), ((xx + yy) * 127 // (w + h))]).astype(np.uint8)
            img = np.clip(img.astype(np.int16) + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
            ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert ok
            data = jpeg.tobytes()
            prep.append(_best_of(lambda: detector.detect(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))))
    finally:
        cv2.setNumThreads(cv2_threads)
        detector.close()
    return StageCosts(prep_chip_s=prep[0], prep_photo_s=prep[1], infer_face_s=infer)


def calibrate(model_path: Path) -> Optional[StageCosts]:
    """The stage costs for ``model_path`` on this machine: from the cache, or measured and cached.
    None when they cannot be measured (then the fixed rule applies)."""
    model_path = Path(model_path)
    try:
        path = calibration_cache_dir() / f"{_cache_key(model_path)}.json"
    except (OSError, ImportError) as exc:
        log.info("thread calibration skipped (%s)", exc)
        return None
    try:
        d = json.loads(path.read_text())
        return StageCosts(d["prep_chip_s"], d["prep_photo_s"], d["infer_face_s"], cached=True)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    t0 = time.perf_counter()
    try:
        costs = measure_costs(model_path)
    except Exception as exc:   # a model the 1-thread CPU session cannot run, a detector that fails: keep the rule
        log.info("thread calibration failed (%s: %s); using the fixed split", type(exc).__name__, exc)
        return None
    log.info("thread calibration for %s in %.2f s: %s", model_path.name, time.perf_counter() - t0, costs.describe())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({k: v for k, v in asdict(costs).items() if k != "cached"}))
        os.replace(tmp, path)
    except OSError as exc:
        log.info("thread calibration not cached (%s)", exc)
    return costs


def calibration_model(model_path: Path, builtin_default: bool, backend: str = "auto",
                      device: Optional[str] = None) -> Optional[Path]:
    """The ONNX file ONNX Runtime will run on the CPU for this Predictor (None: not a CPU run, or
    not an ONNX file): the built-in default runs its INT8 file there (shipped.default_for_backend)."""
    if backend not in ("auto", "onnxruntime") or device not in (None, "cpu"):
        return None
    model_path = Path(model_path)
    if builtin_default:
        from .shipped import CPU_VARIANT_SUFFIX
        int8 = model_path.with_name(f"{model_path.stem}{CPU_VARIANT_SUFFIX}{model_path.suffix}")
        if int8.is_file():
            return int8
    return model_path if model_path.suffix == ".onnx" and model_path.is_file() else None


def _split_from_env(value: str) -> Optional[tuple[int, int]]:
    """``I+W`` -> (I, W); ``auto`` / ``rule`` / empty -> None. Anything else is refused."""
    value = value.strip().lower()
    if value in ("", "auto", "rule"):
        return None
    intra, sep, workers = value.partition("+")
    if sep and intra.isdigit() and workers.isdigit() and int(intra) >= 1 and int(workers) >= 1:
        return int(intra), int(workers)
    raise ValueError(f"${THREADS_ENV}={value!r}: use auto, rule, or I+W (intra-op threads + prep workers, e.g. 2+1)")


def plan_threads(cores: Optional[int] = None, workers: Optional[int] = None,
                 intra_op_threads: Optional[int] = None, model_path: Optional[Path] = None) -> ThreadPlan:
    """Split ``cores`` (default: usable_cores()) between inference and preparation.

    ``workers`` / ``intra_op_threads``: explicit choices (None or 0 = choose); an explicit
    value is kept even when the two together exceed the cores (the caller asked for it).
    ``model_path``: the file ONNX Runtime will run on the CPU; with more than 2 cores and neither
    number given, the split comes from its calibrated costs (``$AGEGENDER_EDGE_THREADS``)."""
    cores = max(1, cores or usable_cores())
    if workers is not None and workers < 1:
        raise ValueError("workers must be >= 1 (or None to choose from the core count)")
    if intra_op_threads is not None and intra_op_threads < 0:
        raise ValueError("intra_op_threads must be >= 0 (0 or None = choose from the core count)")
    intra = intra_op_threads or None
    mode = os.environ.get(THREADS_ENV, "auto")
    if workers is None and intra is None:
        forced = _split_from_env(mode)
        costs = calibrate(model_path) if forced is None and mode.strip().lower() != "rule" \
            and model_path is not None and cores > 2 else None
        if forced is not None:
            intra, workers = forced
        elif costs is not None:
            intra, workers = split_from_costs(cores, costs)
            log.info("thread split from measured costs (%s): %d + %d", costs.describe(), intra, workers)
        else:
            workers = max(1, cores // 2)
            intra = max(1, cores - workers)
    elif workers is None:
        workers = max(1, cores - intra)
    elif intra is None:
        intra = max(1, cores - workers)
    return ThreadPlan(cores=cores, intra_op_threads=intra, prep_workers=workers)

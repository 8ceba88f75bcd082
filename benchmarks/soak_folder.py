#!/usr/bin/env python
"""Memory of a 10,000-image folder streamed through ``Predictor.predict_iter`` (issue 12, item 4).

The folder (default: the first 10,000 files of ../shared/data/utkface/images, a real folder of
200x200 JPEGs) is handed to ``predict_iter`` as a lazy generator of paths, exactly as
``agegender-edge predict folder/`` does; results are consumed one by one and dropped. Resident
memory (VmRSS) is sampled every 100 images and the peak (VmHWM) is recorded. Streaming means the
peak does not grow with the folder: after the warm-up (first 20 % of the images) the RSS stays
within soak.py's tolerance (growth <= 10 MiB, slope <= 5 MiB per 10,000), and the peak at the
end exceeds the peak at 2,000 images by at most that growth.

    python benchmarks/soak_folder.py                         # default model + default detector
    python benchmarks/soak_folder.py --detector none --limit 20000
Writes benchmarks/results/soak_folder.json (machine load recorded) and soak_folder_rss.png.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from soak import SHARED_DATA, TOLERANCE, evaluate, rss_mib  # noqa: E402


def peak_rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("VmHWM not found in /proc/self/status")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folder", type=Path, default=SHARED_DATA / "utkface" / "images")
    ap.add_argument("--limit", type=int, default=10_000)
    ap.add_argument("--model", default=None, help="default: Predictor()'s default model")
    ap.add_argument("--detector", default="auto", help="auto (default detector) | haar | none")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "soak_folder.json")
    ap.add_argument("--plot", type=Path, default=HERE / "results" / "soak_folder_rss.png")
    args = ap.parse_args(argv)

    from agegender_edge.bench.env import capture_environment, finish_environment
    from agegender_edge.predictor import Predictor

    env = capture_environment()
    names = sorted(p.name for p in args.folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    names = names[: args.limit]
    paths = (args.folder / n for n in names)          # lazy, as a folder walk would be
    detector = None if args.detector == "none" else args.detector
    samples, peaks = [], {}
    images = faces = errors = 0
    t0 = time.perf_counter()
    with Predictor(args.model, detector=detector) as p:
        desc = f"{p.model_path.name}, detector {p.detector.describe()}, {p.threads.describe()}, " \
               f"batch {p.batch_size}, read-ahead {p.read_ahead} images"
        samples.append({"predictions": 0, "t_s": 0.0, "rss_mib": round(rss_mib(), 2)})
        for res in p.predict_iter(paths):
            images += 1
            faces += len(res.faces)
            errors += not res.ok
            if images % 100 == 0:
                samples.append({"predictions": images, "t_s": round(time.perf_counter() - t0, 2),
                                "rss_mib": round(rss_mib(), 2)})
            if images in (1_000, 2_000, 5_000, 10_000, 20_000):
                peaks[images] = round(peak_rss_mib(), 2)
            if images % 1000 == 0:
                print(f"{images:6d} images  {time.perf_counter() - t0:6.1f} s  RSS {samples[-1]['rss_mib']:.1f} MiB  "
                      f"peak {peak_rss_mib():.1f} MiB", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - t0
    finish_environment(env)
    result = {"images": images, "faces": faces, "errors": errors, "folder": str(args.folder),
              "pipeline": desc, "seconds": round(elapsed, 1), "images_per_s": round(images / elapsed, 1),
              "peak_rss_mib_at": peaks, "peak_rss_mib_end": round(peak_rss_mib(), 2),
              "environment": env, "samples": samples}
    result.update(evaluate(samples, TOLERANCE))
    first_peak = peaks.get(2_000)
    result["peak_growth_after_2000_mib"] = round(result["peak_rss_mib_end"] - first_peak, 2) if first_peak else None
    result["flat"] = bool(result["flat"] and (first_peak is None
                                              or result["peak_growth_after_2000_mib"] <= TOLERANCE["max_growth_mib"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    try:
        from soak import plot
        plot({**result, "predictions": images}, args.plot)
    except ImportError:
        pass
    summary = {k: v for k, v in result.items() if k not in ("samples", "environment")}
    summary["load_average"] = [env["load_average_start"], env["load_average_end"]]
    summary["busy_machine"] = env["busy_warning"]
    print(json.dumps(summary, indent=2))
    return 0 if result["flat"] else 1


if __name__ == "__main__":
    sys.exit(main())

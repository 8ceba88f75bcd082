"""The Ray Serve workload of tests/serve/test_ray_serve.py, run inside a loopback-only network
namespace (``unshare -n``, as tests/label/ray_scenarios.py): `agegender-edge serve --engine ray
--replicas 2` starts a local Ray cluster and Ray Serve on 127.0.0.1, answers the photos (one at a
time, concurrently, and as one batch request), then gets SIGTERM. The pytest process compares the
answers, written to the JSON report, with the local server's; all assertions live in the test.

Usage (as root): unshare -n python ray_serve_scenario.py --work DIR PHOTO...
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.label.ray_scenarios import loopback_only_namespace  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("photos", nargs="+", type=Path)
    args = ap.parse_args()
    interfaces = loopback_only_namespace()
    import httpx

    log = open(args.work / "serve_ray.log", "w")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "agegender_edge.cli.main", "serve", "--engine", "ray", "--replicas",
                             "2", "--num-cpus", "2", "--port", "0", "--max-batch-delay-ms", "20"],
                            stderr=subprocess.PIPE, stdout=log, text=True)
    url = None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if m:
            url = m.group(1)
            break
    if url is None:
        raise SystemExit(f"serve --engine ray did not start (rc {proc.wait()}):\n{''.join(lines)[-4000:]}")
    threading.Thread(target=lambda: log.write("".join(proc.stderr)), daemon=True).start()
    started_s = time.monotonic() - t0
    with httpx.Client(base_url=url, timeout=120) as c:
        deadline = time.monotonic() + 120
        while c.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        data = [p.read_bytes() for p in args.photos]
        single = [c.post("/v1/predict", content=d, headers={"Content-Type": "image/jpeg"}).json() for d in data]
        with cf.ThreadPoolExecutor(8) as pool:
            concurrent = list(pool.map(lambda d: c.post("/v1/predict", content=d,
                                                        headers={"Content-Type": "image/jpeg"}).json(), data * 3))
            replicas = sorted(set(pool.map(lambda _: c.get("/v1/model").json()["replica"], range(40))))
        batch = c.post("/v1/predict/batch", files=[("image", (p.name, d, "image/jpeg"))
                                                   for p, d in zip(args.photos, data)]).json()
        bad = c.post("/v1/predict", content=b"not an image", headers={"Content-Type": "image/jpeg"})
        model = c.get("/v1/model").json()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=120)
    report = {"interfaces": interfaces, "url": url, "started_s": round(started_s, 1), "single": single,
              "concurrent": concurrent, "batch": batch, "replicas": replicas, "model": model,
              "bad": {"status": bad.status_code, "body": bad.json()}, "exit_code": rc}
    (args.work / "report.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()

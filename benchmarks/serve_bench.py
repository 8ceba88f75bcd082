"""`agegender-edge serve` under load, against the same photos predicted in process.

    python benchmarks/serve_bench.py                 # ~1.5 min; writes benchmarks/results/serve_local.{json,md}
    python benchmarks/serve_bench.py --seconds 10 --out /tmp/serve_quick

Loopback only (the server binds 127.0.0.1; as root the script re-runs itself in a network
namespace that has only loopback, `unshare -n`). Bounded: --seconds of load and at most
--max-requests requests. The server is the real CLI (`agegender-edge serve --port 0`, defaults
otherwise), a separate process; the load comes from --clients concurrent keep-alive connections,
each sending LFW dev photos one after another as raw image/jpeg bodies (a small asyncio HTTP/1.1
client, so the load generator costs little of the 2 cores the server also needs).

Recorded: requests/s and images/s vs in-process ``Predictor.predict_iter`` on the same photos
(measured before and after the load, same Predictor defaults), p50 / p90 / p99 latency, status
codes (zero 5xx expected), lost or duplicated answers (every answer is checked against the
in-process result for the photo sent on that connection: same size, same faces, boxes and
ages equal to the JSON's 6 significant digits), the server's RSS once a second (flat = no growth after warm-up), and the mean
inference batch size from the server's /metrics. The load average is recorded: figures from a
machine shared with other jobs are labelled as such.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO / "benchmarks"))
from label_bench import cpu_model, ensure_loopback_namespace  # noqa: E402


def lfw_photos(n: int) -> list[tuple[str, bytes]]:
    files = sorted((DATA / "lfw" / "images").glob("*.jpg"))[:n]
    return [(f.name, f.read_bytes()) for f in files]


def in_process(photos, seconds: float) -> dict:
    """predict_iter over the photos, round and round, for ``seconds``: images/s (model load excluded)."""
    from agegender_edge import Predictor

    with Predictor() as predictor:
        list(predictor.predict_iter([d for _, d in photos[:64]]))      # warm-up
        deadline = [0.0]

        def stream():
            i = 0
            while time.perf_counter() < deadline[0]:
                yield photos[i % len(photos)][1]
                i += 1

        t0, c0 = time.perf_counter(), time.process_time()
        deadline[0] = t0 + seconds
        n = sum(1 for _ in predictor.predict_iter(stream()))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        expected = {name: r for (name, _), r in zip(photos, predictor.predict([d for _, d in photos]))}
    return {"images": n, "seconds": round(wall, 2), "images_per_second": round(n / wall, 1),
            "cpu_ms_per_image": round(1000 * cpu / n, 2)}, expected


def same_result(got: dict, want: dict) -> bool:
    """The answer is the in-process result of that photo: same size and faces, boxes and ages
    equal to the JSON's 6 significant digits."""
    if (got["width"], got["height"], len(got["faces"])) != (want["width"], want["height"], len(want["faces"])):
        return False
    close = lambda a, b: abs(a - b) <= 1e-5 * max(1.0, abs(b))   # noqa: E731
    return all(close(g["box"][k], w["box"][k]) for g, w in zip(got["faces"], want["faces"]) for k in ("x", "y", "width")) \
        and all(close(g["age"], w["age"]) for g, w in zip(got["faces"], want["faces"]))


class Server:
    def __init__(self, extra: list[str]):
        self.proc = subprocess.Popen([sys.executable, "-m", "agegender_edge.cli.main", "serve", "--port", "0", *extra],
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        self.url = None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise SystemExit(f"the server exited ({self.proc.returncode}) before listening")
            m = re.search(r"listening on http://([\d.]+):(\d+)", line)
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                break
        else:
            raise SystemExit("the server did not start within 120 s")
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()   # keep its pipe drained

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")     # utime + stime

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


async def http(reader, writer, method: str, path: str, body: bytes = b"", ctype: str = "") -> tuple[int, bytes]:
    head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n"
    if ctype:
        head += f"Content-Type: {ctype}\r\n"
    writer.write(head.encode() + b"\r\n" + body)
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def metrics_snapshot(host: str, port: int) -> dict:
    reader, writer = await asyncio.open_connection(host, port)
    _, body = await http(reader, writer, "GET", "/metrics")
    writer.close()
    out = {}
    for line in body.decode().splitlines():
        m = re.match(r"^(agegender_inference_batch_size_(?:sum|count)|agegender_images_total\{outcome=\"ok\"\}) (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


async def load(server: Server, photos, expected: dict, clients: int, seconds: float, max_requests: int) -> dict:
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    mismatched: list[str] = []
    sent = [0]
    answered = [0]
    rss: list[tuple[float, float]] = []
    t_end = time.perf_counter() + seconds

    async def client(k: int):
        reader, writer = await asyncio.open_connection(server.host, server.port)
        i = k
        while time.perf_counter() < t_end and sent[0] < max_requests:
            name, data = photos[i % len(photos)]
            i += clients
            sent[0] += 1
            t0 = time.perf_counter()
            status, body = await http(reader, writer, "POST", "/v1/predict", data, "image/jpeg")
            latencies.append(time.perf_counter() - t0)
            answered[0] += 1
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200 and not same_result(json.loads(body), expected[name]):
                mismatched.append(name)
        writer.close()

    async def sample_rss():
        t0 = time.perf_counter()
        while time.perf_counter() < t_end:
            rss.append((round(time.perf_counter() - t0, 1), round(server.rss_mib(), 1)))
            await asyncio.sleep(1.0)

    before = await metrics_snapshot(server.host, server.port)
    t0, server_cpu0, client_cpu0 = time.perf_counter(), server.cpu_seconds(), time.process_time()
    await asyncio.gather(sample_rss(), *(client(k) for k in range(clients)))
    wall = time.perf_counter() - t0
    server_cpu, client_cpu = server.cpu_seconds() - server_cpu0, time.process_time() - client_cpu0
    after = await metrics_snapshot(server.host, server.port)
    calls = after["agegender_inference_batch_size_count"] - before["agegender_inference_batch_size_count"]
    faces = after["agegender_inference_batch_size_sum"] - before["agegender_inference_batch_size_sum"]
    lat = sorted(latencies)
    q = lambda p: round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1)   # noqa: E731
    return {"clients": clients, "seconds": round(wall, 2), "requests_sent": sent[0], "responses": answered[0],
            "lost": sent[0] - answered[0], "mismatched_or_duplicated": len(mismatched),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "server_5xx": sum(v for k, v in statuses.items() if k >= 500),
            "requests_per_second": round(answered[0] / wall, 1),
            "server_cpu_ms_per_image": round(1000 * server_cpu / max(1, answered[0]), 2),
            "client_cpu_ms_per_image": round(1000 * client_cpu / max(1, answered[0]), 2),
            "latency_ms": {"p50": q(0.50), "p90": q(0.90), "p99": q(0.99), "max": round(1000 * lat[-1], 1)},
            "inference_calls": int(calls), "mean_inference_batch_faces": round(faces / calls, 2) if calls else None,
            "rss_mib": rss}


def rss_growth(series: list) -> dict:
    vals = [v for _, v in series]
    if len(vals) < 10:
        return {"first_5s_mib": None, "last_5s_mib": None}
    first, last = statistics.mean(vals[:5]), statistics.mean(vals[-5:])
    return {"first_5s_mib": round(first, 1), "last_5s_mib": round(last, 1), "growth_mib": round(last - first, 1),
            "max_mib": max(vals)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=400, help="LFW dev photos cycled through (sorted by name)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=30.0, help="load duration")
    ap.add_argument("--baseline-seconds", type=float, default=10.0, help="each in-process measurement")
    ap.add_argument("--max-requests", type=int, default=200_000)
    ap.add_argument("--server-args", default="", help="extra `serve` options, e.g. '--max-batch-delay-ms 2'")
    ap.add_argument("--out", type=Path, default=RESULTS / "serve_local")
    ap.add_argument("--render-only", action="store_true", help="rewrite OUT.md from OUT.json")
    args = ap.parse_args()
    if args.render_only:
        args.out.with_suffix(".md").write_text(render_md(json.loads(args.out.with_suffix(".json").read_text())))
        return
    loopback = ensure_loopback_namespace()
    from agegender_edge import __version__

    photos = lfw_photos(args.photos)
    load_before = os.getloadavg()
    base_before, expected = in_process(photos, args.baseline_seconds)
    expected = {k: json.loads(json.dumps(v.to_dict())) for k, v in expected.items()}
    server = Server(args.server_args.split())
    try:
        warm = asyncio.run(load(server, photos, expected, args.clients, 3.0, 10_000))
        run = asyncio.run(load(server, photos, expected, args.clients, args.seconds, args.max_requests))
    finally:
        rc = server.stop()
    base_after, _ = in_process(photos, args.baseline_seconds)
    load_after = os.getloadavg()
    baseline = (base_before["images_per_second"] + base_after["images_per_second"]) / 2
    result = {
        "command": "python benchmarks/serve_bench.py " + " ".join(sys.argv[1:]),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "environment": {"cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)), "python": platform.python_version(),
                        "agegender_edge": __version__, "loopback_only_netns": loopback,
                        "load_average_before": [round(x, 2) for x in load_before],
                        "load_average_after": [round(x, 2) for x in load_after]},
        "photos": len(photos), "server_args": args.server_args, "server_exit_code": rc,
        "in_process_predict_iter": {"before": base_before, "after": base_after, "mean_images_per_second": baseline},
        "warm_up": {k: warm[k] for k in ("requests_per_second", "server_5xx", "lost")},
        "load": run, "rss": rss_growth(run["rss_mib"]),
        "throughput_vs_in_process": round(run["requests_per_second"] / baseline, 3),
        "cpu_per_image_in_process_vs_server": round(
            statistics.mean([base_before["cpu_ms_per_image"], base_after["cpu_ms_per_image"]])
            / run["server_cpu_ms_per_image"], 3),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(render_md(result))
    print(render_md(result))


def render_md(r: dict) -> str:
    env, ld, base = r["environment"], r["load"], r["in_process_predict_iter"]
    busy = max(env["load_average_before"][0], env["load_average_after"][0]) > 0.5 * env["cores"] + 0.5
    lines = [
        f"# `agegender-edge serve` under load ({r['when']})", "",
        f"`{r['command']}` — {env['cores']} CPUs ({env['cpu']}), Python {env['python']}, agegender-edge "
        f"{env['agegender_edge']}; server and load generator on the same machine, over loopback "
        f"(loopback-only network namespace: {env['loopback_only_netns']}).", "",
        f"Load average (1/5/15 min) before: {env['load_average_before']}, after: {env['load_average_after']}. "
        + ("**The machine was shared with other jobs during this run**: absolute figures are lower than on an "
           "idle machine, and the server and the in-process baseline competed with the same jobs."
           if busy else "Measured on an otherwise idle machine."), "",
        f"{ld['clients']} concurrent keep-alive clients, each sending one of {r['photos']} LFW dev photos (250x250 "
        f"JPEG, raw image/jpeg body) after the answer to its previous one, for {ld['seconds']} s; server defaults "
        f"(`{('agegender-edge serve --port 0 ' + r['server_args']).strip()}`).", "",
        "| | value |", "|---|---|",
        f"| requests answered / sent | {ld['responses']} / {ld['requests_sent']} (lost: {ld['lost']}, wrong or "
        f"duplicated answers: {ld['mismatched_or_duplicated']}) |",
        f"| status codes | {ld['statuses']} (5xx: {ld['server_5xx']}) |",
        f"| server throughput | **{ld['requests_per_second']} images/s** |",
        f"| in-process `predict_iter`, same photos | {base['before']['images_per_second']} images/s before, "
        f"{base['after']['images_per_second']} after (mean {base['mean_images_per_second']:.1f}) |",
        f"| server / in-process | **{100 * r['throughput_vs_in_process']:.0f}%** |",
        f"| CPU per image, all threads | in-process {base['before']['cpu_ms_per_image']} / "
        f"{base['after']['cpu_ms_per_image']} ms (before / after); server {ld['server_cpu_ms_per_image']} ms "
        f"(+ {ld['client_cpu_ms_per_image']} ms in the load generator) |",
        f"| CPU-bound ratio (in-process CPU per image / server CPU per image) | "
        f"**{100 * r['cpu_per_image_in_process_vs_server']:.0f}%**: what the server reaches where both can "
        f"use every core, independent of other jobs' share |",
        f"| latency p50 / p90 / p99 / max | {ld['latency_ms']['p50']} / {ld['latency_ms']['p90']} / "
        f"{ld['latency_ms']['p99']} / {ld['latency_ms']['max']} ms |",
        f"| mean inference batch (faces per call) | {ld['mean_inference_batch_faces']} over "
        f"{ld['inference_calls']} calls |",
        f"| server RSS | {r['rss']['first_5s_mib']} MiB (first 5 s) -> {r['rss']['last_5s_mib']} MiB (last 5 s), "
        f"max {r['rss'].get('max_mib')} MiB |",
        f"| server exit after SIGTERM | {r['server_exit_code']} |", "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

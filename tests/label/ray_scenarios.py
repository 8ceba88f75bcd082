"""The Ray workloads of tests/label/test_ray_engine.py, run once per test module inside a network
namespace that has only loopback (``unshare -n``): there Ray's local cluster binds 127.0.0.1 —
while another interface exists it binds that interface's address whatever it is told — and no
test traffic can reach any other address. The pytest process reads the datasets written here and
the JSON report; all assertions live in the tests.

Usage (as root): unshare -n python ray_scenarios.py --work DIR --manifest CSV --photos A.jpg B.jpg ...
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
KILL_AFTER_SHARDS = 2
SETTLE_S = 5.0


def loopback_only_namespace() -> list[str]:
    """Bring ``lo`` up (what ``ip link set lo up`` does, without needing iproute2) and check that it
    is the only interface: then every socket Ray opens stays on this machine."""
    names = [name for _, name in socket.if_nameindex()]
    if names != ["lo"]:
        raise SystemExit(f"not in a loopback-only network namespace (interfaces: {names}); run under unshare -n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))
    return names


def label_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "agegender_edge.cli.main", "label", *args]


def session_pids(sid: int) -> list[int]:
    """Processes still in session ``sid`` (the killed driver's Ray processes, if any survived it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == sid:
                    pids.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                pass
    return pids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return f"<pid {pid} gone>"


def killed_and_resumed(work: Path, manifest: str) -> dict:
    """`label --engine ray` starting its own local cluster; SIGKILL the driver once it has written
    shards; run the same command again to completion."""
    out = work / "ray_killed"
    cmd = label_cli(manifest, "--out", str(out), "--engine", "ray", "--actors", "2", "--num-cpus", "2",
                    "--detector", "none", "--shard-size", "20", "--no-progress",
                    "--summary-json", str(work / "resumed_summary.json"))
    log = open(work / "killed_run.log", "wb")
    driver = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 240
    while len(list(out.glob("part-*.parquet"))) < KILL_AFTER_SHARDS and driver.poll() is None:
        if time.monotonic() > deadline:
            driver.kill()
            raise SystemExit("the ray run wrote no shards in 240 s")
        time.sleep(0.05)
    finished_before_kill = driver.poll() is not None
    if finished_before_kill and driver.returncode != 0:
        log.close()
        raise SystemExit(f"the ray run failed before it could be interrupted (rc {driver.returncode}):\n"
                         + (work / "killed_run.log").read_text()[-3000:])
    if not finished_before_kill:
        os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    shards_at_kill = len(list(out.glob("part-*.parquet")))
    # Ray's reaper stops the cluster (GCS, raylet, workers) a killed driver started; its per-node
    # agents notice the raylet is gone, try to flush logs to the dead GCS and exit about a minute
    # later. Record what is still there after a few seconds, then stop it (only processes of the
    # session started above) so that nothing outlives the test.
    time.sleep(SETTLE_S)
    survivors = [_cmdline(pid) for pid in session_pids(driver.pid)]
    for pid in session_pids(driver.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    t0 = time.perf_counter()
    rerun = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=300)
    return {"finished_before_kill": finished_before_kill, "shards_at_kill": shards_at_kill,
            "survivors_after_settle": survivors, "rerun_rc": rerun.returncode,
            "rerun_seconds": round(time.perf_counter() - t0, 2),
            "rerun_summary": json.loads((work / "resumed_summary.json").read_text()) if rerun.returncode == 0
            else None}


def in_process_runs(work: Path, manifest: str, photos: list[str]) -> dict:
    """A local cluster started here (num_cpus=2); label() joins the running session."""
    import ray

    from agegender_edge.label import label

    t0 = time.perf_counter()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    report = {"cluster_start_seconds": round(time.perf_counter() - t0, 2),
              "node_ip": ray.util.get_node_ip_address(), "cluster_cpus": ray.cluster_resources().get("CPU")}
    try:
        chips = label(manifest, work / "ray_chips", engine="ray", actors=2, detector="none", shard_images=40,
                      progress=False)
        photos_run = label(photos, work / "ray_photos", engine="ray", actors=2, progress=False)
        report.update(chips_summary=chips.to_dict(), photos_summary=photos_run.to_dict())
    finally:
        ray.shutdown()
    return report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--photos", nargs="+", required=True)
    args = ap.parse_args()
    report = {"interfaces": loopback_only_namespace()}
    t0 = time.perf_counter()
    report["killed"] = killed_and_resumed(args.work, args.manifest)
    report.update(in_process_runs(args.work, args.manifest, args.photos))
    report["seconds"] = round(time.perf_counter() - t0, 2)
    (args.work / "report.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

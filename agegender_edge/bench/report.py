"""The benchmark report: one JSON document, a readable table, and a PNG plot.

JSON schema (``SCHEMA``): {schema, environment, config, model: [row...], skipped: [...],
pipeline: {...} | null, extra: {...}}. A model row carries the target (label, backend,
precision, model, options), ``batch_size`` and the latency summary of stats.LatencyStats
(``*_ms`` per batch, ``items_per_s`` = faces/s).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

SCHEMA = "agegender-edge-bench/1"
ROW_KEYS = ("label", "backend", "precision", "batch_size", "n", "min_ms", "mean_ms", "median_ms",
            "p90_ms", "p95_ms", "p99_ms", "max_ms", "std_ms", "items_per_s")


@dataclass
class BenchReport:
    environment: dict
    config: dict
    model: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    pipeline: Optional[dict] = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "environment": self.environment, "config": self.config, "model": self.model,
                "skipped": self.skipped, "pipeline": self.pipeline, "extra": self.extra}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, default=_json_default)

    @classmethod
    def from_dict(cls, d: dict) -> "BenchReport":
        if d.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} report (schema={d.get('schema')!r})")
        return cls(environment=d["environment"], config=d["config"], model=d.get("model", []),
                   skipped=d.get("skipped", []), pipeline=d.get("pipeline"), extra=d.get("extra", {}))

    # -- text --------------------------------------------------------------------------
    def table(self) -> str:
        parts = [environment_lines(self.environment)]
        if self.extra.get("end_to_end"):
            parts.append(end_to_end_table(self.extra["end_to_end"]))
        if self.model:
            parts.append(model_table(self.model))
        for s in self.skipped:
            parts.append(f"skipped {s['target']}: {s['reason']}")
        if self.pipeline:
            parts.append(pipeline_table(self.pipeline))
        return "\n\n".join(parts)


def _json_default(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def environment_lines(env: dict) -> str:
    pk = env.get("packages", {})
    libs = ", ".join(f"{k} {v}" for k, v in pk.items() if k != "agegender-edge")
    lines = [
        f"machine : {env.get('cpu_model')} ({env.get('machine')}, family/model {env.get('cpu_family_model')}), "
        f"{env.get('usable_cpus')} usable of {env.get('logical_cpus')} logical CPUs, "
        f"flags {' '.join(env.get('cpu_flags') or []) or '-'}",
        f"threads : {env.get('threads') if env.get('threads') else 'runtime default'}   "
        f"precision: {env.get('precision') or 'per row'}   GPU: {', '.join(env.get('gpus') or []) or 'none'}",
        f"software: agegender-edge {env.get('agegender_edge')}, python {env.get('python')}, {libs}",
        f"load    : {env.get('load_average_start')} at start, {env.get('load_average_end')} at end"
        + ("   WARNING: machine busy during the run, numbers unreliable" if env.get("busy_warning") else ""),
    ]
    return "\n".join(lines)


def _fmt(x, digits=2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if math.isinf(x):
            return "inf"
        return f"{x:.{digits}f}" if abs(x) < 1000 else f"{x:.0f}"
    return str(x)


def render(headers: list[str], rows: list[list], align_left: int = 1) -> str:
    cells = [[str(h) for h in headers]] + [[c if isinstance(c, str) else _fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "  ".join(c.ljust(w) if i < align_left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells[1:])
    return "\n".join(out)


def model_table(rows: list[dict]) -> str:
    headers = ["target", "backend", "prec", "batch", "iters", "min ms", "mean ms", "median ms", "p90 ms",
               "p95 ms", "p99 ms", "faces/s"]
    body = [[r["label"], r["backend"], r["precision"], str(r["batch_size"]), str(r["n"]), r["min_ms"], r["mean_ms"],
             r["median_ms"], r["p90_ms"], r["p95_ms"], r["p99_ms"], r["items_per_s"]] for r in rows]
    return "model only (latency per batch call)\n" + render(headers, body, align_left=3)


def end_to_end_table(rows: list[dict]) -> str:
    """End to end (files in, results out) beside model-only at the same batch size."""
    body = []
    for r in rows:
        alone = r.get("model_only_faces_per_s")
        body.append([r["label"], str(r["batch_size"]), r["faces_per_s"], alone if alone else None,
                     f"{100 * r['faces_per_s'] / alone:.0f}%" if alone else "-", f"{100 * r['network_busy']:.0f}%",
                     r.get("threads", "-")])
    src = rows[0].get("faces_source", "") if rows else ""
    return (f"end to end: Predictor.predict_faces on {src} (read + decode + crop + inference)\n"
            + render(["target", "batch", "faces/s", "model-only faces/s", "of model-only", "network busy",
                      "threads"], body, align_left=1))


def pipeline_table(p: dict) -> str:
    split = p.get("split") or {}
    lines = [f"pipeline: {p.get('images_desc', '')}  detector {p.get('detector')}  batch {p.get('batch_size')}  "
             f"workers {p.get('workers')}  model {p.get('model')}"]
    if split:
        body = []
        for name, v in split["stages"].items():
            body.append([name, v["mean_ms"], v.get("median_ms"), v.get("p90_ms"), f"{100 * v['share']:.1f}%"])
        body.append(["total (sequential)", split["sequential_ms_per_image"], None, None, "100%"])
        lines.append(render(["stage (per image)", "mean ms", "median ms", "p90 ms", "share"], body))
        lines.append(f"sequential, one thread: {split['sequential_images_per_s']:.1f} images/s "
                     f"({split['faces_per_image']:.2f} faces/image)")
    s = p.get("streamed")
    if s:
        lines.append(f"streamed (predict_iter, overlapped): {s['images_per_s']:.1f} images/s, "
                     f"{s['faces_per_s']:.1f} faces/s over {s['images']} images in {s['seconds']:.1f} s"
                     + (f", network busy {100 * s['network_busy']:.0f}% of the time" if "network_busy" in s else "")
                     + (f" (median of {len(s['repeats'])} runs)" if s.get("repeats") else ""))
    return "\n".join(lines)


def write_plot(report: BenchReport, path: Path) -> Path:
    """PNG: median latency per batch (left) and faces/s (right) vs batch size, one line per target."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        from ..install_hint import pip_install_extra
        raise ImportError(f"the plot needs matplotlib: {pip_install_extra('train')}") from exc
    by_target: dict[str, list[dict]] = {}
    for r in report.model:
        by_target.setdefault(r["label"], []).append(r)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, rows in by_target.items():
        rows = sorted(rows, key=lambda r: r["batch_size"])
        bs = [r["batch_size"] for r in rows]
        ax1.plot(bs, [r["median_ms"] for r in rows], marker="o", label=label)
        ax1.fill_between(bs, [r["min_ms"] for r in rows], [r["p95_ms"] for r in rows], alpha=0.15)
        ax2.plot(bs, [r["items_per_s"] for r in rows], marker="o", label=label)
    for ax, title, ylabel in ((ax1, "latency per batch (median, band min-p95)", "ms"),
                              (ax2, "throughput", "faces/s")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
    ax2.legend(fontsize=8)
    env = report.environment
    fig.suptitle(f"agegender-edge bench: {env.get('cpu_model')} x{env.get('usable_cpus')} CPUs, "
                 f"threads {env.get('threads') or 'default'}, GPU {', '.join(env.get('gpus') or []) or 'none'}",
                 fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

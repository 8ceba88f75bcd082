"""Write MODEL_CARD.md from the evaluation JSONs of the shipped model and the CC0 baseline.

    python training/make_model_card.py training/edge_resnet_utkface
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def fmt(v, p=3):
    return "-" if v is None else f"{v:.{p}f}"


def row(name: str, r: dict) -> str:
    return (f"| {name} | {r['n']} | {fmt(r['gender_accuracy'])} | {fmt(r['age_mae'], 2)} | "
            f"{fmt(r['age_group_accuracy'])} | {fmt(r['one_off_accuracy'])} |")


def group_table(r: dict) -> str:
    lines = ["| age group | gender | race | n | gender acc | 8-group | 1-off | MAE |", "|---|---|---|---|---|---|---|---|"]
    for g in r["per_group"]:
        cross = g["age_group"] and g["gender"]
        if cross:
            continue
        lines.append(f"| {g['age_group'] or '*'} | {g['gender'] or '*'} | {g['race'] or '*'} | {g['n']} | "
                     f"{fmt(g['gender_accuracy'])} | {fmt(g['age_group_accuracy'])} | {fmt(g['one_off_accuracy'])} | "
                     f"{fmt(g['age_mae'], 2)} |")
    return "\n".join(lines)


# (key, floor, aim, higher is better) from the project's acceptance criteria
TARGETS = [("gender_accuracy", 0.930, 0.95, True), ("age_mae", 4.5, 4.0, False),
           ("age_group_accuracy", 0.70, 0.74, True), ("one_off_accuracy", 0.975, 0.985, True)]


def status_table(ev: dict) -> str:
    lines = ["| metric | shipped | floor | aim | result |", "|---|---|---|---|---|"]
    for key, floor, aim, up in TARGETS:
        v = ev[key]
        ok = (lambda t: v >= t) if up else (lambda t: v <= t)
        verdict = "meets the aim" if ok(aim) else "meets the floor" if ok(floor) else "BELOW the floor"
        lines.append(f"| {key} | {v:.3f} | {floor} | {aim} | {verdict} |")
    return "\n".join(lines)


def distillation_text(cfg: dict, run_dir: Path) -> str:
    if not cfg.get("teacher"):
        return ""
    teacher_dir = run_dir.parent / (run_dir.name + "_teacher")
    t = json.loads((teacher_dir / "val_eval.json").read_text()) if (teacher_dir / "val_eval.json").exists() else None
    fig = (f" (val {t['gender_accuracy']:.3f} / MAE {t['age_mae']:.2f} / 8-group {t['age_group_accuracy']:.3f} / "
           f"1-off {t['one_off_accuracy']:.3f})") if t else ""
    return (f"Knowledge distillation (\"born-again\"): the targets mix the labels with the flip-averaged "
            f"predictions of a teacher, weight {cfg['distill_weight']}; the teacher is the same architecture "
            f"trained on the same train split with the same recipe minus distillation{fig}, its config and log "
            f"in `training/{teacher_dir.name}/`. Nothing outside UTKFace train went into either model.")


def main(run_dir: Path) -> None:
    ev = json.loads((run_dir / "val_eval.json").read_text())
    ev_noflip = json.loads((run_dir / "val_eval_noflip.json").read_text()) if (run_dir / "val_eval_noflip.json").exists() else None
    cc0 = json.loads((run_dir / "val_eval_cc0_unaligned.json").read_text())
    lh_dir = run_dir.parent / "levi_hassner_utkface"
    lh = json.loads((lh_dir / "val_eval.json").read_text()) if (lh_dir / "val_eval.json").exists() else None
    lh_over = json.loads((lh_dir / "val_eval_oversample.json").read_text()) if (lh_dir / "val_eval_oversample.json").exists() else None
    lh_epochs = len((lh_dir / "log.jsonl").read_text().splitlines()) if (lh_dir / "log.jsonl").exists() else 0
    cfg = json.loads((run_dir / "config.json").read_text())
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    card = (REPO / "training" / "MODEL_CARD.template.md").read_text()
    rows = [row("**edge_resnet_utkface (shipped, flip averaging in the graph)**", ev)]
    if (run_dir / "val_eval_int8.json").exists():
        rows.append(row("edge_resnet_utkface_int8 (shipped INT8 variant)",
                        json.loads((run_dir / "val_eval_int8.json").read_text())))
    if (run_dir / "val_eval_fast.json").exists():
        rows.append(row("edge_resnet_utkface_fast (shipped: no flip averaging, INT8)",
                        json.loads((run_dir / "val_eval_fast.json").read_text())))
    if ev_noflip:
        rows.append(row("same checkpoint, no flip averaging, FP32 (not shipped)", ev_noflip))
    if lh:
        rows.append(row(f"levi_hassner, same data, {lh_epochs} epochs only (not converged; flip averaging)", lh))
    if lh_over:
        rows.append(row("levi_hassner, 10-crop over-sampling (LH's own test protocol)", lh_over))
    rows.append(row("CC0 dlib/Cydral baseline, our chips, no dlib alignment", cc0))
    rows.append("| CC0 dlib/Cydral baseline with dlib alignment (shared/data README) | 2371 | 0.914 | 6.31 | 0.599 | 0.936 |")
    best = max(log, key=lambda r: r["val_score"])
    text = card.format(
        metrics_rows="\n".join(rows), group_table=group_table(ev), epochs=cfg["epochs"], best_epoch=best["epoch"],
        recipe=json.dumps({k: cfg.get(k) for k in ("batch_size", "lr", "weight_decay", "ema_decay", "age_sigma",
                                                "age_sigma_slope", "age_l1_weight", "dropout", "gender_label_smoothing",
                                                "aug_scale", "aug_rotate", "aug_shift", "distill_weight", "seed",
                                                "bf16")}),
        train_minutes=round(sum(r["epoch_seconds"] for r in log) / 60), confusion=json.dumps(ev["confusion"]),
        status=status_table(ev), distillation=distillation_text(cfg, run_dir),
        history=(run_dir / "HISTORY.md").read_text().strip() if (run_dir / "HISTORY.md").exists() else "")
    (REPO / "MODEL_CARD.md").write_text(text)
    print("wrote MODEL_CARD.md")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

"""Training loop: .h5 -> checkpoints, a JSONL log, a curve PNG; model selection on val.

Recipe (edge model): AdamW + OneCycle, bf16 autocast and channels-last on CPU, weight EMA,
gender cross-entropy + age KL divergence to a Gaussian around the true age (or, for group-only
labels such as Adience, the negative log of the probability mass of the labelled group).
Checkpoints hold state dicts only and are loaded with ``weights_only=True``.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .augment import center_crop, degrade, photometric, random_affine_crop, random_crop_flip, to_tensor
from .data.h5pack import FaceArrays, concat_faces, read_h5
from .metrics import EvalReport, Predictions, evaluate_predictions
from .models.registry import create_model, get_arch
from .postprocess import AgeGenderOutputs, Normalize, age_bins_for, bin_to_group_matrix


@dataclass
class TrainConfig:
    model: str = "edge_resnet"
    data: str = ""
    # more packed .h5 files whose train / val splits join ``data``'s (e.g. UTKFace + All-Age-Faces,
    # cut with the same alignment; file names must be unique across them)
    more_data: list[str] = dataclasses.field(default_factory=list)
    out_dir: str = "runs/edge_resnet"
    train_split: str = "train"
    val_split: str = "val"
    val_fold: Optional[int] = None        # Adience: train on the other folds, validate on this one
    age_bins: int = 101                   # 101 one-year bins, or 8 (group-only data)
    epochs: int = 40
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_pct: float = 0.15
    ema_decay: float = 0.999
    age_sigma: float = 2.0                # Gaussian label std at age 0; grows with age
    age_sigma_slope: float = 0.04
    age_l1_weight: float = 0.05           # L1 on the expected age, in years
    augment: str = "crop_flip"            # "crop_flip" (random crop + mirror) or "affine" (+ scale, rotation)
    aug_scale: tuple[float, float] = (0.85, 1.15)
    aug_rotate: float = 8.0
    aug_shift: float = 0.06
    dropout: Optional[float] = None       # None: the architecture's default (LH 0.5, edge 0.2)
    gender_label_smoothing: float = 0.0
    # Knowledge distillation ("born-again"): soft targets from a trained checkpoint of any
    # architecture, computed once on flip-averaged centre crops of the training faces, mixed
    # into the hard targets with this weight. Selection stays on val.
    teacher: Optional[str] = None
    # ... or precomputed teacher probabilities (.npz with ``files``, ``gender`` [N, 2], ``age``
    # [N, bins]; training/make_teacher_targets.py), matched to the training rows by file name,
    # e.g. an exported ONNX model (flip averaging in its graph) run on the aligned training faces.
    teacher_targets: Optional[str] = None
    distill_weight: float = 0.5
    # probability per image of a real-photo degradation (downscale + upscale, JPEG re-encoding):
    # news and phone photos are softer and more compressed than UTKFace chips
    aug_degrade: float = 0.0
    # probability per image of greyscale (luma copied to the 3 channels, as a grey JPEG decodes)
    aug_grey: float = 0.1
    # fine-tuning: start from the (EMA) weights of a best.pt of the same architecture, with a
    # fresh optimiser and schedule (e.g. a shorter run against a new teacher); resume() of this
    # run's own last.pt still takes precedence
    init_from: Optional[str] = None
    # feature distillation: an .npz (``files``, ``embedding`` [N, D]) of a stronger network's face
    # embeddings for the training faces (training/dlib_teacher/embed.py: dlib's CC0 face-recognition
    # ResNet, trained on millions of in-the-wild faces). A training-only linear projection of the
    # features the heads read is pulled to each embedding (cosine distance, this weight), so the
    # student learns the teacher's representation, not only its gender decision. Not exported.
    feature_targets: Optional[str] = None
    feature_weight: float = 1.0
    seed: int = 0
    threads: int = 2
    bf16: bool = True
    flip_tta_eval: bool = True
    max_train: Optional[int] = None       # subset for smoke runs and tests
    max_val: Optional[int] = None

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2))


def _model_kwargs(cfg: TrainConfig) -> dict:
    return {} if cfg.dropout is None else {"dropout": cfg.dropout}


class EMA:
    """Exponential moving average of weights and buffers, with a warm-up on the decay."""

    def __init__(self, model: nn.Module, decay: float):
        self.model = copy.deepcopy(model).eval()
        self.decay = decay
        self.steps = 0
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for e, m in zip(self.model.state_dict().values(), model.state_dict().values()):
            if e.dtype.is_floating_point:
                e.mul_(d).add_(m.detach(), alpha=1 - d)
            else:
                e.copy_(m)


def age_targets(age: torch.Tensor, bins: torch.Tensor, sigma0: float, slope: float) -> torch.Tensor:
    sigma = (sigma0 + slope * age).unsqueeze(1)
    logits = -0.5 * ((bins.unsqueeze(0) - age.unsqueeze(1)) / sigma) ** 2
    return torch.softmax(logits, dim=1)


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return -(target * F.log_softmax(logits, dim=1)).sum(1).mean()


def loss_fn(gender_logits, age_logits, gender, age, age_group, bins, groups, cfg: TrainConfig,
            teacher_gender: Optional[torch.Tensor] = None, teacher_age: Optional[torch.Tensor] = None):
    """Gender CE + age label-distribution KL (+ L1 on the expected age); with teacher probabilities,
    each hard target is mixed with the teacher's distribution (weight cfg.distill_weight)."""
    gender_logits = gender_logits.float()
    age_logits = age_logits.float()
    w = cfg.distill_weight if teacher_gender is not None else 0.0
    has_gender = gender >= 0
    lg = gender_logits.sum() * 0
    if has_gender.any():
        lg = lg + (1 - w) * F.cross_entropy(gender_logits[has_gender], gender[has_gender],
                                            label_smoothing=cfg.gender_label_smoothing)
    if w > 0:
        lg = lg + w * soft_cross_entropy(gender_logits, teacher_gender.float())
    logp = F.log_softmax(age_logits, dim=1)
    exact = torch.isfinite(age)
    la = age_logits.sum() * 0
    if exact.any() and len(bins) > len(groups.T):  # exact ages and 1-year bins: label distribution
        a = age[exact].clamp(0, float(bins[-1]))
        target = age_targets(a, bins, cfg.age_sigma, cfg.age_sigma_slope)
        if w > 0 and teacher_age is not None and teacher_age.shape[1] == len(bins):
            target = (1 - w) * target + w * teacher_age[exact].float()
        la = la + F.kl_div(logp[exact], target, reduction="batchmean")
        expected = logp[exact].exp() @ bins
        la = la + cfg.age_l1_weight * (expected - a).abs().mean()
    grouped = (~exact | (len(bins) == len(groups.T))) & (age_group >= 0)
    if grouped.any():  # group-only labels: maximise the probability mass of the labelled group
        group_logp = torch.logsumexp(logp[grouped].unsqueeze(2) + torch.log(groups + 1e-30).unsqueeze(0), dim=1)
        la = la + F.nll_loss(group_logp, age_group[grouped])
    return lg + la, lg.detach(), la.detach()


def feature_loss(projected: torch.Tensor, target_unit: torch.Tensor) -> torch.Tensor:
    """Mean cosine distance between projected student features and unit teacher embeddings."""
    return (1 - F.cosine_similarity(projected, target_unit, dim=1)).mean()


class Trainer:
    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.out = Path(cfg.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.arch = get_arch(cfg.model)
        self.net = create_model(cfg.model, cfg.age_bins, **_model_kwargs(cfg)).to(memory_format=torch.channels_last)
        self.norm = Normalize(self.arch.input.mean, self.arch.input.std)
        self.decode = AgeGenderOutputs(cfg.age_bins)
        self.bins = torch.from_numpy(age_bins_for(cfg.age_bins))
        self.groups = torch.from_numpy(bin_to_group_matrix(age_bins_for(cfg.age_bins)))
        if cfg.init_from:
            self._init_weights(Path(cfg.init_from))
        self.ema = EMA(self.net, cfg.ema_decay)
        self.train_data, self.val_data = self._load_data()
        self.teacher_gender, self.teacher_age = self._teacher_targets()
        self.feature_target, self.feature_head, self._features = self._feature_distillation()
        self.steps_per_epoch = math.ceil(len(self.train_data) / cfg.batch_size)
        decay, no_decay = [], []
        params = list(self.net.parameters()) + ([] if self.feature_head is None else list(self.feature_head.parameters()))
        for p in params:
            (no_decay if p.ndim <= 1 else decay).append(p)
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                      {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
        self.sched = torch.optim.lr_scheduler.OneCycleLR(
            self.opt, max_lr=cfg.lr, total_steps=cfg.epochs * self.steps_per_epoch,
            pct_start=cfg.warmup_pct, div_factor=20, final_div_factor=200)
        self.epoch = 0
        self.best_score = -math.inf
        self.history: list[dict] = []

    def _init_weights(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        src = TrainConfig(**json.loads(state["config"]))
        if (src.model, src.age_bins) != (self.cfg.model, self.cfg.age_bins):
            raise ValueError(f"init_from {path}: a {src.model} with {src.age_bins} age bins, "
                             f"this run trains a {self.cfg.model} with {self.cfg.age_bins}")
        self.net.load_state_dict(state["ema"])

    # -- data -----------------------------------------------------------------------------
    def _resize(self, arr: FaceArrays) -> FaceArrays:
        import cv2
        # aligned crops are stored at the architecture's training size; chips follow the crop rule
        size = self.arch.train_size if self.align_json else self.arch.crop.resize_to
        if arr.images.shape[1] == size:
            return arr
        interp = cv2.INTER_AREA if arr.images.shape[1] > size else cv2.INTER_LINEAR
        arr.images = np.stack([cv2.resize(im, (size, size), interpolation=interp) for im in arr.images])
        return arr

    def _load_data(self) -> tuple[FaceArrays, FaceArrays]:
        cfg = self.cfg
        if cfg.val_fold is not None:
            train = read_h5(Path(cfg.data), folds={f for f in range(5) if f != cfg.val_fold}, limit=cfg.max_train)
            val = read_h5(Path(cfg.data), folds={cfg.val_fold}, limit=cfg.max_val)
        else:
            paths = [Path(cfg.data)] + [Path(p) for p in cfg.more_data]
            train = concat_faces([read_h5(p, split=cfg.train_split) for p in paths], cfg.max_train)
            val = concat_faces([read_h5(p, split=cfg.val_split) for p in paths], cfg.max_val)
        if len(train) == 0 or len(val) == 0:
            raise ValueError(f"{cfg.data}: empty train ({len(train)}) or val ({len(val)}) selection")
        self.align_json = self._align_spec()     # read once (the data files are checked to agree)
        return self._resize(train), self._resize(val)

    def _teacher_targets(self) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
        """Teacher probabilities on the training faces (gender (N, 2), age bins (N, B)), once."""
        if self.cfg.teacher and self.cfg.teacher_targets:
            raise ValueError("give either teacher (a checkpoint) or teacher_targets (an .npz), not both")
        if self.cfg.teacher_targets:
            return self._load_teacher_targets(Path(self.cfg.teacher_targets))
        if not self.cfg.teacher:
            return None, None
        net, tcfg = load_best(Path(self.cfg.teacher))
        if tcfg.age_bins != self.cfg.age_bins:
            raise ValueError(f"teacher {self.cfg.teacher} has {tcfg.age_bins} age bins, student {self.cfg.age_bins}")
        t_arch = get_arch(tcfg.model)
        if t_arch.crop.resize_to != self.arch.crop.resize_to:
            raise ValueError(f"teacher input {t_arch.crop.resize_to} px != student {self.arch.crop.resize_to} px")
        net = net.to(memory_format=torch.channels_last)
        norm = Normalize(t_arch.input.mean, t_arch.input.std)
        pg, pa = self._probs(net, self.train_data.images, t_arch.input.size, norm, flip=True)
        return pg.numpy(), pa.numpy()

    def _training_rows(self, path: Path, files: np.ndarray, what: str) -> np.ndarray:
        """Row of ``files`` (a per-face .npz's file names) for each training face, in training order."""
        row = {str(f): i for i, f in enumerate(files)}
        missing = [f for f in self.train_data.files if f not in row]
        if missing:
            raise ValueError(f"{path}: no {what} for {len(missing)} training faces (e.g. {missing[0]})")
        return np.array([row[f] for f in self.train_data.files])

    def _load_teacher_targets(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        z = np.load(path, allow_pickle=False)
        idx = self._training_rows(path, z["files"], "teacher targets")
        gender, age = z["gender"][idx].astype(np.float32), z["age"][idx].astype(np.float32)
        if age.shape[1] != self.cfg.age_bins:
            raise ValueError(f"{path}: teacher has {age.shape[1]} age bins, student {self.cfg.age_bins}")
        return gender, age

    def _feature_distillation(self) -> tuple[Optional[np.ndarray], Optional[nn.Linear], dict]:
        """Unit-norm teacher embeddings per training row, the projection head, and the slot a
        pre-hook on ``net.heads`` fills with the features (every architecture ends in heads)."""
        captured: dict = {}
        if not self.cfg.feature_targets:
            return None, None, captured
        path = Path(self.cfg.feature_targets)
        z = np.load(path, allow_pickle=False)
        emb = z["embedding"][self._training_rows(path, z["files"], "embedding")].astype(np.float32)
        norm = np.linalg.norm(emb, axis=1, keepdims=True)
        if (norm <= 0).any():
            raise ValueError(f"{path}: {int((norm <= 0).sum())} zero embeddings")
        emb = emb / norm
        head = nn.Linear(self.net.heads.gender.in_features, emb.shape[1])
        self.net.heads.register_forward_pre_hook(lambda _m, args: captured.__setitem__("x", args[0]))
        if self.cfg.init_from:
            self._fit_feature_head(head, emb, captured)
        return emb, head, captured

    @torch.no_grad()
    def _fit_feature_head(self, head: nn.Linear, emb: np.ndarray, captured: dict, n: int = 4096) -> None:
        """Start the projection as the least-squares map from the fine-tuned network's features to
        the embeddings (centre crops of up to n training faces): a random projection would first
        push large gradients into a trained backbone."""
        rows = np.linspace(0, len(emb) - 1, min(n, len(emb))).astype(int)
        self.net.eval()
        feats = []
        for s in range(0, len(rows), 256):
            x = self.norm(to_tensor(center_crop(self.train_data.images[rows[s:s + 256]], self.arch.input.size)))
            self.net(x)
            feats.append(captured["x"].float())
        f = torch.cat(feats)
        a = torch.cat([f, torch.ones(len(f), 1)], 1)
        ridge = 1e-3 * torch.eye(a.shape[1]) * (a * a).mean()
        w = torch.linalg.solve(a.T @ a + ridge * len(a), a.T @ torch.from_numpy(emb[rows]))
        head.weight.copy_(w[:-1].T)
        head.bias.copy_(w[-1])

    def _align_spec(self) -> Optional[str]:
        """The .h5's alignment spec (JSON), carried into checkpoints and the exported metadata;
        every data file must have been cut the same way."""
        import h5py
        specs = []
        for path in [self.cfg.data] + list(self.cfg.more_data):
            with h5py.File(path, "r") as f:
                value = f.attrs.get("align")
            specs.append(None if value is None else (value.decode() if isinstance(value, bytes) else str(value)))
        if any(json.loads(s or "null") != json.loads(specs[0] or "null") for s in specs[1:]):
            raise ValueError(f"data files {[self.cfg.data] + list(self.cfg.more_data)} were cut with different alignments")
        return specs[0]

    # -- checkpoints ----------------------------------------------------------------------
    def _state(self) -> dict:
        return {"net": self.net.state_dict(), "ema": self.ema.model.state_dict(), "ema_steps": self.ema.steps,
                **({} if self.feature_head is None else {"feature_head": self.feature_head.state_dict()}),
                "opt": self.opt.state_dict(), "sched": self.sched.state_dict(), "epoch": self.epoch,
                "best_score": self.best_score, "history": json.dumps(self.history),
                "config": json.dumps(dataclasses.asdict(self.cfg))}

    def save(self, name: str) -> None:
        tmp = self.out / (name + ".tmp")
        torch.save(self._state(), tmp)
        tmp.replace(self.out / name)

    def resume(self) -> bool:
        path = self.out / "last.pt"
        if not path.is_file():
            return False
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.net.load_state_dict(state["net"])
        if self.feature_head is not None:
            self.feature_head.load_state_dict(state["feature_head"])
        self.ema.model.load_state_dict(state["ema"])
        self.ema.steps = int(state["ema_steps"])
        self.opt.load_state_dict(state["opt"])
        self.sched.load_state_dict(state["sched"])
        self.epoch = int(state["epoch"])
        self.best_score = float(state["best_score"])
        self.history = json.loads(state["history"])
        return True

    # -- loops ----------------------------------------------------------------------------
    def _autocast(self):
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cfg.bf16)

    @torch.no_grad()
    def _probs(self, net: nn.Module, images: np.ndarray, size: tuple[int, int], norm: nn.Module, flip: bool,
               batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """Gender and age-bin probabilities (float32) on centre crops of uint8 chips, averaged with
        the mirror image when ``flip``; shared by validation and the distillation teacher."""
        net.eval()
        out_g, out_a = [], []
        for s in range(0, len(images), batch):
            x = norm(to_tensor(center_crop(images[s:s + batch], size)))
            xs = [x, torch.flip(x, dims=[3])] if flip else [x]
            pg = pa = 0
            for xi in xs:
                with self._autocast():
                    g, a = net(xi)
                pg = pg + torch.softmax(g.float(), 1) / len(xs)
                pa = pa + torch.softmax(a.float(), 1) / len(xs)
            out_g.append(pg); out_a.append(pa)
        return torch.cat(out_g), torch.cat(out_a)

    def predict(self, net: nn.Module, images: np.ndarray, batch: int = 256) -> Predictions:
        """Centre-crop prediction (optionally flip-averaged) on uint8 chips at resize_to size."""
        pg, pa = self._probs(net, images, self.arch.input.size, self.norm, self.cfg.flip_tta_eval, batch)
        gender, group, mean, _std, _p = self.decode(torch.log(pg + 1e-12), torch.log(pa + 1e-12))
        rule = "expected_age" if self.cfg.age_bins > self.groups.shape[1] else "argmax"  # as build_metadata
        return Predictions(gender.numpy(), group.numpy(), mean.numpy(), rule)

    def validate(self, net: nn.Module) -> EvalReport:
        v = self.val_data
        return evaluate_predictions(self.predict(net, v.images), v.gender, v.age_group, v.age, v.race)

    @staticmethod
    def selection_score(r: EvalReport) -> float:
        mae = r.age_mae if r.age_mae is not None else 0.0
        return r.gender_accuracy + r.age_group_accuracy + r.one_off_accuracy - 0.02 * mae

    def train_epoch(self, progress: bool = True) -> dict:
        from tqdm import tqdm
        cfg, d = self.cfg, self.train_data
        rng = np.random.default_rng(cfg.seed * 1000 + self.epoch)   # resumable: seeded per epoch
        torch.manual_seed(cfg.seed * 1000 + self.epoch)
        order = rng.permutation(len(d))
        self.net.train()
        totals = np.zeros(4)
        t0 = time.time()
        bar = tqdm(range(self.steps_per_epoch), desc=f"epoch {self.epoch + 1}/{cfg.epochs}", disable=not progress)
        for step in bar:
            idx = np.sort(order[step * cfg.batch_size:(step + 1) * cfg.batch_size])
            if cfg.augment == "affine":
                crops = random_affine_crop(d.images[idx], self.arch.input.size, rng, tuple(cfg.aug_scale),
                                           cfg.aug_rotate, cfg.aug_shift)
            else:
                crops = random_crop_flip(d.images[idx], self.arch.input.size, rng)
            if cfg.aug_degrade > 0:
                crops = degrade(crops, rng, cfg.aug_degrade)
            x = to_tensor(crops)
            x = self.norm(photometric(x, rng, grey=cfg.aug_grey))
            with self._autocast():
                g, a = self.net(x)
            tg = ta = None
            if self.teacher_gender is not None:
                tg, ta = torch.from_numpy(self.teacher_gender[idx]), torch.from_numpy(self.teacher_age[idx])
            loss, lg, la = loss_fn(g, a, torch.from_numpy(d.gender[idx]), torch.from_numpy(d.age[idx]),
                                   torch.from_numpy(d.age_group[idx]), self.bins, self.groups, cfg, tg, ta)
            if self.feature_head is not None:
                lf = feature_loss(self.feature_head(self._features["x"].float()), torch.from_numpy(self.feature_target[idx]))
                loss = loss + cfg.feature_weight * lf
                totals[3] += lf.item()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.sched.step()
            self.ema.update(self.net)
            totals[:3] += [loss.item(), lg.item(), la.item()]
            bar.set_postfix(loss=f"{totals[0] / (step + 1):.3f}")
        n = self.steps_per_epoch
        return {"loss": totals[0] / n, "gender_loss": totals[1] / n, "age_loss": totals[2] / n,
                **({} if self.feature_head is None else {"feature_loss": totals[3] / n}),
                "epoch_seconds": time.time() - t0, "lr": self.sched.get_last_lr()[0]}

    def fit(self, progress: bool = True, log=print, stop_after: Optional[int] = None) -> dict:
        """Train up to cfg.epochs; ``stop_after`` ends this call after that many epochs (the run
        continues later with resume(), e.g. in time-boxed sessions)."""
        self.cfg.save(self.out / "config.json")
        target = self.cfg.epochs if stop_after is None else min(self.cfg.epochs, self.epoch + stop_after)
        while self.epoch < target:
            stats = self.train_epoch(progress)
            self.epoch += 1
            report = self.validate(self.ema.model)
            score = self.selection_score(report)
            row = {"epoch": self.epoch, **stats, "val": {k: getattr(report, k) for k in
                   ("gender_accuracy", "age_group_accuracy", "one_off_accuracy", "age_mae")},
                   "val_score": score}
            self.history.append(row)
            with open(self.out / "log.jsonl", "a") as fh:
                fh.write(json.dumps(row) + "\n")
            log(f"epoch {self.epoch}: loss {stats['loss']:.4f}  val {report.summary()}  "
                f"({stats['epoch_seconds']:.0f}s)")
            if score > self.best_score:
                self.best_score = score
                best = {"ema": self.ema.model.state_dict(), "epoch": self.epoch,
                        "config": json.dumps(dataclasses.asdict(self.cfg)), "val": json.dumps(row["val"])}
                if self.align_json is not None:
                    best["align"] = self.align_json
                torch.save(best, self.out / "best.pt")
            self.save("last.pt")
            plot_curves(self.history, self.out / "curve.png")
        return self.history[-1] if self.history else {}


def plot_curves(history: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(ep, [h["loss"] for h in history], label="train loss")
    axes[0].set_xlabel("epoch"); axes[0].legend()
    for key in ("gender_accuracy", "age_group_accuracy", "one_off_accuracy"):
        axes[1].plot(ep, [h["val"][key] for h in history], label=f"val {key}")
    axes[1].set_xlabel("epoch"); axes[1].legend(fontsize=8)
    axes[2].plot(ep, [h["val"]["age_mae"] for h in history], label="val age MAE")
    axes[2].set_xlabel("epoch"); axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def load_best(path: Path) -> tuple[nn.Module, TrainConfig]:
    """Load a best.pt/last.pt checkpoint (state dict only, no pickle) into its architecture."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    cfg = TrainConfig(**json.loads(state["config"]))
    net = create_model(cfg.model, cfg.age_bins, **_model_kwargs(cfg))
    net.load_state_dict(state["ema"])
    return net.eval(), cfg

"""Rebuild a fine-tunable EdgeResNet checkpoint (a best.pt for ``TrainConfig.init_from``) from an
exported FP32 ONNX file whose PyTorch checkpoint is gone.

The exporter (train/export_onnx.py, constant folding) folded every BatchNorm into the weight and
bias of the Conv before it. This script walks the ONNX graph structurally (normalisation -> stem
Conv/Relu pairs -> per block: the body Conv -> Relu -> Conv path and the skip path, AveragePool ->
1x1 Conv or identity, meeting at the block's Add -> Relu -> global pool -> the two Gemm heads,
told apart by the output each one's Softmax produces) and checks every Conv's shape, kernel,
stride, padding against the matching ``nn.Conv2d``. Each Conv weight goes into the Conv2d, and
its folded bias ``c`` into the BatchNorm2d after it, so that in eval mode BN(z) = z + c exactly:

* ``--bn stats`` (default): running_mean m and running_var v are the per-channel statistics of the
  Conv output z (without bias) on ~2,000 real aligned training faces (centre crops of the .h5's
  train split), and weight = sqrt(v + eps), bias = c + m. Eval mode: (z - m) / sqrt(v + eps) *
  sqrt(v + eps) + c + m = z + c. Train mode normalises with batch statistics, which are close to
  m, v on real faces, so a fine-tuning run starts near the ONNX model's function.
* ``--bn identity``: m = 0, v = 1 - eps, weight = 1, bias = c. Exact in eval mode, but train-mode
  BN then normalises every channel to unit variance: fine-tune with BN layers kept in eval mode.

Verified before writing: PyTorch (postprocess.DeployModel around the rebuilt net, eval mode) and
ONNX Runtime on real aligned faces (the .h5's val split, centre-cropped, plus the 48 UTKFace
fixtures cut by the box rule) agree within --tolerance on every output both have; the train-mode
difference (batch statistics of a held-out batch) is reported too.

    python training/onnx_to_checkpoint.py --onnx agegender_edge/weights/edge_resnet_aligned.onnx \\
        --out data/edge_resnet_aligned_init.pt
    agegender-edge train ... with TrainConfig.init_from = data/edge_resnet_aligned_init.pt

Without a complete --data .h5 (e.g. still being prepared) the statistics come from the UTKFace
chips (--chips, train split of labels.csv) cut by the box rule, which is not the aligned framing.
"""
from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Optional

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHARED = REPO.parent / "shared" / "data"
FIXTURES = SHARED / "fixtures" / "utkface_48"
CHIPS = SHARED / "utkface"


class GraphError(ValueError):
    """The ONNX graph is not the structure this script understands."""


# -- the ONNX side ------------------------------------------------------------------------------
class Graph:
    def __init__(self, model):
        from onnx import numpy_helper
        g = model.graph
        self.init = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        for n in g.node:  # Constant nodes count as initializers
            if n.op_type == "Constant":
                for a in n.attribute:
                    if a.name == "value":
                        self.init[n.output[0]] = numpy_helper.to_array(a.t)
        self.nodes = [n for n in g.node if n.op_type != "Constant"]
        self.consumers: dict[str, list] = {}
        for n in self.nodes:
            for t in n.input:
                if t:
                    self.consumers.setdefault(t, []).append(n)
        self.outputs = [o.name for o in g.output]
        self.inputs = [i.name for i in g.input if i.name not in self.init]

    def users(self, tensor: str, op: Optional[str] = None) -> list:
        return [n for n in self.consumers.get(tensor, []) if op is None or n.op_type == op]

    def only(self, tensor: str, op: str):
        got = self.users(tensor, op)
        if len(got) != 1:
            raise GraphError(f"expected one {op} reading {tensor!r}, found {len(got)}")
        return got[0]

    def const(self, node, i: int) -> np.ndarray:
        name = node.input[i] if len(node.input) > i else ""
        if name not in self.init:
            raise GraphError(f"{node.name}: input {i} is not a constant")
        return self.init[name]

    def data_input(self, node) -> str:
        dyn = [t for t in node.input if t and t not in self.init]
        if len(dyn) != 1:
            raise GraphError(f"{node.name}: expected one non-constant input, found {len(dyn)}")
        return dyn[0]


def attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def check_conv(node, conv) -> None:
    """The ONNX Conv's hyper-parameters equal the nn.Conv2d's."""
    a = attrs(node)
    kh, kw = conv.kernel_size
    want = {"kernel_shape": [kh, kw], "strides": list(conv.stride), "group": conv.groups,
            "dilations": list(conv.dilation), "pads": [conv.padding[0], conv.padding[1]] * 2}
    have = {"kernel_shape": list(a.get("kernel_shape", [kh, kw])), "strides": list(a.get("strides", [1, 1])),
            "group": int(a.get("group", 1)), "dilations": list(a.get("dilations", [1, 1])),
            "pads": list(a.get("pads", [0, 0, 0, 0]))}
    if want != have:
        raise GraphError(f"{node.name}: {have} but the PyTorch layer has {want}")


def conv_params(g: Graph, node, conv) -> tuple[np.ndarray, np.ndarray]:
    check_conv(node, conv)
    w = g.const(node, 1)
    b = g.const(node, 2) if len(node.input) > 2 and node.input[2] else np.zeros(w.shape[0], np.float32)
    if tuple(w.shape) != tuple(conv.weight.shape):
        raise GraphError(f"{node.name}: weight {tuple(w.shape)}, the PyTorch conv has {tuple(conv.weight.shape)}")
    return w, b


def follow_relu(g: Graph, tensor: str) -> str:
    return g.only(tensor, "Relu").output[0]


def map_graph(g: Graph, net, mean, std) -> tuple[list[tuple], dict]:
    """Walk the graph; returns [(conv module, bn module, weight, folded bias, onnx node name)] and
    {"gender": (W [out,in], b, logits tensor), "age": (...)}."""
    import torch.nn as nn

    from agegender_edge.train.models.edge_resnet import BasicBlock

    if len(g.inputs) != 1:
        raise GraphError(f"expected one graph input, found {g.inputs}")
    # normalisation: (x - mean) * inv_std, then the stem
    sub = g.only(g.inputs[0], "Sub")
    mul = g.only(sub.output[0], "Mul")
    if not (np.allclose(g.const(sub, 1).ravel(), mean) and np.allclose(g.const(mul, 1).ravel(), 1.0 / np.asarray(std))):
        raise GraphError("the in-graph normalisation differs from the architecture's mean / std")
    cur = mul.output[0]
    convs: list[tuple] = []

    def take(node, seq) -> None:  # seq: Sequential(Conv2d, BatchNorm2d[, ReLU])
        w, b = conv_params(g, node, seq[0])
        convs.append((seq[0], seq[1], w, b, node.name))

    for layer in net.stem:
        node = g.only(cur, "Conv")
        take(node, layer)
        cur = follow_relu(g, node.output[0])

    for i, block in enumerate(net.blocks):
        assert isinstance(block, BasicBlock)
        x = cur
        # body: the 3x3 Conv reading x whose output goes through Relu into a second Conv
        body = [n for n in g.users(x, "Conv") if g.users(n.output[0], "Relu")]
        if len(body) != 1:
            raise GraphError(f"block {i}: expected one body Conv -> Relu reading {x!r}, found {len(body)}")
        c1 = body[0]
        c2 = g.only(follow_relu(g, c1.output[0]), "Conv")
        add = g.only(c2.output[0], "Add")
        other = [t for t in add.input if t != c2.output[0]]
        if len(other) != 1:
            raise GraphError(f"block {i}: the Add should join the body and the skip path")
        take(c1, block.body[0])
        take(c2, block.body[1])
        skip = other[0]
        if isinstance(block.skip, nn.Identity):
            if skip != x:
                raise GraphError(f"block {i}: identity skip expected, the Add reads {skip!r}")
        else:
            sc = [n for n in g.nodes if n.op_type == "Conv" and n.output[0] == skip]
            if len(sc) != 1:
                raise GraphError(f"block {i}: the skip path should end in a Conv")
            sc = sc[0]
            src = g.data_input(sc)
            pool = block.skip[0]
            if isinstance(pool, nn.AvgPool2d):
                pn = [n for n in g.users(x, "AveragePool") if n.output[0] == src]
                if len(pn) != 1:
                    raise GraphError(f"block {i}: the skip Conv should read an AveragePool of the block input")
                a = attrs(pn[0])
                k = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
                if list(a.get("kernel_shape", [])) != [k, k] or list(a.get("strides", [])) != [k, k]:
                    raise GraphError(f"block {i}: skip AveragePool {a} differs from AvgPool2d({k})")
            elif src != x:
                raise GraphError(f"block {i}: the skip Conv should read the block input")
            w, b = conv_params(g, sc, block.skip[1])
            convs.append((block.skip[1], block.skip[2], w, b, sc.name))
        cur = follow_relu(g, add.output[0])

    gap = g.only(cur, "GlobalAveragePool")
    feat = g.only(gap.output[0], "Flatten").output[0]
    heads = {}
    for n in g.users(feat):
        if n.op_type == "Gemm":
            a = attrs(n)
            if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0):
                raise GraphError(f"{n.name}: unsupported Gemm attributes {a}")
            w = g.const(n, 1)
            w = w if a.get("transB", 0) else w.T
            b = g.const(n, 2) if len(n.input) > 2 and n.input[2] else np.zeros(w.shape[0], np.float32)
            logits = n.output[0]
        elif n.op_type == "MatMul":
            w = g.const(n, 1).T
            add = g.only(n.output[0], "Add")
            b, logits = g.const(add, 1 if add.input[0] == n.output[0] else 0), add.output[0]
        else:
            continue  # the descriptor path (ReduceL2 / Div) also reads the features
        # which head: the Softmax (after an optional Cast) that this head's logits reach
        t = logits
        while True:
            nxt = g.users(t)
            if len(nxt) == 1 and nxt[0].op_type == "Cast":
                t = nxt[0].output[0]
                continue
            break
        sm = g.only(t, "Softmax").output[0]
        name = {"gender_probs": "gender", "age_bin_probs": "age"}.get(sm)
        if name is None:
            raise GraphError(f"{n.name}: its Softmax output {sm!r} is neither gender_probs nor age_bin_probs")
        heads[name] = (np.ascontiguousarray(w), np.asarray(b).reshape(-1), logits)
    for name, lin in (("gender", net.heads.gender), ("age", net.heads.age)):
        if name not in heads or heads[name][0].shape != tuple(lin.weight.shape):
            raise GraphError(f"head {name}: not found or wrong shape")
    n_onnx = sum(n.op_type == "Conv" for n in g.nodes)
    n_torch = sum(isinstance(m, nn.Conv2d) for m in net.modules())
    if not (len(convs) == n_onnx == n_torch):
        raise GraphError(f"matched {len(convs)} convs; the ONNX graph has {n_onnx}, the net {n_torch}")
    return convs, heads


# -- the PyTorch side ---------------------------------------------------------------------------
def load_into(net, convs, heads, stats: Optional[dict] = None) -> None:
    """Write the ONNX weights into ``net``; ``stats``: {bn module: (mean, var)} of each conv output."""
    import torch
    with torch.no_grad():
        for conv, bn, w, b, _name in convs:
            conv.weight.copy_(torch.from_numpy(np.array(w, np.float32)))
            bias = torch.from_numpy(np.array(b, np.float32))
            if stats is None:
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
                bn.weight.fill_(1.0)
                bn.bias.copy_(bias)
            else:
                m, v = (torch.from_numpy(s.astype(np.float32)) for s in stats[bn])
                bn.running_mean.copy_(m)
                bn.running_var.copy_(v)
                bn.weight.copy_(torch.sqrt(v + bn.eps))
                bn.bias.copy_(bias + m)
            bn.num_batches_tracked.zero_()
        for name, (w, b, _logits) in heads.items():
            lin = getattr(net.heads, name)
            lin.weight.copy_(torch.from_numpy(np.array(w, np.float32)))
            lin.bias.copy_(torch.from_numpy(np.array(b, np.float32)))


def conv_output_stats(net, convs, norm, faces: np.ndarray, batch: int = 128) -> dict:
    """Per-channel mean and (biased) variance of each BN's input (= conv output without bias) on
    ``faces`` (uint8 NHWC RGB at the input size), float64 accumulation, net in eval mode."""
    import torch
    acc = {bn: [0.0, 0.0, 0] for _c, bn, *_ in convs}

    def hook(mod, args):
        z = args[0].detach().double()
        s = acc[mod]
        s[0] = s[0] + z.sum(dim=(0, 2, 3))
        s[1] = s[1] + (z * z).sum(dim=(0, 2, 3))
        s[2] += z.shape[0] * z.shape[2] * z.shape[3]

    handles = [bn.register_forward_pre_hook(hook) for bn in acc]
    net.eval()
    try:
        with torch.no_grad():
            for s in range(0, len(faces), batch):
                net(norm(to_nchw(faces[s:s + batch])))
    finally:
        for h in handles:
            h.remove()
    out = {}
    for bn, (s1, s2, n) in acc.items():
        m = (s1 / n).numpy()
        out[bn] = (m, np.maximum((s2 / n).numpy() - m * m, 0.0))
    return out


def to_nchw(faces: np.ndarray):
    import torch
    return torch.from_numpy(np.ascontiguousarray(faces.transpose(0, 3, 1, 2)).astype(np.float32))


# -- faces ----------------------------------------------------------------------------------
def h5_complete(path: Path) -> bool:
    """The packed .h5 exists, opens, and has all its datasets with one row per label."""
    import h5py
    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as f:
            n = f["gender"].shape[0]
            return all(f[k].shape[0] == n for k in ("images", "age", "split", "file")) and n > 0
    except (OSError, KeyError):
        return False


def h5_faces(path: Path, split: str, n: int, size: tuple[int, int]) -> tuple[np.ndarray, Optional[str]]:
    """Up to n faces spread evenly over ``split``, centre-cropped to ``size``; and the .h5's align JSON."""
    import h5py

    from agegender_edge.train.augment import center_crop
    with h5py.File(path, "r") as f:
        splits = np.array([s.decode() if isinstance(s, bytes) else s for s in f["split"][:]])
        rows = np.flatnonzero(splits == split)
        rows = rows[np.linspace(0, len(rows) - 1, min(n, len(rows))).astype(int)]
        images = np.stack([f["images"][r] for r in rows])
        align = f.attrs.get("align")
        colour = f.attrs.get("colour_order", "RGB")
    if isinstance(colour, bytes):
        colour = colour.decode()
    if colour != "RGB":
        images = images[..., ::-1]
    return np.ascontiguousarray(center_crop(images, size)), (align.decode() if isinstance(align, bytes) else align)


def chip_faces(files: list[Path], meta) -> np.ndarray:
    """Whole UTKFace chips -> network input (box rule, RGB), as the runtime cuts a chip."""
    from agegender_edge.imageio import DEFAULT_MAX_PIXELS, load_image
    from agegender_edge.preprocess import chip_to_input
    return np.stack([chip_to_input(load_image(str(f), None, DEFAULT_MAX_PIXELS).bgr, meta) for f in files])


def chip_files(split: str, n: int) -> list[Path]:
    with open(CHIPS / "labels.csv", newline="") as fh:
        names = [r["file"] for r in csv.DictReader(fh) if r["split"] == split]
    names = [names[i] for i in np.linspace(0, len(names) - 1, min(n, len(names))).astype(int)]
    return [CHIPS / "images" / f for f in names]


# -- checks ---------------------------------------------------------------------------------
def compare(net, meta, sess, faces: np.ndarray, train_mode: bool = False, reduce=np.max) -> dict[str, float]:
    """Max (``reduce``) |PyTorch - ONNX Runtime| per output both have. ``train_mode``: BN with batch statistics
    (dropout still off), on a copy so the running statistics stay as they are."""
    import torch

    from agegender_edge.metadata import OUTPUT_EMBEDDING, OUTPUT_NAMES
    from agegender_edge.train.postprocess import DeployModel

    have = [o.name for o in sess.get_outputs()]
    names = [n for n in (*OUTPUT_NAMES, OUTPUT_EMBEDDING) if n in have]
    net = copy.deepcopy(net).eval()
    deploy = DeployModel(net, len(meta.age_bins), meta.input.mean, meta.input.std, flip_tta=meta.flip_tta,
                         with_embedding=OUTPUT_EMBEDDING in names).eval()
    if train_mode:
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.train()
    x = to_nchw(faces)
    with torch.no_grad():
        ref = [t.numpy() for t in deploy(x)]
    got = sess.run(names, {meta.input.name: x.numpy()})
    torch_names = list(OUTPUT_NAMES) + ([OUTPUT_EMBEDDING] if deploy.with_embedding else [])
    ref = dict(zip(torch_names, ref))
    return {n: float(reduce(np.abs(ref[n] - g))) for n, g in zip(names, got)}


def with_logits(model, heads_out: dict[str, str]) -> bytes:
    """A copy of ``model`` that also returns the two heads' logits (graph outputs added)."""
    import onnx
    m = copy.deepcopy(model)
    for name, tensor in heads_out.items():
        m.graph.output.append(onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
    return m.SerializeToString()


def logit_diffs(net, meta, sess, heads_out: dict[str, str], faces: np.ndarray) -> dict[str, float]:
    """Max |PyTorch - ONNX Runtime| of the gender and age logits (eval mode)."""
    import torch

    from agegender_edge.train.postprocess import Normalize
    x = to_nchw(faces)
    with torch.no_grad():
        g, a = copy.deepcopy(net).eval()(Normalize(meta.input.mean, meta.input.std)(x))
    got = sess.run([heads_out["gender"], heads_out["age"]], {meta.input.name: x.numpy()})
    return {"gender_logits": float(np.max(np.abs(g.numpy() - got[0]))),
            "age_logits": float(np.max(np.abs(a.numpy() - got[1])))}


def limit(name: str, tolerance: float) -> float:
    """age_std = sqrt(E[age^2] - E[age]^2) loses float32 digits to the cancellation (E[age^2] is in
    the thousands): it gets the exporter's limit for outputs in years (ParityResult, x100);
    everything else, age_years included, the tolerance itself."""
    return tolerance * 100.0 if name == "age_std" else tolerance


def show(label: str, diffs: dict[str, float]) -> None:
    print(f"  {label}: " + "  ".join(f"{k} {v:.2e}" for k, v in diffs.items()))


def train_config_json(meta, num_bins: int) -> str:
    from agegender_edge.train.trainer import TrainConfig
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    t = meta.training or {}
    kw = {k: v for k, v in (t.get("recipe") or {}).items() if k in fields}
    for k in ("train_split", "val_split", "epochs"):
        if t.get(k) is not None:
            kw[k] = t[k]
    if t.get("data"):
        kw["data"] = f"data/{t['data']}"
    cfg = TrainConfig(model=meta.architecture, age_bins=num_bins, out_dir=f"runs/{meta.name}", **kw)
    return json.dumps(dataclasses.asdict(cfg))


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnx", type=Path, required=True, help="FP32 EdgeResNet ONNX exported by this SDK")
    ap.add_argument("--out", type=Path, required=True, help="checkpoint to write (best.pt layout)")
    ap.add_argument("--bn", choices=("stats", "identity"), default="stats",
                    help="stats: BN running statistics of real training faces (default); identity: m=0, v=1-eps")
    ap.add_argument("--data", type=Path, default=REPO / "data" / "utk112a.h5",
                    help="aligned packed .h5 (train split: statistics; val split: checks)")
    ap.add_argument("--n-stats", type=int, default=2000, help="training faces for the BN statistics")
    ap.add_argument("--n-check", type=int, default=128, help="held-out faces for the checks (plus the 48 fixtures)")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="max |torch - onnxruntime| on every output")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import onnx
    import onnxruntime as ort
    import torch

    from agegender_edge.engine.onnx_meta import read_metadata
    from agegender_edge.train.models.registry import create_model, get_arch
    from agegender_edge.train.postprocess import Normalize

    torch.set_num_threads(args.threads)
    if not args.onnx.is_file():
        print(f"error: {args.onnx}: no such file", file=sys.stderr)
        return 2
    model = onnx.load(str(args.onnx))
    meta = read_metadata(model, str(args.onnx))
    if meta.architecture != "edge_resnet" or meta.flip_tta:
        print(f"error: {args.onnx}: a {meta.architecture} (flip_tta={meta.flip_tta}); this script rebuilds an "
              "edge_resnet exported without flip-TTA", file=sys.stderr)
        return 2
    num_bins = len(meta.age_bins)
    arch = get_arch(meta.architecture)
    net = create_model(meta.architecture, num_bins).eval()
    try:
        convs, heads = map_graph(Graph(model), net, arch.input.mean, arch.input.std)
    except GraphError as e:
        print(f"error: {args.onnx}: {e}", file=sys.stderr)
        return 2
    print(f"{args.onnx}: matched {len(convs)} Conv -> Conv2d+BatchNorm2d (incl. "
          f"{sum(c.kernel_size == (1, 1) for c, *_x in convs)} 1x1 skip convs) and the 2 heads")

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(str(args.onnx), so, providers=["CPUExecutionProvider"])
    size = tuple(meta.input.size)
    norm = Normalize(meta.input.mean, meta.input.std)

    # faces: aligned .h5 when complete, else the UTKFace chips (box rule)
    align_json = json.dumps(dataclasses.asdict(meta.align)) if meta.align is not None else None
    fixtures = chip_faces(sorted(FIXTURES.glob("*.jpg")), meta)
    if h5_complete(args.data):
        train_faces, h5_align = h5_faces(args.data, "train", args.n_stats, size)
        check_faces, _ = h5_faces(args.data, "val", args.n_check, size)
        if h5_align and align_json and json.loads(h5_align)["template"] != json.loads(align_json)["template"]:
            print(f"warning: {args.data} was cut with another alignment template than {args.onnx}", file=sys.stderr)
        source = f"{args.data} (aligned; train {len(train_faces)} / val {len(check_faces)}, centre crops)"
    else:
        print(f"note: {args.data} missing or incomplete: statistics from UTKFace chips (box rule)", file=sys.stderr)
        train_faces = chip_faces(chip_files("train", args.n_stats), meta)
        check_faces = chip_faces(chip_files("val", args.n_check), meta)
        source = f"{CHIPS}/images chips (box rule; train {len(train_faces)} / val {len(check_faces)})"
    parity_faces = np.concatenate([check_faces, fixtures])
    print(f"faces: {source}; parity on {len(parity_faces)} = {len(check_faces)} held-out + {len(fixtures)} fixtures")

    heads_out = {k: v[2] for k, v in heads.items()}
    sess_logits = ort.InferenceSession(with_logits(model, heads_out), so, providers=["CPUExecutionProvider"])
    load_into(net, convs, heads)
    show("identity BN, eval mode ", {**logit_diffs(net, meta, sess_logits, heads_out, parity_faces),
                                     **compare(net, meta, sess, parity_faces)})
    for red in (np.max, np.mean):
        show(f"identity BN, train mode, {red.__name__} over a batch of {len(check_faces)} held-out faces",
             compare(net, meta, sess, check_faces, train_mode=True, reduce=red))
    if args.bn == "stats":
        stats = conv_output_stats(net, convs, norm, train_faces)
        load_into(net, convs, heads, stats)
    d_eval = {**logit_diffs(net, meta, sess_logits, heads_out, parity_faces), **compare(net, meta, sess, parity_faces)}
    show(f"{args.bn} BN, eval mode ", d_eval)
    if args.bn == "stats":
        for red in (np.max, np.mean):
            show(f"stats BN, train mode, {red.__name__} over a batch of {len(check_faces)} held-out faces",
                 compare(net, meta, sess, check_faces, train_mode=True, reduce=red))
    bad = {k: v for k, v in d_eval.items() if not v <= limit(k, args.tolerance)}
    if bad:
        print(f"error: parity FAILED (tolerance {args.tolerance}): {bad}; nothing written", file=sys.stderr)
        return 1

    state = {"ema": net.state_dict(), "config": train_config_json(meta, num_bins), "epoch": 0,
             "val": json.dumps((meta.training or {}).get("val_metrics", {})),
             "source_onnx": str(args.onnx), "source_sha256": hashlib.sha256(args.onnx.read_bytes()).hexdigest(),
             "bn_init": args.bn}
    if align_json:
        state["align"] = align_json
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    # what the trainer does with it (weights_only load, strict state dict)
    from agegender_edge.train.trainer import load_best
    back, _cfg = load_best(args.out)
    show("reloaded with load_best, eval mode", compare(back, meta, sess, parity_faces))
    print(f"wrote {args.out} (parity OK within {args.tolerance} on {len(parity_faces)} real faces)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

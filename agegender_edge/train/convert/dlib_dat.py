"""Pure-Python reader of dlib's serialized face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``).

dlib writes a network with ``serialize(net, out)`` (dlib/serialize.h, dlib/dnn/core.h): each
wrapper writes its version and then its sub-network first, so the file opens with one version
number per layer from the output down to the input, then the input layer, then each layer's
details from the input up, each followed by its bookkeeping fields. The encodings:

- integers: a control byte (low nibble = byte count, 0x80 = negative), then that many bytes,
  little-endian magnitude;
- floats (scalars): an int64 mantissa and an int16 exponent (``mantissa * 2**exponent``);
- strings: an unsigned length, then the bytes; bools: the character '0' or '1';
- tensors (version 2): num_samples, k, nr, nc, then raw little-endian float32;
- alias tensors (views into a layer's ``params``): version 1 and their four sizes.

The reader walks the exact layout of dlib's ``dnn_face_recognition_ex.cpp`` network (``anet_type``),
checks every layer name, kernel, stride and padding against it, and returns the parameters as a
state dict of :class:`~agegender_edge.train.models.dlib_resnet.DlibFaceResNet` without its heads.
Each conv's bias is folded into the affine layer after it (``gamma*(conv+b)+beta``), so the
PyTorch convs have no bias. Numpy only; torch is needed by :func:`read_dlib_resnet` alone.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# dlib's float_details special exponents
_IS_INF, _IS_NINF, _IS_NAN = 32000, 32001, 32002


class DlibDatError(ValueError):
    """The file is not a dlib face-recognition ResNet (.dat) this reader understands."""


class _Stream:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def _take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DlibDatError(f"truncated file: {what} at byte {self.pos} needs {n} bytes, "
                               f"{len(self.data) - self.pos} left")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def int(self, what: str, signed: bool = True) -> int:
        ctl = self._take(1, what)[0]
        size = ctl & 0x0F
        if size == 0 or size > 8 or ctl & 0x70 or (ctl & 0x80 and not signed):
            raise DlibDatError(f"corrupt file: bad integer control byte 0x{ctl:02x} for {what} at byte {self.pos - 1}")
        v = int.from_bytes(self._take(size, what), "little")
        return -v if ctl & 0x80 else v

    def float(self, what: str) -> float:
        mantissa = self.int(what)
        exponent = self.int(what)
        if exponent < _IS_INF:
            return float(np.ldexp(float(mantissa), exponent))
        return {_IS_INF: float("inf"), _IS_NINF: float("-inf")}.get(exponent, float("nan"))

    def bool(self, what: str) -> bool:
        ch = self._take(1, what)
        if ch not in (b"0", b"1"):
            raise DlibDatError(f"corrupt file: bad bool {ch!r} for {what} at byte {self.pos - 1}")
        return ch == b"1"

    def string(self, what: str, max_len: int = 256) -> str:
        n = self.int(what, signed=False)
        if n > max_len:
            raise DlibDatError(f"corrupt file: {what} string of length {n} at byte {self.pos}")
        return self._take(n, what).decode("latin-1")

    def tensor(self, what: str) -> np.ndarray:
        version = self.int(what)
        if version != 2:
            raise DlibDatError(f"unsupported file: {what} tensor version {version} (expected 2)")
        shape = tuple(self.int(what) for _ in range(4))
        if min(shape) < 0:
            raise DlibDatError(f"corrupt file: {what} tensor shape {shape}")
        n = int(np.prod(shape))
        return np.frombuffer(self._take(4 * n, what), "<f4").astype(np.float32).reshape(shape)

    def alias(self, what: str) -> tuple[int, int, int, int]:
        version = self.int(what)
        if version != 1:
            raise DlibDatError(f"unsupported file: {what} alias tensor version {version} (expected 1)")
        return tuple(self.int(what) for _ in range(4))  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# The network, from the output down to the input, as dlib's templates nest it.
# "layer:<kind>" is an add_layer (details + bookkeeping); "wrap" is a tag or skip layer (version 1
# and its sub-network, nothing else).

@dataclass
class _Layer:
    kind: str                      # con, affine, relu, max_pool, avg_pool, add_prev, fc
    name: str = ""                 # state-dict prefix for layers with parameters
    conv: tuple[int, int, int] = (0, 0, 0)   # con: filters, kernel, stride; pools: window, stride
    version: int = 0
    data: dict = field(default_factory=dict)


def _block(prefix: str, n: int, stride: int) -> list:
    # dlib: block<N,BN,stride,SUBNET> = BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUBNET>>>>>
    return [_Layer("affine", f"{prefix}.bn2"), _Layer("con", f"{prefix}.conv2", (n, 3, 1)),
            _Layer("relu"), _Layer("affine", f"{prefix}.bn1"), _Layer("con", f"{prefix}.conv1", (n, 3, stride))]


def _ares(prefix: str, n: int) -> list:
    # relu<add_prev1<block<N,affine,1,tag1<SUBNET>>>>
    return [_Layer("relu"), _Layer("add_prev"), *_block(prefix, n, 1), "wrap"]


def _ares_down(prefix: str, n: int) -> list:
    # relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUBNET>>>>>>>
    return [_Layer("relu"), _Layer("add_prev"), _Layer("avg_pool", conv=(0, 2, 2)), "wrap", "wrap",
            *_block(prefix, n, 2), "wrap"]


# (level name, width, down-sampling first block?, number of blocks), output side first
LEVELS = (("level0", 256, True, 1), ("level1", 256, True, 3), ("level2", 128, True, 3),
          ("level3", 64, True, 4), ("level4", 32, False, 3))


def _chain() -> list:
    chain: list = [_Layer("fc", "fc"), _Layer("avg_pool", conv=(0, 0, 1))]
    for level, width, down, count in LEVELS:
        for i in reversed(range(count)):
            prefix = f"{level}.{i}"
            chain += _ares_down(prefix, width) if (down and i == 0) else _ares(prefix, width)
    chain += [_Layer("max_pool", conv=(0, 3, 2)), _Layer("relu"), _Layer("affine", "stem.1"),
              _Layer("con", "stem.0", (32, 7, 2))]
    return chain


def _details(s: _Stream, layer: _Layer, where: str) -> None:
    kind = layer.kind
    version = s.string(f"{where} layer name")
    if kind == "con":
        if version not in ("con_4", "con_5", "con_6"):
            raise DlibDatError(f"wrong network: expected a con_ layer at {where}, found {version!r}")
        params = s.tensor(where)
        filters, kr, kc = s.int(where), s.int(where), s.int(where)
        sy, sx, py, px = (s.int(where) for _ in range(4))
        fshape, bshape = s.alias(where), s.alias(where)
        for _ in range(4):
            s.float(where)
        if version in ("con_5", "con_6"):
            s.bool(where)
        if version == "con_6":
            s.bool(where)
        n, k, stride = layer.conv
        pad = 0 if stride != 1 else k // 2
        if (filters, kr, kc, sy, sx, py, px) != (n, k, k, stride, stride, pad, pad):
            raise DlibDatError(f"wrong network: {where} is con {filters} {kr}x{kc}/{sy} pad {py}, "
                               f"expected con {n} {k}x{k}/{stride} pad {pad}")
        nw, nb = int(np.prod(fshape)), int(np.prod(bshape))
        if fshape[0] != n or params.size not in (nw, nw + nb):
            raise DlibDatError(f"corrupt file: {where} filters {fshape} do not fit {params.size} parameters")
        flat = params.reshape(-1)
        layer.data["weight"] = flat[:nw].reshape(fshape)
        layer.data["bias"] = flat[nw:nw + nb].copy() if params.size == nw + nb else np.zeros(n, np.float32)
    elif kind == "affine":
        if version in ("bn_con2", "bn_fc2"):
            raise DlibDatError(f"unsupported file: {where} holds batch-norm training state ({version}), not affine")
        if version not in ("affine_", "affine_2"):
            raise DlibDatError(f"wrong network: expected an affine_ layer at {where}, found {version!r}")
        params = s.tensor(where)
        gshape, bshape = s.alias(where), s.alias(where)
        mode = s.int(where)
        if version == "affine_2":
            s.bool(where)
        ng, nb = int(np.prod(gshape)), int(np.prod(bshape))
        if mode != 0 or ng != nb or params.size != ng + nb:
            raise DlibDatError(f"corrupt file: {where} affine mode {mode}, gamma {gshape}, beta {bshape}, "
                               f"{params.size} parameters")
        flat = params.reshape(-1)
        layer.data["gamma"], layer.data["beta"] = flat[:ng].copy(), flat[ng:].copy()
    elif kind == "relu":
        if version not in ("relu_", "relu_2"):
            raise DlibDatError(f"wrong network: expected a relu_ layer at {where}, found {version!r}")
        if version == "relu_2" and s.bool(where):
            raise DlibDatError(f"unsupported file: {where} relu is disabled")
    elif kind in ("max_pool", "avg_pool"):
        if version != f"{kind}_2":
            raise DlibDatError(f"wrong network: expected a {kind}_ layer at {where}, found {version!r}")
        got = tuple(s.int(where) for _ in range(6))
        _, w, stride = layer.conv
        pad = 0 if stride != 1 else w // 2
        if got != (w, w, stride, stride, pad, pad):
            raise DlibDatError(f"wrong network: {where} is {kind} {got}, expected {(w, w, stride, stride, pad, pad)}")
    elif kind == "add_prev":
        if version != "add_prev_":
            raise DlibDatError(f"wrong network: expected an add_prev_ layer at {where}, found {version!r}")
    elif kind == "fc":
        if version not in ("fc_2", "fc_3"):
            raise DlibDatError(f"wrong network: expected an fc_ layer at {where}, found {version!r}")
        n_out, n_in = s.int(where, signed=False), s.int(where, signed=False)
        params = s.tensor(where)
        wshape, _ = s.alias(where), s.alias(where)
        bias_mode = s.int(where)
        for _ in range(4):
            s.float(where)
        if version == "fc_3":
            s.bool(where)
        if (n_out, n_in, bias_mode) != (128, 256, 1) or params.size != n_in * n_out or wshape[:2] != (n_in, n_out):
            raise DlibDatError(f"wrong network: {where} is fc {n_in}->{n_out} bias mode {bias_mode} "
                               f"({params.size} parameters), expected fc_no_bias 256->128")
        layer.data["weight"] = params.reshape(n_in, n_out).T.copy()   # dlib computes x @ W
    else:  # pragma: no cover - the chain above only holds the kinds handled here
        raise AssertionError(kind)


def _bookkeeping(s: _Stream, version: int, where: str, *, input_layer: bool) -> None:
    # this_layer_setup_called, gradient_input_is_stale, get_output_and_gradient_input_disabled,
    # then x_grad, cached_output and params_grad (grad_final for the input layer)
    for _ in range(3):
        s.bool(where)
    s.tensor(where)
    s.tensor(where)
    if input_layer or version == 2:
        s.tensor(where)
    if input_layer and version >= 3:
        s.int(where, signed=False)   # _sample_expansion_factor


def parse_dlib_resnet(data: bytes) -> dict[str, np.ndarray]:
    """Parse the bytes of ``dlib_face_recognition_resnet_model_v1.dat`` into float32 arrays.

    Keys are DlibFaceResNet's state-dict names (``stem.0.weight``, ``stem.1.weight``/``bias``,
    ``levelN.i.conv1.weight``, ``levelN.i.bn1.weight``/``bias``, ..., ``fc.weight``), plus
    ``input.mean`` (dlib's per-channel RGB means). Raises DlibDatError with one line on any mismatch.
    """
    s = _Stream(data)
    try:
        if s.int("loss layer version") != 1:
            raise DlibDatError("loss layer version is not 1")
        loss = s.string("loss layer name", max_len=64)
    except DlibDatError as e:
        if not data:
            raise
        raise DlibDatError(f"wrong file: not a dlib network, it does not open with a loss layer ({e})") from None
    if loss == "loss_metric_2":
        s.float("loss margin")
        s.float("loss distance threshold")
    elif loss != "loss_metric_":
        raise DlibDatError(f"wrong network: expected loss_metric_, found {loss!r}")
    chain = _chain()
    versions: list[int] = []
    for i, item in enumerate(chain[:-1]):
        v = s.int(f"layer {i} version")
        if (item == "wrap" and v != 1) or (item != "wrap" and v not in (1, 2)):
            raise DlibDatError(f"wrong network: unexpected version {v} for layer {i} at byte {s.pos}")
        versions.append(v)
    v_in = s.int("input layer version")
    if v_in not in (2, 3):
        raise DlibDatError(f"wrong network: unexpected input add_layer version {v_in}")
    if s.string("input layer name") != "input_rgb_image_sized":
        raise DlibDatError("wrong network: input layer is not input_rgb_image_sized")
    mean = np.array([s.float("input mean") for _ in range(3)], np.float32)
    size = (s.int("input size", signed=False), s.int("input size", signed=False))
    if size != (150, 150):
        raise DlibDatError(f"wrong network: input size {size}, expected (150, 150)")
    _details(s, chain[-1], "layer stem.0")
    _bookkeeping(s, v_in, "layer stem.0", input_layer=True)
    for i in reversed(range(len(chain) - 1)):
        item = chain[i]
        if item == "wrap":
            continue
        where = f"layer {item.name or item.kind} ({i})"
        _details(s, item, where)
        _bookkeeping(s, versions[i], where, input_layer=False)
    if s.pos != len(data):
        raise DlibDatError(f"corrupt file: {len(data) - s.pos} unexpected bytes after the network")

    out: dict[str, np.ndarray] = {"input.mean": mean}
    pending_bias: np.ndarray | None = None
    for item in reversed(chain):          # input to output: each con's bias folds into its affine
        if item == "wrap" or not item.name:
            continue
        if item.kind == "con":
            out[f"{item.name}.weight"] = item.data["weight"]
            pending_bias = item.data["bias"]
        elif item.kind == "affine":
            g, b = item.data["gamma"], item.data["beta"]
            out[f"{item.name}.weight"] = g
            out[f"{item.name}.bias"] = (b + g * pending_bias).astype(np.float32)
            pending_bias = None
        elif item.kind == "fc":
            out[f"{item.name}.weight"] = item.data["weight"]
    return out


def read_dlib_resnet(path: str | Path) -> dict[str, "torch.Tensor"]:  # noqa: F821
    """State dict of DlibFaceResNet (heads excluded) from dlib's face-recognition ResNet .dat."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise DlibDatError(f"{p}: {'not a regular file' if p.exists() else 'no such file'}")
    arrays = parse_dlib_resnet(p.read_bytes())
    mean = arrays.pop("input.mean")
    expected = np.array([122.782, 117.001, 104.298], np.float32)
    if not np.allclose(mean, expected, atol=1e-3):
        raise DlibDatError(f"wrong network: input means {mean.tolist()}, expected {expected.tolist()}")
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}

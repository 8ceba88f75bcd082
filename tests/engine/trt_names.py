"""Every TensorRT name the SDK's code uses, collected from the source by AST (so a new use is
covered without editing a list).

A use is a dotted chain starting at the TensorRT module: the variable ``trt`` or the attribute
``self._trt`` (the project's convention: the module is passed around as ``trt``), or a local bound
to such a chain (``ncf = getattr(trt, "NetworkDefinitionCreationFlag", None)``). A use is
*guarded* when the code feature-detects it (``hasattr(trt.BuilderFlag, "FP16")``,
``getattr(trt, "X", None)``); guarded names may be absent from some versions, unguarded ones may
not be absent from any version whose code path reaches them. ``hasattr(obj, "name")`` probes on
TensorRT objects (``hasattr(runtime, "engine_host_code_allowed")``) are collected as
*object probes*: the name must exist on some TensorRT class of some version (else the probe is a
typo that can never succeed).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted([*REPO.glob("agegender_edge/engine/*.py"), *REPO.glob("agegender_edge/backends/tensorrt*.py")])
MODULE_ROOTS = {"trt"}           # variable names bound to the tensorrt module
MODULE_ATTRS = {"_trt"}          # self._trt


@dataclass(frozen=True)
class Use:
    name: str                    # "BuilderFlag.FP16"
    file: str
    line: int
    guarded: bool


@dataclass
class Collected:
    uses: list[Use] = field(default_factory=list)
    object_probes: list[Use] = field(default_factory=list)

    def names(self) -> set[str]:
        return {u.name for u in self.uses}

    @property
    def feature_detected(self) -> set[str]:
        """Names the code probes before use, and their members (``IInt8EntropyCalibrator2.__init__``
        under ``hasattr(trt, "IInt8EntropyCalibrator2")``): they may be missing from some versions."""
        probed = {u.name for u in self.uses if u.guarded}
        return {n for n in self.names() if any(n == g or n.startswith(g + ".") for g in probed)}

    def where(self, name: str) -> str:
        return ", ".join(sorted({f"{u.file}:{u.line}" for u in self.uses if u.name == name}))


def _is_module(node: ast.AST, aliases: dict[str, str]) -> Optional[str]:
    """'' for the module itself, the chain for an alias, None otherwise."""
    if isinstance(node, ast.Name) and node.id in MODULE_ROOTS:
        return ""
    if isinstance(node, ast.Attribute) and node.attr in MODULE_ATTRS:
        return ""
    if isinstance(node, ast.Name) and node.id in aliases:
        return aliases[node.id]
    return None


def _chain(node: ast.AST, aliases: dict[str, str]) -> Optional[str]:
    """'BuilderFlag.FP16' for trt.BuilderFlag.FP16 (or an alias of trt.BuilderFlag), else None."""
    parts: list[str] = []
    while True:
        base = _is_module(node, aliases)
        if base is not None:
            break
        if not isinstance(node, ast.Attribute):
            return None
        parts.append(node.attr)
        node = node.value
    names = [base, *reversed(parts)]
    if "__version__" in names:            # trt.__version__.split(...): str methods are not TensorRT's
        names = names[:names.index("__version__") + 1]
    return ".".join(filter(None, names)) or None


def _probe(call: ast.Call, aliases: dict[str, str]) -> Optional[tuple[Optional[str], str]]:
    """(chain of the probed object or None for a non-module object, attribute) for
    hasattr(x, "a") / getattr(x, "a", default)."""
    if not (isinstance(call.func, ast.Name) and call.func.id in ("hasattr", "getattr") and len(call.args) >= 2):
        return None
    attr = call.args[1]
    if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
        return None
    if call.func.id == "getattr" and len(call.args) < 3:
        return None   # getattr without a default is a plain (unguarded) use
    obj = call.args[0]
    base = _is_module(obj, aliases)
    chain = _chain(obj, aliases) if base is None else (base or "")
    return chain, attr.value


def collect(sources=SOURCES) -> Collected:
    out = Collected()
    for path in sources:
        tree = ast.parse(path.read_text(), str(path))
        rel = str(path.relative_to(REPO))
        for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module))]:
            aliases: dict[str, str] = {}
            # locals bound to module chains: x = trt.A.B / x = getattr(trt, "A", None)
            for node in ast.walk(func):
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    v = node.value
                    chain = _chain(v, aliases)
                    if chain is None and isinstance(v, ast.Call):
                        p = _probe(v, aliases)
                        if p and p[0] is not None:
                            chain = ".".join(filter(None, [p[0], p[1]]))
                    if chain:
                        aliases[node.targets[0].id] = chain
            if isinstance(func, ast.Module):
                continue  # module level: only functions use the module
            for node in ast.walk(func):
                if isinstance(node, ast.Call):
                    p = _probe(node, aliases)
                    if p:
                        chain, attr = p
                        if chain is None:
                            out.object_probes.append(Use(attr, rel, node.lineno, True))
                        else:
                            out.uses.append(Use(".".join(filter(None, [chain, attr])), rel, node.lineno, True))
                if isinstance(node, ast.Attribute):
                    chain = _chain(node, aliases)
                    if chain:
                        out.uses.append(Use(chain, rel, node.lineno, False))
    # keep only maximal chains: trt.BuilderFlag.FP16 also visits trt.BuilderFlag
    full = {u.name for u in out.uses}
    out.uses = [u for u in out.uses if u.guarded or not any(o.startswith(u.name + ".") for o in full)]
    return out

"""Option values and output paths, checked before any work (docs/ERRORS.md, "Usage errors").

Every bad value is a click usage error: one line naming the option and the problem, exit 2, no
traceback, and nothing is loaded, predicted or written first. One policy for outputs, in every
command:

* an output FILE (``-o``, ``--json``, ``--tracks`` ...): not a folder; its folder must exist and
  be writable; an existing file must be writable (it is replaced);
* an output FOLDER (``--annotate DIR``, ``label --out``, ``calibrate --out`` ...): an existing
  folder must be writable; a new one is created, but only as the last level: its parent must
  exist and be writable. No command creates missing parent folders (a typo such as
  ``/missing/f.jsonl`` is refused instead of creating ``/missing/``).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

import click

# kept light (no OpenCV import for --help): tests/cli check it names detection.yunet.DEFAULT_MIN_SCORE
MIN_SCORE_HELP = ("Detections scoring below this (0..1) are not faces (default: the detector's own; YuNet 0.78, "
                  "chosen on data, docs/ERRORS.md; Haar 0).")
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$", re.IGNORECASE)
DETECTOR_KINDS = ("auto", "yunet", "haar", "none")


def _hint(param, fallback: str) -> str:
    if param is not None and getattr(param, "opts", None):
        return "/".join(param.opts)
    return fallback


def check_device(value: Optional[str], option: str = "--device") -> Optional[str]:
    if value is None or DEVICE_PATTERN.match(value.strip()):
        return None if value is None else value.strip()
    raise click.BadParameter(f"{value!r} is not a device: use cpu, cuda or cuda:N", param_hint=option)


def device_callback(ctx, param, value):
    return check_device(value, _hint(param, "--device"))


def check_detector(value: Optional[str], option: str = "--detector", allow_none: bool = True) -> Optional[str]:
    """auto | yunet[:ONNX] | haar[:XML] | none: the kind is known and a given file exists."""
    if value is None:
        return None
    kind, sep, path = value.partition(":")
    kind = kind.strip().lower()
    kinds = DETECTOR_KINDS if allow_none else DETECTOR_KINDS[:-1]
    if kind not in kinds or (sep and kind in ("auto", "none")):
        spelled = "auto, yunet[:ONNX], haar[:XML]" + (" or none" if allow_none else "")
        raise click.BadParameter(f"unknown detector {value!r}: use {spelled}", param_hint=option)
    if sep:
        p = Path(path)
        if not path:
            raise click.BadParameter(f"{value!r}: give the file after '{kind}:'", param_hint=option)
        if not p.is_file():
            raise click.BadParameter(f"{kind} file not found: {p}", param_hint=option)
    return value


def detector_callback(ctx, param, value):
    return check_detector(value, _hint(param, "--detector"))


def check_model(value, option: str = "--model", file_only: bool = False):
    """A --model value that names no file (a missing path, an unknown shipped name) is a usage
    error; the value is returned as given (None stays None: the SDK's default). A file that
    exists but cannot be loaded is the runtime's error (exit 1, docs/ERRORS.md)."""
    if value is None:
        return None
    from ..errors import AgeGenderError
    from ..shipped import resolve_model

    try:
        path = resolve_model(value)
    except AgeGenderError as exc:
        raise click.BadParameter(str(exc), param_hint=option)
    if not path.exists():
        raise click.BadParameter(f"model not found: {path}", param_hint=option)
    if file_only and not path.is_file():
        raise click.BadParameter(f"{path} is a folder, not a model file", param_hint=option)
    return value


def model_callback(ctx, param, value):
    if isinstance(value, tuple):   # multiple=True
        return tuple(check_model(v, _hint(param, "--model")) for v in value)
    return check_model(value, _hint(param, "--model"))


def _writable_folder(folder: Path, what: str, option: str) -> None:
    if not folder.exists():
        raise click.BadParameter(f"{what}: folder {folder} does not exist (create it first)", param_hint=option)
    if not folder.is_dir():
        raise click.BadParameter(f"{what}: {folder} is not a folder", param_hint=option)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(f"{what}: folder {folder} is not writable", param_hint=option)


def check_output_file(path: Optional[Path], option: str) -> Optional[Path]:
    """An output file: not a folder, in an existing writable folder, writable if it exists."""
    if path is None or str(path) == "-":
        return path
    path = Path(path)
    if path.is_dir():
        raise click.BadParameter(f"{path} is a folder; give a file name", param_hint=option)
    _writable_folder(path.parent if str(path.parent) else Path("."), str(path), option)
    if path.exists() and not os.access(path, os.W_OK):
        raise click.BadParameter(f"{path} exists and is not writable", param_hint=option)
    return path


def check_output_dir(path: Optional[Path], option: str) -> Optional[Path]:
    """An output folder: an existing writable folder, or a new one whose parent exists and is
    writable (only the last level is ever created)."""
    if path is None:
        return None
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise click.BadParameter(f"{path} exists and is not a folder", param_hint=option)
        if not os.access(path, os.W_OK | os.X_OK):
            raise click.BadParameter(f"folder {path} is not writable", param_hint=option)
        return path
    parent = path.parent if str(path.parent) else Path(".")
    _writable_folder(parent, str(path), option)
    return path


def output_file_callback(ctx, param, value):
    return check_output_file(value, _hint(param, "--output"))


def output_dir_callback(ctx, param, value):
    return check_output_dir(value, _hint(param, "--out"))


def make_output_dir(path: Path) -> Path:
    """Create a checked output folder (the last level only, as check_output_dir allowed)."""
    path.mkdir(exist_ok=True)
    return path


def check_distinct_outputs(**named: Optional[Path]) -> None:
    """Two output options naming one file would overwrite each other."""
    seen: dict[Path, str] = {}
    for option, path in named.items():
        if path is None or str(path) == "-":
            continue
        key = Path(path).resolve()
        if key in seen:
            raise click.UsageError(f"{seen[key]} and {option} name the same file {path}")
        seen[key] = option

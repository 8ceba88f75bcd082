"""The pip command that adds an extra to *this* installation.

A source checkout (``pyproject.toml`` beside the package: an editable install, or running in
place) needs ``pip install -e '.[train]'`` from its root, an installed wheel
``pip install 'agegender-edge[train]'``. From a checkout the hint gives the checkout command first
(with the folder when the current one is elsewhere), then the wheel form.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def checkout_root() -> "Path | None":
    """The source checkout this package runs from, None for an installed wheel."""
    return PACKAGE_ROOT if (PACKAGE_ROOT / "pyproject.toml").is_file() and (PACKAGE_ROOT / "agegender_edge").is_dir() else None


def pip_install_extra(extra: str) -> str:
    root = checkout_root()
    if root is None:
        return f"pip install 'agegender-edge[{extra}]'"
    try:
        here = Path(os.getcwd()).resolve() == root
    except OSError:
        here = False
    where = "" if here else f" in {root}"
    return f"pip install -e '.[{extra}]'{where} (an installed wheel: pip install 'agegender-edge[{extra}]')"

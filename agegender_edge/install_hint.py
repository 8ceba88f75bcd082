"""The pip command that adds an extra to *this* installation.

- A source checkout (``pyproject.toml`` beside the package: an editable install, or running in
  place): ``pip install -e '.[train]'`` from its root (with the folder when the current one is
  elsewhere).
- An installation from a local wheel file or source folder (``pip install dist/x.whl`` or
  ``pip install /src/agegender-edge``; pip records where in ``direct_url.json``, PEP 610): the
  same file or folder with the extra, ``pip install '/path/x.whl[train]'``.
- Otherwise the package came from an index, which then serves its extras too:
  ``pip install 'agegender-edge[train]'``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION = "agegender-edge"


def checkout_root() -> "Path | None":
    """The source checkout this package runs from, None for an installed wheel."""
    return PACKAGE_ROOT if (PACKAGE_ROOT / "pyproject.toml").is_file() and (PACKAGE_ROOT / "agegender_edge").is_dir() else None


def installed_from() -> Optional[Path]:
    """The local wheel file or source folder pip installed this package from (None: an index, or unknown)."""
    from importlib.metadata import PackageNotFoundError, distribution
    from urllib.parse import unquote, urlparse

    try:
        dist = distribution(DISTRIBUTION)
        text = dist.read_text("direct_url.json")
        here = Path(str(dist.locate_file("agegender_edge"))).resolve()
    except (PackageNotFoundError, OSError, ValueError):
        return None
    if not text or here != PACKAGE_ROOT / "agegender_edge":   # metadata of another copy than the one running
        return None
    try:
        url = urlparse(json.loads(text).get("url", ""))
    except (ValueError, AttributeError):
        return None
    if url.scheme != "file":
        return None
    path = Path(unquote(url.path))
    return path if path.exists() else None


def pip_install_extra(extra: str) -> str:
    root = checkout_root()
    if root is not None:
        try:
            here = Path(os.getcwd()).resolve() == root
        except OSError:
            here = False
        return f"pip install -e '.[{extra}]'" + ("" if here else f" in {root}")
    source = installed_from()
    if source is not None:
        return f"pip install '{source}[{extra}]'"
    return f"pip install '{DISTRIBUTION}[{extra}]'"

"""Install hints name the command that works for this installation (checkout vs wheel)."""
from __future__ import annotations

from agegender_edge import install_hint
from agegender_edge.errors import MissingDependencyError


def test_checkout_hint_from_its_root(monkeypatch):
    root = install_hint.checkout_root()
    assert root is not None and (root / "pyproject.toml").is_file()   # the tests run from a checkout
    monkeypatch.chdir(root)
    assert install_hint.pip_install_extra("train") == "pip install -e '.[train]'"


def test_checkout_hint_elsewhere_names_the_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    hint = install_hint.pip_install_extra("train")
    assert hint == f"pip install -e '.[train]' in {install_hint.checkout_root()}"


def test_index_hint(monkeypatch, tmp_path):
    """Neither a checkout nor a recorded local wheel / folder: the index it came from serves the extras.
    (The hint of a wheel installed from a file is checked by tests/test_packaging.py on a real install.)"""
    monkeypatch.setattr(install_hint, "PACKAGE_ROOT", tmp_path)       # no pyproject.toml beside the package
    assert install_hint.installed_from() is None                      # the distribution found is not this copy
    assert install_hint.pip_install_extra("gpu") == "pip install 'agegender-edge[gpu]'"
    assert "pip install 'agegender-edge[gpu]'" in str(MissingDependencyError("tensorrt", "gpu", "x"))

"""The fuzz target uses the hardening fixtures (one model switch, in tests/hardening/conftest.py)."""
from tests.hardening.conftest import face_paths, model_path  # noqa: F401

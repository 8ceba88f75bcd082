"""Model architectures, one per file, and their registry."""
from .registry import create_model, list_models, register_model  # noqa: F401

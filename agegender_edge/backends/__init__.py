"""Inference backends (Polygraphy-style runners): activate / infer / deactivate, context manager.

Imported lazily: this package never imports tensorrt or cuda unless that backend is asked for.
"""
from .base import Runner  # noqa: F401

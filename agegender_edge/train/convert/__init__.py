"""Converters of third-party weight files into state dicts of the project's architectures."""

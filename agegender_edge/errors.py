"""Exception hierarchy. Every failure the SDK reports is one of these, with a message that names
the file (or batch index) and the problem."""
from __future__ import annotations


class AgeGenderError(Exception):
    """Base class of every error raised by agegender_edge."""


class InvalidImageError(AgeGenderError, ValueError):
    """An input image cannot be used: missing, empty, corrupt, truncated, wrong dtype/shape,
    or over the configured pixel limit."""


class ImageTooLargeError(InvalidImageError):
    """The image exceeds ``max_pixels`` (refused before it is decoded in full)."""


class ModelError(AgeGenderError):
    """A model file is missing, unreadable, corrupt or not usable by this SDK."""


class ModelFormatError(ModelError):
    """The model lacks our metadata, carries malformed metadata, or a newer format version."""


class ModelIntegrityError(ModelError):
    """The model's weights do not match the checksum recorded in its metadata."""


class BackendUnavailableError(AgeGenderError, RuntimeError):
    """The requested inference backend (or its device) is not available here."""


class MissingDependencyError(AgeGenderError, ImportError):
    """An optional dependency (an extra) is needed for this feature."""

    def __init__(self, package: str, extra: str, feature: str):
        super().__init__(
            f"{feature} needs '{package}', which is not installed; "
            f"install it with: pip install 'agegender-edge[{extra}]'"
        )
        self.package = package
        self.extra = extra

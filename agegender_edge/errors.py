"""Exception hierarchy. Every failure the SDK reports is one of these, with a message that names
the file (or batch index, e.g. ``<bytes 3>``) and the problem. docs/ERRORS.md documents it.

    AgeGenderError
    ├── InvalidImageError (ValueError)        one input image cannot be used
    │   └── ImageTooLargeError                over max_pixels / the byte limit (refused before decoding)
    ├── ResourceLimitError                     a configured resource limit was hit
    │   ├── ImageTooLargeError                 (also an InvalidImageError)
    │   └── BatchTooLargeError (ValueError)    one predict() call carries more than max_batch_bytes
    ├── ModelError                             model file missing, unreadable, truncated, not loadable
    │   ├── ModelFormatError                   no / malformed / newer-format agegender_edge metadata
    │   └── ModelIntegrityError                weights do not match the checksum in the metadata
    ├── BackendUnavailableError (RuntimeError) the requested backend or device is not available
    ├── MissingDependencyError (ImportError)   an optional extra is needed
    ├── OutputPathError (ValueError)           an output (e.g. --annotate) would leave its folder
    └── VideoSourceError                       a video file / camera / stream cannot be opened or read

In a batch, per-image problems (InvalidImageError and subclasses) never raise: they are reported
in ``ImageResult.error`` / ``ImageResult.error_type`` and the other images are processed.
"""
from __future__ import annotations


class AgeGenderError(Exception):
    """Base class of every error raised by agegender_edge."""


class InvalidImageError(AgeGenderError, ValueError):
    """An input image cannot be used: missing, empty, corrupt, truncated, unsupported format,
    wrong dtype/shape, or over a configured size limit."""


class ResourceLimitError(AgeGenderError):
    """A configured resource limit (max_pixels, max_batch_bytes) was exceeded."""


class ImageTooLargeError(InvalidImageError, ResourceLimitError):
    """The image exceeds ``max_pixels`` (or its encoded size the per-image byte limit); refused
    from its header, before its pixels are decoded."""


class BatchTooLargeError(ResourceLimitError, ValueError):
    """The images of one ``predict()`` call add up to more than ``max_batch_bytes``; the call is
    refused before any image is decoded."""


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
        from .install_hint import pip_install_extra
        super().__init__(
            f"{feature} needs '{package}', which is not installed; "
            f"install it with: {pip_install_extra(extra)}"
        )
        self.package = package
        self.extra = extra


class OutputPathError(AgeGenderError, ValueError):
    """An output file would be written outside the folder chosen for it (path traversal,
    symbolic link) or cannot be written there."""


class VideoSourceError(AgeGenderError):
    """A video source (file, camera index, stream URL, iterable of frames) cannot be opened or
    stopped delivering frames: not a video, truncated before its first frame, no frames, no such
    camera, unreachable or stalled stream (timeouts). Single undecodable frames in the middle of a
    video do not raise: they are reported as skipped frames (``FrameResult.error``)."""


#: Exception types that may appear in ``ImageResult.error_type`` (per-image failures).
PER_IMAGE_ERRORS = (InvalidImageError, ImageTooLargeError)

#: ``agegender-edge`` exit codes (see docs/ERRORS.md).
EXIT_OK = 0            # at least one image processed (per-image errors are reported, not fatal)
EXIT_NO_IMAGE = 1      # no image could be processed, or the model / backend could not be loaded
EXIT_USAGE = 2         # bad command line (click usage error)

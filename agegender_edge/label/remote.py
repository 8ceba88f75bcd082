"""Sources on object storage (``s3://``, ``gs://``, ``abfs://``, ``hdfs://``, ``file://`` …) through
pyarrow filesystems: listing a prefix, reading a manifest, reading an image's bytes.

pyarrow resolves the URI and its credentials the usual way for each store (AWS / GCP environment
variables, instance metadata, ~/.aws …). Only ``file://`` can be exercised on a machine without
network access; the other schemes go through the same calls (``FileSystem.from_uri``,
``get_file_info``, ``open_input_file``) but were not run here (docs/SCALE.md).
"""
from __future__ import annotations

import threading
from typing import Optional

_SCHEME_SEP = "://"


def is_uri(text: str) -> bool:
    scheme, sep, _ = text.partition(_SCHEME_SEP)
    return bool(sep) and scheme.isalnum() and len(scheme) > 1   # "C://x" is not a URI on Windows


def resolve(uri: str):
    """(pyarrow FileSystem, path inside it, scheme); pyarrow's own error for an unknown scheme."""
    import pyarrow.fs as pafs

    fs, path = pafs.FileSystem.from_uri(uri)
    return fs, path, uri.partition(_SCHEME_SEP)[0]


def join(scheme: str, path: str) -> str:
    """The URI of ``path`` inside a filesystem opened from a ``scheme://`` URI (percent-encoded,
    as ``FileSystem.from_uri`` expects: a space or '#' in a key must not break the URI)."""
    from urllib.parse import quote

    return f"{scheme}{_SCHEME_SEP}{quote(path, safe='/')}"


def path_in(uri: str) -> str:
    """What ``FileSystem.from_uri(uri)`` returns as the path, without building a filesystem:
    s3://bucket/a%20b.jpg?region=x -> bucket/a b.jpg; file:///x/y.jpg -> /x/y.jpg."""
    from urllib.parse import unquote

    return unquote(uri.partition(_SCHEME_SEP)[2].split("?", 1)[0].split("#", 1)[0])


class RemoteReader:
    """Reads whole objects; one FileSystem per (scheme, bucket), created on first use (an S3 client
    is expensive to build and safe to share between threads)."""

    def __init__(self):
        self._filesystems: dict[str, object] = {}
        self._lock = threading.Lock()

    def read(self, uri: str, max_bytes: Optional[int]) -> bytes:
        """The object's bytes; OSError / ValueError naming the URI when it cannot be read."""
        import pyarrow as pa

        scheme, _, rest = uri.partition(_SCHEME_SEP)
        key = scheme + _SCHEME_SEP + rest.split("/", 1)[0]
        try:
            with self._lock:
                fs = self._filesystems.get(key)
                if fs is None:
                    fs = self._filesystems[key] = resolve(uri)[0]
            path = path_in(uri)
            with fs.open_input_file(path) as fh:
                size = fh.size()
                if max_bytes is not None and size > max_bytes:
                    raise ValueError(f"{uri}: {size} bytes, over the {max_bytes}-byte limit per image")
                return fh.read()
        except (pa.ArrowException, OSError) as exc:
            raise OSError(f"{uri}: cannot read ({type(exc).__name__}: {exc})") from None

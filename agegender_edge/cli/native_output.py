"""Third-party native output (FFmpeg's ``moov atom not found``, OpenCV's ``[ WARN:0@0.6] ...``,
``libpng error: ...``) into the SDK's logging, for the command line only.

Those libraries write straight to file descriptor 2, from whichever thread decodes, before the
SDK's own one-line message. The CLI therefore gives Python's ``sys.stderr`` a private copy of
the terminal (``os.dup(2)``) and points descriptor 2 at a pipe, once, at start-up: everything
Python writes (click messages, logging, warnings, tracebacks, progress bars) goes to the real
stderr as before, and every line a native library writes is read by one daemon thread and
logged as ``agegender_edge.native`` at INFO level, so ``agegender-edge -v ...`` shows it and the
default output has only the SDK's lines. Process-wide and set up once: no per-call swapping of
descriptor 2 (which would race between the prep threads). At exit descriptor 2 is restored and
the lines still in the pipe are logged.

The library (``import agegender_edge``) never does this: redirecting a process's stderr is the
application's decision. ``AGEGENDER_EDGE_NATIVE_STDERR=1`` turns it off (native lines printed as
the libraries print them).
"""
from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from typing import Optional

ENV_OFF = "AGEGENDER_EDGE_NATIVE_STDERR"
log = logging.getLogger("agegender_edge.native")

_state: dict = {}


def capture_native_stderr() -> bool:
    """Route descriptor 2 through a logging pipe (idempotent). False when stderr is not a real
    descriptor (in-process test runners replace sys.stderr), or capture is turned off."""
    if _state or os.environ.get(ENV_OFF, "") not in ("", "0"):
        return bool(_state)
    try:
        if sys.stderr is None or sys.stderr.fileno() != 2:
            return False
    except (AttributeError, OSError, ValueError):   # io.StringIO / click's runner streams
        return False
    sys.stderr.flush()
    saved = os.dup(2)
    os.set_inheritable(saved, False)
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        os.close(saved)
        return False
    # Python keeps writing to the terminal (or file) that stderr was, through the copy
    sys.stderr = open(saved, "w", buffering=1, encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
                      errors="backslashreplace", closefd=True)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    reader = threading.Thread(target=_pump, args=(read_fd,), name="agegender-native-stderr", daemon=True)
    reader.start()
    _state.update(saved=saved, reader=reader)
    atexit.register(_restore)
    return True


def _pump(read_fd: int) -> None:
    with open(read_fd, "rb", buffering=0) as pipe:
        pending = b""
        while True:
            chunk = pipe.read(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                _emit(line)
        if pending:
            _emit(pending)


def _emit(raw: bytes) -> None:
    text = raw.decode("utf-8", errors="backslashreplace").rstrip("\r")
    if text.strip():
        log.info("%s", text)


def _restore(timeout: Optional[float] = 1.0) -> None:
    """Descriptor 2 back to the real stderr; the pipe's last lines are logged."""
    saved, reader = _state.get("saved"), _state.get("reader")
    if saved is None:
        return
    try:
        os.dup2(saved, 2)   # closes this process's write end of the pipe: the reader sees the end
    except OSError:
        return
    if reader is not None:
        reader.join(timeout)   # a child that inherited the pipe may keep it open: do not wait for it

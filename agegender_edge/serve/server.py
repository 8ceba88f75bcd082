"""One process: the app under uvicorn, on a socket bound here (``--port 0``: any free port, named
on stderr once the server accepts connections).

uvicorn has no deadline for a request's headers (a client that opens a connection and sends
them a byte at a time holds it forever), so its HTTP protocol is extended with one: the request
line and headers must arrive within ``header_timeout_s`` of the connection (or of the request's
first byte on a kept-alive connection), else the client gets a 408 JSON answer and the
connection is closed. The body has its own deadline (bodies.read_body). On SIGTERM / SIGINT
uvicorn stops listening, lets the requests in flight finish (up to the request and body
timeouts), then the app's lifespan stops the engine and closes the Predictor.
"""
from __future__ import annotations

import logging
import socket
import sys
from typing import Callable, Optional

from .payload import dumps, error_dict
from .settings import LOOPBACK, ServeSettings

log = logging.getLogger("agegender_edge.serve")


def header_deadline_protocol(timeout_s: float):
    """uvicorn's httptools protocol with a deadline on the request line and headers."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    body = dumps(error_dict(408, f"the request headers did not arrive within {timeout_s:g} s (slow client)",
                            "RequestTimeout"))
    answer = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: "
              + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)

    class HeaderDeadlineProtocol(HttpToolsProtocol):
        _header_timer = None

        def connection_made(self, transport):
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self):
            super().on_message_begin()
            if self._header_timer is None:
                self._arm()

        def on_headers_complete(self):
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc):
            self._disarm()
            super().connection_lost(exc)

        def _arm(self):
            self._header_timer = self.loop.call_later(timeout_s, self._expire)

        def _disarm(self):
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expire(self):
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.write(answer)
                self.transport.close()

    return HeaderDeadlineProtocol


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run(app, settings: ServeSettings, sock: socket.socket, announce: Optional[Callable[[str], None]] = None) -> None:
    """Serve ``app`` on ``sock`` until SIGTERM / SIGINT; ``announce(url)`` once it accepts."""
    import uvicorn

    host, port = sock.getsockname()[:2]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if self.started and announce is not None:
                announce(url)

        def handle_exit(self, sig, frame):
            super().handle_exit(sig, frame)
            # uvicorn re-raises the signal once shut down (exit status -15, or KeyboardInterrupt's
            # traceback); a graceful shutdown is this command's normal end: exit 0
            self._captured_signals.clear()

    config = uvicorn.Config(
        app, http=header_deadline_protocol(settings.header_timeout_s), lifespan="on", log_level="warning",
        access_log=False, server_header=False, timeout_keep_alive=5, limit_concurrency=settings.max_connections,
        timeout_graceful_shutdown=int(settings.request_timeout_s + settings.body_timeout_s) + 1)
    if settings.host != LOOPBACK and not settings.token:
        log.warning("serving on %s without --token-file: anyone who reaches this address can use the model", host)
    Server(config).run(sockets=[sock])


def announce_on_stderr(url: str) -> None:
    print(f"agegender-edge serve: listening on {url} (web page {url}/, API {url}/v1/predict)",
          file=sys.stderr, flush=True)

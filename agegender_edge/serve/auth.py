"""``--token-file``: every route but the health checks and the page's static files needs
``Authorization: Bearer <token>`` (compared in constant time). The page holds no data: it asks
for the token and sends it with its API calls."""
from __future__ import annotations

import hmac
from pathlib import Path

from .payload import dumps, error_dict

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)
MIN_TOKEN_CHARS = 16


class TokenFileError(ValueError):
    pass


def load_token(path: Path) -> str:
    """The token: the file's text without surrounding whitespace; refused when empty or short."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenFileError(f"{path}: cannot read the token file ({getattr(exc, 'strerror', None) or exc})") from None
    if not token:
        raise TokenFileError(f"{path}: the token file is empty")
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise TokenFileError(f"{path}: the token must be one word of at least {MIN_TOKEN_CHARS} characters "
                             f"(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return token


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class BearerAuth:
    """Pure ASGI middleware (no body buffering): 401 JSON unless the bearer token matches."""

    def __init__(self, app, token: str):
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or is_public(scope["path"]) or self._authorised(scope):
            return await self.app(scope, receive, send)
        body = dumps(error_dict(401, "missing or wrong bearer token: send 'Authorization: Bearer <token>' "
                                     "(the server's --token-file)", "Unauthorized"))
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", b'Bearer realm="agegender-edge"')]})
        await send({"type": "http.response.body", "body": body})

    def _authorised(self, scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.token)
        return False

"""The ASGI app: routes, the web page, metrics, authentication and JSON errors around an engine
(batching.LocalEngine in one process, or a Ray Serve replica's)."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from .._version import __version__
from .auth import BearerAuth
from .batching import Engine
from .bodies import HTTPProblem
from .metrics import Metrics, MetricsMiddleware
from .payload import dumps, error_dict
from .settings import ServeSettings

log = logging.getLogger("agegender_edge.serve")
STATIC = Path(__file__).with_name("static")
# the page loads nothing from anywhere else (no CDN); images are shown from blob: URLs
PAGE_POLICY = ("default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def create_app(settings: ServeSettings, engine: Engine):
    """The FastAPI app. Its lifespan starts the engine and, at shutdown (after uvicorn has let
    the requests in flight finish), stops it: admitted images are answered first."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, Response
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from .routes import router

    @asynccontextmanager
    async def lifespan(app):
        await engine.start()
        try:
            yield
        finally:
            app.state.shutting_down = True
            await engine.stop()

    app = FastAPI(title="agegender-edge", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Age group, age and gender of the faces in photos (docs/SERVE.md).")
    app.state.settings = settings
    app.state.engine = engine
    app.state.shutting_down = False
    app.state.metrics = metrics = Metrics(engine.queue_depth)
    engine.add_batch_listener(metrics.batch_size.observe)
    app.include_router(router)

    page = (STATIC / "index.html").read_bytes()

    @app.get("/", include_in_schema=False)
    async def index():
        return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_POLICY})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def problem(status: int, message: str, error_type: str, headers=None) -> Response:
        return Response(dumps(error_dict(status, message, error_type)), status_code=status,
                        media_type="application/json", headers=headers)

    @app.exception_handler(HTTPProblem)
    async def on_problem(request: Request, exc: HTTPProblem):
        return problem(exc.status, exc.message, exc.error_type, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException):
        message = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
        return problem(exc.status_code, message.get(exc.status_code, str(exc.detail)), type(exc).__name__
                       if exc.status_code >= 500 else {404: "NotFound", 405: "MethodNotAllowed"}.get(
                           exc.status_code, "HTTPError"), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError):
        errors = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in exc.errors())
        return problem(400, f"bad request parameters ({errors})", "BadRequest")

    @app.exception_handler(Exception)
    async def on_error(request: Request, exc: Exception):
        log.exception("%s %s failed", request.method, request.url.path)
        return problem(500, f"internal error ({type(exc).__name__}); see the server log", "InternalError")

    if settings.token:
        app.add_middleware(BearerAuth, token=settings.token)
    routes = frozenset({"/", "/openapi.json", *(getattr(r, "path", "") for r in router.routes)})
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=routes)
    return app

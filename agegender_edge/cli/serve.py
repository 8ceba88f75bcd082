"""``agegender-edge serve``: the HTTP service (docs/SERVE.md) in this process, or as a Ray Serve
deployment with ``--engine ray``.

Exit codes: 0 after a clean shutdown (SIGTERM / Ctrl-C), 1 when the model, backend or port
cannot be used, 2 for usage errors.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import click

from .main import require_extra
from .options import MIN_SCORE_HELP, detector_callback, device_callback, model_callback


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (loopback by default; another address needs --token-file in practice).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0: any free port, printed on stderr).")
@click.option("--model", default=None, callback=model_callback, help="ONNX / TensorRT engine file or a shipped model's name (default: the "
                                            "shipped default).")
@click.option("--detector", default="auto", show_default=True, callback=detector_callback,
              help="auto (YuNet), yunet[:ONNX], haar[:XML], or none (each image is already a face crop).")
@click.option("--min-score", default=None, type=click.FloatRange(0.0, 1.0), help=MIN_SCORE_HELP)
@click.option("--backend", type=click.Choice(["auto", "onnxruntime", "tensorrt"]), default="auto", show_default=True)
@click.option("--device", default=None, callback=device_callback, help="cpu, cuda or cuda:N (default: best available, logged).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 1024),
              help="Faces per inference call (faces of concurrent requests share calls).")
@click.option("--workers", default=None, type=click.IntRange(1), help="Decode / detect threads (default: from the cores).")
@click.option("--max-faces", default=64, show_default=True, type=click.IntRange(1), help="Faces kept per image.")
@click.option("--max-pixels", default=50_000_000, show_default=True, type=click.IntRange(1),
              help="Larger images are refused from their header, before decoding (decompression bombs).")
@click.option("--max-batch-delay-ms", default=5.0, show_default=True, type=click.FloatRange(0, 10_000),
              help="How long images in flight wait for other requests' images before their batch runs.")
@click.option("--max-queue", default=256, show_default=True, type=click.IntRange(1),
              help="Images admitted and not yet answered; over it requests get 503 with Retry-After.")
@click.option("--max-body-mb", default=20.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Request body limit, enforced while the body streams in (413).")
@click.option("--max-batch-images", default=64, show_default=True, type=click.IntRange(1),
              help="Images in one /v1/predict/batch request.")
@click.option("--request-timeout-s", default=30.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Admitted -> answered; over it 504.")
@click.option("--body-timeout-s", default=20.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="The whole request body must arrive within this (slow clients get 408).")
@click.option("--header-timeout-s", default=10.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="The request headers must arrive within this (408; local engine).")
@click.option("--max-connections", default=1024, show_default=True, type=click.IntRange(1),
              help="Concurrent connections + requests; over it 503 (local engine).")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File holding a bearer token: every route but /healthz, /readyz and the page's files then "
                   "needs 'Authorization: Bearer <token>'.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this process; ray: a Ray Serve deployment (the [distributed] extra).")
@click.option("--replicas", default=1, show_default=True, type=click.IntRange(1), help="Ray Serve replicas.")
@click.option("--address", default=None, help="Ray cluster to join (default: a new local cluster, or $RAY_ADDRESS).")
@click.option("--num-cpus", default=None, type=click.IntRange(1), help="CPUs of a local Ray cluster started here.")
def serve(host, port, model, detector, min_score, backend, device, batch_size, workers, max_faces, max_pixels,
          max_batch_delay_ms, max_queue, max_body_mb, max_batch_images, request_timeout_s, body_timeout_s,
          header_timeout_s, max_connections, token_file, engine, replicas, address, num_cpus) -> None:
    """Serve predictions over HTTP: POST /v1/predict, /v1/predict/batch, a web page at /, /metrics."""
    from ..label.settings import PredictorSettings, detector_spec
    from ..serve.auth import TokenFileError, load_token
    from ..serve.settings import ServeSettings

    require_extra("fastapi", "serve", "agegender-edge serve")
    require_extra("uvicorn", "serve", "agegender-edge serve")
    require_extra("prometheus_client", "serve", "agegender-edge serve")
    try:
        token = load_token(token_file) if token_file is not None else None
    except TokenFileError as exc:
        raise click.UsageError(str(exc))
    settings = ServeSettings(
        predictor=PredictorSettings(model=str(model) if model else None, backend=backend, device=device,
                                    detector=detector_spec(detector), batch_size=batch_size, max_faces=max_faces,
                                    max_pixels=max_pixels, workers=workers,
                                    min_detection_score=min_score),
        host=host, port=port, max_batch_delay_ms=max_batch_delay_ms, max_queue=max_queue, max_body_mb=max_body_mb,
        max_batch_images=max_batch_images, request_timeout_s=request_timeout_s, body_timeout_s=body_timeout_s,
        header_timeout_s=header_timeout_s, max_connections=max_connections, token=token)
    if engine == "ray":
        _serve_ray(settings, replicas, address, num_cpus)
    else:
        if replicas != 1 or address or num_cpus:
            raise click.UsageError("--replicas, --address and --num-cpus go with --engine ray")
        _serve_local(settings)


def _serve_local(settings) -> None:
    from ..errors import AgeGenderError
    from ..serve.app import create_app
    from ..serve.batching import LocalEngine
    from ..serve.server import announce_on_stderr, bind, run

    try:
        sock = bind(settings.host, settings.port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc})")
    try:
        predictor = settings.predictor.build()
    except AgeGenderError as exc:
        sock.close()
        raise click.ClickException(str(exc))
    engine = LocalEngine(predictor, settings.max_batch_delay_ms, settings.max_queue, settings.max_queue_bytes)
    run(create_app(settings, engine), settings, sock, announce_on_stderr)


def _serve_ray(settings, replicas: int, address: Optional[str], num_cpus: Optional[int]) -> None:
    require_extra("ray.serve", "distributed", "agegender-edge serve --engine ray")
    from ..errors import AgeGenderError
    from ..serve.ray_deployment import serve_on_ray

    try:
        serve_on_ray(settings, replicas=replicas, address=address, num_cpus=num_cpus,
                     announce=lambda url: print(f"agegender-edge serve: Ray Serve, {replicas} replica(s), listening "
                                                f"on {url}", file=sys.stderr, flush=True))
    except AgeGenderError as exc:
        raise click.ClickException(str(exc))

"""``agegender-edge serve``: an HTTP service for the Predictor (docs/SERVE.md).

One process (``app.create_app`` served by uvicorn, ``server.run``) or replicas on a Ray cluster
(``ray_deployment``), both the same FastAPI app:

    POST /v1/predict, /v1/predict/batch --> body read under a size limit and a deadline (bodies.py)
        --> engine: the images of concurrent requests stream through one pipelined Predictor
            (batching.py; on Ray, ``@serve.batch`` inside each replica), so their faces share
            inference calls --> the JSON of ``predict --format json`` (payload.py)
    GET /healthz /readyz /v1/model /metrics /openapi.json, and a web page at ``/`` (static/)

FastAPI, uvicorn and prometheus-client come with the ``[serve]`` extra and are imported only
here: ``import agegender_edge`` stays light.
"""

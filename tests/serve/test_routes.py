"""Each route of a real server (uvicorn on 127.0.0.1): answers equal Predictor.predict on the same bytes."""
from __future__ import annotations

import concurrent.futures as cf

import cv2
import numpy as np

from .conftest import TOLERANCE, expected_json, max_abs_diff, metric


def test_health_ready_and_model(client, reference_predictor):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    model = client.get("/v1/model").json()
    assert model["name"] == reference_predictor.metadata.name
    assert model["file"] == reference_predictor.model_path.name
    assert model["weights_sha256"] == reference_predictor.metadata.weights_sha256
    assert model["detector"] == reference_predictor.detector.describe()
    from agegender_edge import __version__
    assert model["sdk_version"] == __version__
    assert model["limits"]["max_body_mb"] == 2 and model["limits"]["max_batch_images"] == 8


def test_predict_raw_body_equals_predictor(client, reference_predictor, photos, blank_png):
    for path in [*photos, blank_png]:
        data = path.read_bytes()
        ctype = "image/png" if path.suffix == ".png" else "image/jpeg"
        r = client.post("/v1/predict", content=data, headers={"Content-Type": ctype})
        assert r.status_code == 200, r.text
        got = r.json()
        want = expected_json(reference_predictor, data, "upload")
        assert max_abs_diff(got, want) < TOLERANCE, path.name
    assert not got["faces"] and got["error"] is None          # the blank picture: no face, no error
    canvas = client.post("/v1/predict", content=photos[-1].read_bytes()).json()   # no Content-Type: raw bytes
    assert len(canvas["faces"]) > 1


def test_predict_multipart_names_the_file(client, reference_predictor, photos):
    data = photos[0].read_bytes()
    r = client.post("/v1/predict", files={"image": (photos[0].name, data, "image/jpeg")})
    assert r.status_code == 200, r.text
    assert max_abs_diff(r.json(), expected_json(reference_predictor, data, photos[0].name)) < TOLERANCE


def test_batch_one_result_per_part_in_order_bad_parts_do_not_sink_the_others(client, reference_predictor, photos):
    truncated = photos[1].read_bytes()[:1500]
    parts = [("image", (photos[0].name, photos[0].read_bytes(), "image/jpeg")),
             ("image", ("notes.jpg", b"this is not an image\n", "image/jpeg")),
             ("image", (photos[6].name, photos[6].read_bytes(), "image/jpeg")),
             ("image", ("cut.jpg", truncated, "image/jpeg")),
             ("image", (photos[2].name, photos[2].read_bytes(), "image/jpeg"))]
    r = client.post("/v1/predict/batch", files=parts)
    assert r.status_code == 200, r.text
    got = r.json()
    assert [g["source"] for g in got] == [p[1][0] for p in parts]
    for k in (0, 2, 4):
        want = expected_json(reference_predictor, parts[k][1][1], parts[k][1][0])
        assert max_abs_diff(got[k], want) < TOLERANCE
    assert got[1]["error_type"] == "InvalidImageError" and got[1]["error"].startswith("notes.jpg: not a supported image")
    assert got[3]["error_type"] == "InvalidImageError" and "truncated JPEG" in got[3]["error"]
    assert got[1]["faces"] == [] and got[3]["faces"] == []


def test_annotate_returns_the_annotated_jpeg(client, reference_predictor, photos):
    from agegender_edge.annotate import draw_faces
    from agegender_edge.imageio import load_image

    data = photos[6].read_bytes()
    r = client.post("/v1/predict?annotate=1", content=data, headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    got = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    plain = load_image(data, None, 50_000_000).bgr
    drawn = draw_faces(plain, reference_predictor.predict(data))
    assert got.shape == plain.shape
    # the server's picture is annotate.draw_faces of this result (JPEG-encoded); it is not the photo
    assert np.abs(got.astype(int) - drawn).mean() < 3.0
    assert np.abs(got.astype(int) - plain).mean() > np.abs(got.astype(int) - drawn).mean() + 1.0


def test_metrics_count_requests_latency_faces_batches_and_queue(client, photos):
    before = client.get("/metrics").text
    client.post("/v1/predict", content=photos[6].read_bytes(), headers={"Content-Type": "image/jpeg"})
    client.post("/v1/predict", content=b"x", headers={"Content-Type": "text/plain"})
    after = client.get("/metrics").text
    assert metric(after, "agegender_http_requests_total", route="/v1/predict", status="200") == \
        metric(before, "agegender_http_requests_total", route="/v1/predict", status="200") + 1
    assert metric(after, "agegender_http_requests_total", route="/v1/predict", status="415") == \
        metric(before, "agegender_http_requests_total", route="/v1/predict", status="415") + 1
    assert metric(after, "agegender_http_request_duration_seconds_count", route="/v1/predict") == \
        metric(before, "agegender_http_request_duration_seconds_count", route="/v1/predict") + 2
    assert metric(after, "agegender_faces_total") >= metric(before, "agegender_faces_total") + 2
    assert metric(after, "agegender_inference_batch_size_count") > metric(before, "agegender_inference_batch_size_count")
    assert "agegender_queue_depth 0.0" in after


def test_openapi_schema_lists_the_routes(client):
    schema = client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/predict/batch", "/healthz", "/readyz", "/v1/model", "/metrics"} <= set(schema["paths"])
    body = schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
    assert {"image/jpeg", "application/octet-stream", "multipart/form-data"} <= set(body)


def test_page_is_served_with_its_own_files_only(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    for asset in ("/static/app.js", "/static/style.css"):
        r = client.get(asset)
        assert r.status_code == 200
        assert "http://" not in r.text and "https://" not in r.text      # nothing fetched from elsewhere
    assert "https://" not in page.text and "http://" not in page.text


def test_concurrent_requests_share_inference_calls(servers, photos):
    """The auth server waits 250 ms for company: 8 concurrent single-image requests (8 faces)
    run in fewer inference calls than requests."""
    import httpx

    from .conftest import TOKEN

    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=servers["auth"].url, timeout=60, headers=auth) as c:
        before = c.get("/metrics").text
        with cf.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda p: c.post("/v1/predict", content=p.read_bytes(),
                                                     headers={"Content-Type": "image/jpeg"}), photos[:6] * 2))
        after = c.get("/metrics").text
    assert [a.status_code for a in answers] == [200] * 12
    calls = metric(after, "agegender_inference_batch_size_count") - metric(before, "agegender_inference_batch_size_count")
    faces = metric(after, "agegender_inference_batch_size_sum") - metric(before, "agegender_inference_batch_size_sum")
    assert faces == sum(len(a.json()["faces"]) for a in answers)
    assert calls < len(answers), f"{faces} faces of 12 requests took {calls} inference calls"

"""The web page in a real headless Chromium (Debian's `chromium`, driven by Playwright; never a
browser downloaded by `playwright install`): upload real photos, read the rendered labels and the
results table, keep a screenshot. CI (.ci/run) installs chromium and sets
AGEGENDER_EDGE_REQUIRE_BROWSER_TESTS=1, so there a missing browser fails instead of skipping."""
from __future__ import annotations

import importlib.util
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("AGEGENDER_EDGE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def _unavailable() -> str:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (the [test] extra installs it)"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} not found (Debian: apt-get install chromium)"
    return ""


@pytest.fixture(scope="module")
def browser():
    reason = _unavailable()
    if reason:
        if os.environ.get("AGEGENDER_EDGE_REQUIRE_BROWSER_TESTS") == "1":
            pytest.fail(f"browser tests required here but cannot run: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        # the system's browser, not one Playwright downloaded
        assert b.version in subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout
        yield b
        b.close()


def label(face: dict) -> str:
    """The page's label for a face (app.js faceLabel)."""
    return (f"{face['gender'][:1].upper()} {face['gender_probability']:.2f} | "
            f"{math.floor(face['age'] + 0.5)}y ({face['age_group']})")


def test_page_shows_boxes_labels_and_table_for_uploaded_photos(browser, server, client, photos, tmp_path_factory):
    uploads = [photos[0], photos[6]]        # one LFW photo (one face) and a multi-face canvas
    expected = {p.name: client.post("/v1/predict", content=p.read_bytes(),
                                    headers={"Content-Type": "image/jpeg"}).json() for p in uploads}
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    outside = []
    page.on("request", lambda req: outside.append(req.url) if not req.url.startswith((server.url, "blob:", "data:"))
            else None)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/")
    # the page names the served model once /v1/model answers (a selector wait: the page's CSP
    # forbids the string evaluation wait_for_function would need)
    from agegender_edge.shipped import DEFAULT_MODEL
    page.wait_for_selector(f"#model:has-text('model {DEFAULT_MODEL}')")
    page.set_input_files("#files", [str(p) for p in uploads])
    page.wait_for_selector("figure[data-state='done'] >> nth=1", timeout=30_000)

    for p in uploads:
        figure = page.locator(f"figure[data-name='{p.name}']")
        shown = figure.locator("ol.labels li").all_text_contents()
        assert shown == [label(f) for f in expected[p.name]["faces"]], p.name
        size = figure.locator("canvas").evaluate("c => [c.width, c.height]")
        w, h = expected[p.name]["width"], expected[p.name]["height"]
        scale = min(1, 640 / max(w, h))
        assert size == [round(w * scale), round(h * scale)]
        # a box outline is drawn in its gender's colour at the first face's top-left corner
        f = expected[p.name]["faces"][0]
        x, y = round(f["box"]["x"] * scale), round(f["box"]["y"] * scale + f["box"]["height"] * scale / 2)
        rgb = figure.locator("canvas").evaluate(f"c => Array.from(c.getContext('2d').getImageData({x}, {y}, 1, 1).data)")
        assert rgb[:3] == ([255, 105, 180] if f["gender"] == "female" else [60, 160, 255]), rgb

    rows = page.locator("#results tbody tr.face").all()
    cells = [r.locator("td").all_text_contents() for r in rows]
    want = [[name, str(i + 1), f["gender"], f"{f['gender_probability']:.2f}", f"{f['age']:.1f}", f["age_group"]]
            for name in expected for i, f in enumerate(expected[name]["faces"])]
    assert sorted([c[0], c[1], c[2], c[3], c[4], c[6]] for c in cells) == sorted(want)
    assert len(cells) == sum(len(e["faces"]) for e in expected.values()) >= 3

    shots = Path(os.environ.get("AGEGENDER_EDGE_TEST_ARTEFACTS") or tmp_path_factory.mktemp("artefacts"))
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "serve_page.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    assert not errors, errors
    assert not outside, f"the page fetched from elsewhere: {outside}"
    page.close()


def test_page_reports_a_bad_file(browser, server, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    page = browser.new_page()
    page.goto(server.url + "/")
    page.set_input_files("#files", [str(bad)])
    page.wait_for_selector("figure[data-state='done']")
    text = page.locator("#results tbody tr.error").all_text_contents()
    assert len(text) == 1 and "notes.jpg: not a supported image format" in text[0]
    page.close()

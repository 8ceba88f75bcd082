"""Ask a running `agegender-edge serve` about photos, from Python with httpx.

    agegender-edge serve &                                   # http://127.0.0.1:8000 by default
    python examples/serve_client_httpx.py photo1.jpg photo2.jpg [--url http://127.0.0.1:8000] [--token-file F]

One photo goes to POST /v1/predict (raw image body), several to POST /v1/predict/batch
(multipart, one part each, answered in order); the answers are the JSON of
`agegender-edge predict --format json`. A busy server answers 503 with Retry-After: this client
waits that long and tries again (a few times).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx


def post_with_retry(client: httpx.Client, path: str, attempts: int = 5, **kwargs) -> httpx.Response:
    for _ in range(attempts):
        r = client.post(path, **kwargs)
        if r.status_code != 503:
            return r
        time.sleep(float(r.headers.get("Retry-After", "1")))
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photos", nargs="+", type=Path)
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--token-file", type=Path, default=None, help="the server's --token-file, when it has one")
    args = ap.parse_args()
    headers = {"Authorization": f"Bearer {args.token_file.read_text().strip()}"} if args.token_file else {}
    with httpx.Client(base_url=args.url, headers=headers, timeout=60) as client:
        if len(args.photos) == 1:
            r = post_with_retry(client, "/v1/predict", content=args.photos[0].read_bytes(),
                                headers={"Content-Type": "image/jpeg"})
            results = [r.json()]
            if r.status_code not in (200, 413, 422):        # 413 / 422: the image itself was refused
                print(f"error {r.status_code}: {r.json()['error']}", file=sys.stderr)
                return 1
        else:
            files = [("image", (p.name, p.read_bytes(), "application/octet-stream")) for p in args.photos]
            r = post_with_retry(client, "/v1/predict/batch", files=files)
            if r.status_code != 200:
                print(f"error {r.status_code}: {r.json()['error']}", file=sys.stderr)
                return 1
            results = r.json()
    for path, result in zip(args.photos, results):
        if result.get("error"):
            print(f"{path.name}: error: {result['error']}")
            continue
        print(f"{path.name}: {len(result['faces'])} face(s) ({result['width']}x{result['height']}, "
              f"model {result['model']['name']})")
        for i, face in enumerate(result["faces"], start=1):
            low, high = face["age_interval_80"]
            print(f"  face {i}: {face['gender']} ({face['gender_probability']:.2f}), age {face['age']:.0f} "
                  f"({low:.0f}-{high:.0f}), group {face['age_group']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

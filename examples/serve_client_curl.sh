#!/usr/bin/env bash
# Ask a running `agegender-edge serve` about photos with curl (docs/SERVE.md).
#
#   agegender-edge serve &                       # http://127.0.0.1:8000 by default
#   examples/serve_client_curl.sh photo.jpg [more.jpg ...]
#
# URL (default http://127.0.0.1:8000) and TOKEN_FILE (the server's --token-file) come from the
# environment. Writes the annotated copy of the first photo to ${TMPDIR:-/tmp}/annotated.jpg.
set -euo pipefail
URL=${URL:-http://127.0.0.1:8000}
AUTH=()
[ -n "${TOKEN_FILE:-}" ] && AUTH=(-H "Authorization: Bearer $(cat "$TOKEN_FILE")")
[ $# -ge 1 ] || { echo "usage: $0 photo.jpg [more.jpg ...]" >&2; exit 2; }

curl -sS "$URL/readyz"; echo                                   # {"status":"ready"}

# one photo, raw body (the Content-Type matters: curl's default for --data-binary is a form)
curl -sS --fail-with-body "${AUTH[@]}" -H "Content-Type: image/jpeg" --data-binary @"$1" "$URL/v1/predict"; echo

# the same photo as a multipart upload (the answer names the file), annotated: a JPEG comes back
OUT="${TMPDIR:-/tmp}/annotated.jpg"
curl -sS --fail-with-body "${AUTH[@]}" -F "image=@$1" -o "$OUT" "$URL/v1/predict?annotate=1"
echo "annotated copy: $OUT"

# several photos in one request: one result (or error) per part, in order
PARTS=()
for f in "$@"; do PARTS+=(-F "image=@$f"); done
curl -sS --fail-with-body "${AUTH[@]}" "${PARTS[@]}" "$URL/v1/predict/batch"; echo

curl -sS "${AUTH[@]}" "$URL/metrics" | grep -E '^agegender_(faces_total|queue_depth|inference_batch_size_(sum|count))'

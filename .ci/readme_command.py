#!/usr/bin/env python3
"""Print the README's test command: the fenced block after the ``<!-- ci:test-command -->`` marker.

.ci/run runs what this prints, as written, so CI runs exactly what a new user runs (and cannot
add a step the README lacks); tests/test_packaging.py checks the two stay one.
"""
import sys
from pathlib import Path

MARKER = "<!-- ci:test-command -->"


def readme_command(readme: Path) -> str:
    lines = readme.read_text(encoding="utf-8").splitlines()
    try:
        start = lines.index(MARKER)
    except ValueError:
        raise SystemExit(f"{readme}: no {MARKER} line")
    fence = next((i for i in range(start + 1, len(lines)) if lines[i].strip()), None)
    if fence is None or not lines[fence].startswith("```"):
        raise SystemExit(f"{readme}: {MARKER} is not followed by a fenced code block")
    end = next((i for i in range(fence + 1, len(lines)) if lines[i].startswith("```")), None)
    if end is None:
        raise SystemExit(f"{readme}: the code block after {MARKER} is not closed")
    command = "\n".join(lines[fence + 1:end]).strip()
    if not command:
        raise SystemExit(f"{readme}: the code block after {MARKER} is empty")
    return command


if __name__ == "__main__":
    print(readme_command(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "README.md")))

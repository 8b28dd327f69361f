"""Line reading for the ``read_file`` tool (streams, so huge files stay cheap)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

MAX_LINES = 200
MAX_CHARS = 8_000
MAX_LINE_CHARS = 500
COUNT_LINES_UP_TO_BYTES = 2_000_000
"""Past this size ``read_file`` does not scan the rest of the file to count its lines."""


def iter_lines(fh: io.TextIOWrapper) -> Iterator[str]:
    """Yield lines without newlines, cut to ``MAX_LINE_CHARS`` without loading huge lines."""
    while True:
        line = fh.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        if line.endswith("\n"):
            yield line.rstrip("\r\n")
            continue
        if len(line) <= MAX_LINE_CHARS:  # last line without a newline
            yield line.rstrip("\r")
            continue
        rest = line
        while rest and not rest.endswith("\n"):  # skip the rest of an over-long line
            rest = fh.readline(65_536)
        yield line[:MAX_LINE_CHARS] + " ...[line truncated]"


def read_range(fh: BinaryIO, name: str, size: int, first: int, last: int | None) -> str:
    text = io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline=None)
    shown: list[tuple[int, str]] = []
    chars = 0
    capped = False
    number = 0
    total: int | None = None
    for number, line in enumerate(iter_lines(text), start=1):
        if number < first:
            continue
        if last is not None and number > last:
            break
        if len(shown) >= MAX_LINES or chars + len(line) + 8 > MAX_CHARS:
            capped = True
            break
        shown.append((number, line))
        chars += len(line) + 8
    else:
        total = number
    if total is None and size <= COUNT_LINES_UP_TO_BYTES:
        total = number + sum(1 for _ in iter_lines(text))
    if not shown:
        if number == 0:
            return f"{name} is empty."
        return f"Error: '{name}' has only {number} lines; start_line {first} is past the end"
    end = shown[-1][0]
    of = f" of {total}" if total is not None else ""
    width = len(str(end))
    body = [f"{name}, lines {first}-{end}{of}:"]
    body += [f"{n:>{width}}: {line}" for n, line in shown]
    if capped:
        body.append(
            f"[output capped at {MAX_LINES} lines / {MAX_CHARS} characters; "
            f"call read_file(path='{name}', start_line={end + 1}) to read more]"
        )
    return "\n".join(body)

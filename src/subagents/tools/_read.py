"""Line reading for the ``read_file`` tool (streams, so huge files stay cheap)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, BinaryIO

MAX_LINES = 200
MAX_CHARS = 8_000
MAX_LINE_CHARS = 500
COUNT_LINES_UP_TO_BYTES = 2_000_000
"""Past this size ``read_file`` does not scan the rest of the file to count its lines."""
MAX_SCAN_BYTES = 32_000_000
"""``read_file`` reads at most this many bytes of a file (lines past it are out of reach)."""
MAX_SCAN_LINES = 1_000_000
"""``read_file`` skips at most this many lines to reach ``start_line``."""


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


class _Capped(io.RawIOBase):
    """A raw reader handing out at most ``limit`` bytes of ``fh``, then end of file."""

    def __init__(self, fh: BinaryIO, limit: int) -> None:
        super().__init__()
        self.fh = fh
        self.left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self.left)
        if want <= 0:
            return 0
        data = self.fh.read(want)
        view[: len(data)] = data
        self.left -= len(data)
        return len(data)


def _scan(text: io.TextIOWrapper, first: int, last: int | None
          ) -> tuple[list[tuple[int, str]], int, str]:
    """Lines ``first``..``last`` (within the output caps), lines read, and why it stopped.

    The reason is ``"end"`` (no more input), ``"range"`` (past ``last``), ``"output"``
    (``MAX_LINES``/``MAX_CHARS`` reached) or ``"scan"`` (``MAX_SCAN_LINES`` skipped).
    """
    shown: list[tuple[int, str]] = []
    chars = 0
    number = 0
    for number, line in enumerate(iter_lines(text), start=1):
        if number < first:
            if number >= MAX_SCAN_LINES:
                return shown, number, "scan"
            continue
        if last is not None and number > last:
            return shown, number - 1, "range"
        if len(shown) >= MAX_LINES or chars + len(line) + 8 > MAX_CHARS:
            return shown, number - 1, "output"
        shown.append((number, line))
        chars += len(line) + 8
    return shown, number, "end"


def read_range(fh: BinaryIO, name: str, size: int, first: int, last: int | None) -> str:
    """Lines ``first``..``last`` of ``fh`` as the ``read_file`` text (header, numbered rows).

    At most ``MAX_SCAN_BYTES`` bytes and ``MAX_SCAN_LINES`` skipped lines are read,
    whatever the file size: a ``start_line`` past that gets an error saying so instead of
    a scan of a multi-gigabyte file.
    """
    text = io.TextIOWrapper(io.BufferedReader(_Capped(fh, MAX_SCAN_BYTES)),
                            encoding="utf-8", errors="replace", newline=None)
    shown, number, why = _scan(text, first, last)
    cut = size > MAX_SCAN_BYTES and why == "end"  # the byte cap ended the read
    total: int | None = number if why == "end" and not cut else None
    if total is None and why != "scan" and size <= COUNT_LINES_UP_TO_BYTES:
        total = number + 1 + sum(1 for _ in iter_lines(text))
    if not shown:
        if number == 0:
            return f"{name} is empty."
        if why == "scan" or cut:
            return (f"Error: start_line {first} of '{name}' is beyond what read_file scans "
                    f"(the first {MAX_SCAN_LINES} lines / {MAX_SCAN_BYTES // 1_000_000} MB of "
                    f"this {size}-byte file); search it with grep instead")
        return f"Error: '{name}' has only {number} lines; start_line {first} is past the end"
    return _numbered(name, first, shown, total, why, cut)


def _numbered(name: str, first: int, shown: list[tuple[int, str]], total: int | None,
              why: str, cut: bool) -> str:
    end = shown[-1][0]
    of = f" of {total}" if total is not None else ""
    width = len(str(end))
    body = [f"{name}, lines {first}-{end}{of}:"]
    body += [f"{n:>{width}}: {line}" for n, line in shown]
    if why == "output":
        body.append(
            f"[output capped at {MAX_LINES} lines / {MAX_CHARS} characters; "
            f"call read_file(path='{name}', start_line={end + 1}) to read more]"
        )
    elif cut:
        body.append(f"[read_file stops after the first {MAX_SCAN_BYTES // 1_000_000} MB of "
                    "a file; search the rest with grep]")
    return "\n".join(body)

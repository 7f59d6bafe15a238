"""The access log: one JSON line per request on standard output, written in
batches (a line costs no system call of its own under load: lines are joined
and written at most every ``FLUSH_S`` seconds, or at once past ``FLUSH_BYTES``).

Each write holds whole lines and at most ``PIPE_BUF`` bytes (unless one line is
longer), so the lines of several workers sharing one pipe never interleave."""

from __future__ import annotations

import asyncio
import os
import select
import sys

FLUSH_S = 0.05
FLUSH_BYTES = 64 * 1024


class AccessLog:
    def __init__(self, fd: int | None = None) -> None:
        self.fd = sys.stdout.fileno() if fd is None else fd
        self._lines: list[bytes] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None

    def write(self, line: bytes) -> None:
        self._lines.append(line)
        self._size += len(line)
        if self._size >= FLUSH_BYTES:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        lines, self._lines, self._size = self._lines, [], 0
        try:
            for chunk in _chunks(lines):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self.fd, view) :]
        except OSError:
            pass  # a closed or broken stdout must not fail requests


def _chunks(lines: list[bytes]) -> list[bytes]:
    """Whole lines joined into pieces of at most PIPE_BUF bytes (a longer line alone)."""
    chunks: list[bytes] = []
    start, size = 0, 0
    for i, line in enumerate(lines):
        if size and size + len(line) > select.PIPE_BUF:
            chunks.append(b"".join(lines[start:i]))
            start, size = i, 0
        size += len(line)
    chunks.append(b"".join(lines[start:]))
    return chunks

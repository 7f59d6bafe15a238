"""The access log's batches: whole lines, at most PIPE_BUF bytes a write, nothing lost."""

from __future__ import annotations

import asyncio
import os
import select

from gateway.edge.accesslog import AccessLog, _chunks


def test_chunks_hold_whole_lines_within_pipe_buf() -> None:
    lines = [b"x" * n + b"\n" for n in (100, 3000, 2000, 5000, 10, 4000, 95)]
    chunks = _chunks(lines)
    assert b"".join(chunks) == b"".join(lines)
    for chunk in chunks:
        assert chunk.endswith(b"\n")
        assert len(chunk) <= select.PIPE_BUF or chunk.count(b"\n") == 1


def test_lines_are_written_in_order_after_the_flush_delay() -> None:
    read_end, write_end = os.pipe()

    async def scenario() -> bytes:
        log = AccessLog(write_end)
        for i in range(300):
            log.write(b'{"i":%d}\n' % i)
        await asyncio.sleep(0.2)
        log.flush()
        os.close(write_end)
        out = b""
        while chunk := os.read(read_end, 1 << 16):
            out += chunk
        return out

    out = asyncio.run(scenario())
    os.close(read_end)
    assert out.splitlines() == [b'{"i":%d}' % i for i in range(300)]

"""HTTP/1.1 load generator, run in its own process: keep-alive connections, fixed work.

``python -m benchmarks.loadgen --port P --path /v1/models/ok:predict --body-file F
--concurrency C --requests N --max-seconds S`` (or ``--method GET`` without a
body; ``--header 'Name: value'`` adds a header, ``--expect`` changes the status
that counts as success from 200) opens C connections, sends
``--warmup`` requests, prints ``ready`` and
waits for a line on stdin (so the caller can snapshot the server's CPU time),
then sends N requests in total (or stops after S seconds) and prints one JSON
line: requests, errors, seconds, req_s, p50_ms, p99_ms. A raw asyncio protocol keeps the generator's
own cost per request small (it shares the machine's cores with the server).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from benchmarks.stats import summary


class _Conn(asyncio.Protocol):
    """One keep-alive connection; ``request()`` sends the canned request, awaits the reply."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None
        self.expect = -1
        self.status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def request(self) -> asyncio.Future[int]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(self.payload)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.expect < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            self.status = int(head[9:12])
            # At a line start: Inference-Header-Content-Length also ends in content-length.
            start = head.index(b"\r\ncontent-length:") + 17
            stop = head.find(b"\r\n", start)
            self.expect = end + 4 + int(head[start : stop if stop > 0 else None])
        if len(self.buf) >= self.expect:
            del self.buf[: self.expect]
            self.expect = -1
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(self.status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))


@dataclass
class Run:
    remaining: int
    deadline: float
    expect: int = 200
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


async def _worker(conn: _Conn, run: Run) -> None:
    clock = time.perf_counter
    while run.remaining > 0 and clock() < run.deadline:
        run.remaining -= 1
        start = clock()
        status = await conn.request()
        run.latencies.append(clock() - start)
        if status != run.expect:
            run.errors += 1


async def _phase(conns: list[_Conn], requests: int, max_seconds: float, expect: int) -> Run:
    run = Run(requests, time.perf_counter() + max_seconds, expect)
    await asyncio.gather(*(_worker(c, run) for c in conns))
    return run


async def main_async(args: argparse.Namespace) -> dict[str, float]:
    body = Path(args.body_file).read_bytes() if args.body_file else b""
    head = f"{args.method} {args.path} HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\n"
    if args.method == "POST":
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{line}\r\n" for line in args.header)
    head += "\r\n"
    payload = head.encode() + body
    loop = asyncio.get_running_loop()
    conns = []
    for _ in range(args.concurrency):
        _, proto = await loop.create_connection(lambda: _Conn(payload), "127.0.0.1", args.port)
        conns.append(proto)
    warm = await _phase(conns, max(args.warmup, args.concurrency), args.max_seconds, args.expect)
    if warm.errors:
        raise RuntimeError(f"{warm.errors} warm-up requests failed")
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    start = time.perf_counter()
    run = await _phase(conns, args.requests, args.max_seconds, args.expect)
    return summary(run.latencies, time.perf_counter() - start, run.errors)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--method", choices=("POST", "GET"), default="POST")
    p.add_argument("--body-file", help="the POST body")
    p.add_argument("--header", action="append", default=[], help="one more 'Name: value'")
    p.add_argument("--expect", type=int, default=200, help="the status that is not an error")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--max-seconds", type=float, default=10.0)
    args = p.parse_args(argv)
    result = asyncio.run(main_async(args))
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

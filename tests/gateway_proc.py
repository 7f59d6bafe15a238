"""Start real gateway processes (``python -m gateway.cli serve``) for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO

from tests.http import get


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def healthz_ok(base_url: str) -> bool:
    return get(base_url, "/healthz", timeout=2).status == 200


def wait_healthy(
    proc: subprocess.Popen[bytes],
    base_url: str,
    timeout_s: float = 60.0,
    healthy: Callable[[str], bool] = healthz_ok,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}")
        try:
            if healthy(base_url):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError("gateway did not become healthy")


@contextmanager
def running_gateway(
    *args: str,
    timeout_s: float = 60.0,
    stdout: IO[bytes] | None = None,
    stderr: IO[bytes] | None = None,
    env: Mapping[str, str] | None = None,
    scheme: str = "http",
    healthy: Callable[[str], bool] = healthz_ok,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A gateway on a free loopback port with the given serve flags; yields (proc, base_url).

    ``stdout`` (a file) receives the gateway's standard output: the access log;
    ``stderr`` (a file) its log. ``env`` adds environment variables; ``scheme``
    and ``healthy`` (a check of the base URL) serve gateways on HTTPS or with
    /healthz protected.
    """
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "gateway.cli",
        "serve",
        "--host=127.0.0.1",
        f"--port={port}",
        *args,
    ]
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    proc = subprocess.Popen(cmd, env=full_env, stdout=stdout, stderr=stderr)
    base_url = f"{scheme}://127.0.0.1:{port}"
    try:
        wait_healthy(proc, base_url, timeout_s, healthy)
        yield proc, base_url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

"""Several workers: forked from the supervisor, sharing the port, their metrics
summed, all stopped by one SIGTERM to the supervisor."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import fake_backend
from tests.gateway_proc import running_gateway
from tests.http import get, post

ROW = {"instances": [[0.25] * 8]}
REQUESTS = 40


@pytest.fixture(scope="module")
def backend_target() -> Iterator[str]:
    server, port, _ = fake_backend.serve()
    yield f"127.0.0.1:{port}"
    server.stop(None)


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def predicted(metrics_text: str) -> float:
    pattern = (
        r'tfs_gateway_requests_total\{front="tfs",model="ok",status="200",verb="predict"\} (\S+)'
    )
    match = re.search(pattern, metrics_text)
    return float(match.group(1)) if match else 0.0


def test_two_workers_share_the_port_and_sum_their_metrics(backend_target: str) -> None:
    args = (f"--model-server={backend_target}", "--workers=2", "--access-log=false")
    with running_gateway(*args) as (proc, url):
        workers = children(proc.pid)
        assert len(workers) == 2
        for _ in range(REQUESTS):  # a fresh connection each: SO_REUSEPORT spreads them
            assert post(url, "/v1/models/ok:predict", ROW).status == 200
        # Whichever worker answers /metrics reports what both did.
        counts = {predicted(get(url, "/metrics").body.decode()) for _ in range(8)}
        assert counts == {float(REQUESTS)}


def test_sigterm_to_the_supervisor_stops_every_worker(backend_target: str) -> None:
    args = (f"--model-server={backend_target}", "--workers=2", "--access-log=false")
    with running_gateway(*args) as (proc, url):
        workers = children(proc.pid)
        assert get(url, "/healthz").status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists() or "Z" in status_state(pid)


def status_state(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("State:"):
            return line
    return ""


def test_two_workers_in_front_of_the_bundled_modelserver() -> None:
    """The ModelServer child starts after the fork; the workers get its address."""
    base = Path(__file__).resolve().parents[2] / "demo" / "models" / "half_plus_two"
    args = ("--model_name=half", f"--model_base_path={base}", "--workers=2")
    with running_gateway(*args, "--access-log=false", timeout_s=120) as (proc, url):
        kids = children(proc.pid)
        assert len(kids) == 3  # two workers and the ModelServer
        for _ in range(6):
            reply = post(url, "/v1/models/half:predict", {"instances": [1.0]})
            assert reply.status == 200 and reply.json() == {"predictions": [2.5]}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        for pid in kids:
            assert not Path(f"/proc/{pid}").exists() or "Z" in status_state(pid)

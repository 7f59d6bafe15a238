"""Running it for real: replicas dying under load, restarts, readiness, listing,
metrics, access log, the in-flight cap and draining on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests import fake_backend
from tests.gateway_proc import free_port, running_gateway
from tests.http import Reply, get, post
from tests.servers import wait_for

ROW = {"instances": [[0.25] * 8]}
V2_ROW = {"inputs": [{"name": "x", "shape": [1, 8], "datatype": "FP32", "data": [0.25] * 8}]}


def access_lines(log_path: Path) -> list[dict[str, Any]]:
    """The access log's JSON lines so far."""
    text = log_path.read_text()
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def kill(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture
def replicas() -> Iterator[list[tuple[int, subprocess.Popen[str]]]]:
    ports = [free_port(), free_port()]
    procs = [(port, fake_backend.spawn(port)) for port in ports]
    yield procs
    for _, proc in procs:
        if proc.poll() is None:
            kill(proc)


def load(
    url: str, path: str, requests: int, threads: int, during: Callable[[], None]
) -> list[Reply]:
    """Send requests from several threads; run ``during`` once a third have been answered."""
    replies: list[Reply] = []
    fired = threading.Event()

    def one(_: int) -> Reply:
        reply = post(url, path, ROW)
        replies.append(reply)
        if len(replies) >= requests // 3 and not fired.is_set():
            fired.set()
            during()
        return reply

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(requests)))


def test_a_replica_killed_under_load_fails_no_request(
    replicas: list[tuple[int, subprocess.Popen[str]]],
) -> None:
    target = "ipv4:" + ",".join(f"127.0.0.1:{port}" for port, _ in replicas)
    with running_gateway(f"--model-server={target}", "--workers=1", "--access-log=false") as (
        _,
        url,
    ):
        replies = load(url, "/v1/models/ok:predict", 300, 8, lambda: kill(replicas[0][1]))
    statuses = [r.status for r in replies]
    assert statuses.count(200) == len(statuses), {s: statuses.count(s) for s in set(statuses)}


def test_backend_restart_recovers_without_restarting_the_gateway() -> None:
    port = free_port()
    backend = fake_backend.spawn(port)
    try:
        with running_gateway(f"--model-server=127.0.0.1:{port}", "--workers=1") as (_, url):
            assert post(url, "/v1/models/ok:predict", ROW).status == 200
            kill(backend)
            down = post(url, "/v1/models/ok:predict", ROW)
            assert down.status == 503 and "error" in down.json()
            backend = fake_backend.spawn(port)
            wait_for(lambda: post(url, "/v1/models/ok:predict", ROW).status == 200, timeout_s=15)
    finally:
        if backend.poll() is None:
            kill(backend)


@pytest.fixture(scope="module")
def ops_gateway(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Path, fake_backend.FakeBackend]]:
    server, port, state = fake_backend.serve()
    log_path = tmp_path_factory.mktemp("logs") / "access.log"
    with (
        log_path.open("wb") as log,
        running_gateway(
            f"--model-server=127.0.0.1:{port}",
            "--workers=1",
            "--timeout-s=1",
            "--max-in-flight=4",
            "--max-body-bytes=100000",
            "--deployment=dep=ok",
            stdout=log,
        ) as (_, url),
    ):
        yield url, log_path, state
    server.stop(None)


def test_readiness_and_listing(ops_gateway: tuple[str, Path, fake_backend.FakeBackend]) -> None:
    url = ops_gateway[0]
    ready = get(url, "/readyz")
    assert ready.status == 200, ready.body
    assert ready.json() == {"ready": True, "reasons": []}
    listing = get(url, "/v1/models").json()
    assert listing["deployments"] == {"dep": {"model": "ok", "backend": "default"}}
    assert listing["models"] == [
        {"name": "ok", "backend": "default", "versions": [{"version": "1", "state": "AVAILABLE"}]}
    ]
    assert get(url, "/healthz").status == 200
    assert get(url, "/v2/health/ready").json() == {"ready": True}


def test_readiness_fails_when_a_backend_is_down() -> None:
    with running_gateway(f"--model-server=127.0.0.1:{free_port()}", "--workers=1") as (_, url):
        reply = get(url, "/readyz")
        assert reply.status == 503
        assert reply.json()["ready"] is False
        assert any("unreachable" in r for r in reply.json()["reasons"])
        v2 = get(url, "/v2/health/ready")
        assert v2.status == 503 and "unreachable" in v2.json()["error"]
        assert get(url, "/v2/health/live").status == 200
        infer = post(url, "/v2/models/m/infer", V2_ROW)
        assert infer.json() == {"error": "The ModelServer is unavailable; try again later"}


def test_readiness_fails_when_a_configured_model_is_not_available(tmp_path: Path) -> None:
    server, port, _ = fake_backend.serve()
    try:
        args = (f"--model-server=127.0.0.1:{port}", "--workers=1", "--deployment=d=abort.NOT_FOUND")
        with running_gateway(*args) as (_, url):
            reply = get(url, "/readyz")
            assert reply.status == 503
            assert reply.json()["reasons"] == ["model abort.NOT_FOUND has no AVAILABLE version"]
    finally:
        server.stop(None)


def test_in_flight_cap_answers_503_with_retry_after(
    ops_gateway: tuple[str, Path, fake_backend.FakeBackend],
) -> None:
    url = ops_gateway[0]
    with ThreadPoolExecutor(10) as pool:
        replies = list(
            pool.map(lambda _: post(url, "/v1/models/sleep.0.5:predict", ROW), range(10))
        )
    busy = [r for r in replies if r.status == 503]
    assert busy, [r.status for r in replies]
    assert all(r.headers["Retry-After"] == "1" and "overloaded" in r.json()["error"] for r in busy)
    assert {r.status for r in replies} == {200, 503}


def test_metrics_and_access_log_show_what_happened(
    ops_gateway: tuple[str, Path, fake_backend.FakeBackend],
) -> None:
    url, log_path, _ = ops_gateway
    assert (
        post(url, "/v1/models/ok:predict", ROW, headers={"X-Request-ID": "trace-me"}).status == 200
    )
    assert post(url, "/v1/models/sleep.3:predict", ROW).status == 504
    assert get(url, "/v1/models/abort.UNAVAILABLE").status == 503
    assert post(url, "/v1/models/ok:predict", b"[" * 200_000).status == 413
    text = get(url, "/metrics").body.decode()
    assert 'tfs_gateway_requests_total{front="tfs",model="ok",status="200",verb="predict"}' in text
    assert 'status="504",verb="predict"' in text
    assert 'tfs_gateway_backend_errors_total{backend="default",code="DEADLINE_EXCEEDED"}' in text
    assert 'tfs_gateway_backend_errors_total{backend="default",code="UNAVAILABLE"}' in text
    assert 'tfs_gateway_rejected_total{reason="too_large"}' in text
    for phase in ("decode", "backend", "encode"):
        assert f'tfs_gateway_phase_duration_seconds_count{{phase="{phase}",verb="predict"}}' in text
    assert "tfs_gateway_in_flight_requests" in text

    def logged() -> bool:  # the log line is written after the answer: wait for it
        records = access_lines(log_path)
        return any(r["id"] == "trace-me" for r in records) and any(
            r["status"] == 504 for r in records
        )

    wait_for(logged)
    lines = access_lines(log_path)
    mine = [line for line in lines if line["id"] == "trace-me"]
    assert len(mine) == 1
    record = mine[0]
    assert record["model"] == "ok" and record["verb"] == "predict" and record["status"] == 200
    assert record["req_bytes"] > 0 and record["resp_bytes"] > 0
    assert {"decode_ms", "backend_ms", "encode_ms", "ms"} <= set(record)
    assert "7.654321" not in log_path.read_text()  # payloads are never logged
    assert any(line["status"] == 504 for line in lines)


def test_v2_requests_get_the_same_edge(
    ops_gateway: tuple[str, Path, fake_backend.FakeBackend],
) -> None:
    url, log_path, backend = ops_gateway
    reply = post(url, "/v2/models/dep/infer", V2_ROW, headers={"X-Request-ID": "v2-trace"})
    assert reply.status == 200, reply.body
    assert reply.headers["X-Request-ID"] == "v2-trace"
    assert "v2-trace" in backend.request_ids
    assert reply.json()["outputs"][0]["shape"] == [1, 10]
    # Deadlines (timeout 1 s), backend failures and body limits (100000 bytes) as for /v1.
    assert post(url, "/v2/models/sleep.3/infer", V2_ROW).json() == {"error": "Deadline Exceeded"}
    assert post(url, "/v2/models/abort.UNAVAILABLE/infer", V2_ROW).status == 503
    assert post(url, "/v2/models/abort.NOT_FOUND/ready").status == 405
    assert get(url, "/v2/models/abort.NOT_FOUND/ready").status == 404
    assert post(url, "/v2/models/ok/infer", b"\0" * 100_001).status == 413
    text = get(url, "/metrics").body.decode()
    assert 'tfs_gateway_requests_total{front="v2",model="ok",status="200",verb="infer"}' in text
    assert 'front="v2",model="_unknown",status="504",verb="infer"' in text
    assert 'tfs_gateway_requests_total{front="ops",model="",status="200",verb="other"}' in text
    assert 'tfs_gateway_request_duration_seconds_count{front="v2",verb="infer"}' in text
    for phase in ("decode", "backend", "encode"):
        assert f'tfs_gateway_phase_duration_seconds_count{{phase="{phase}",verb="infer"}}' in text

    wait_for(lambda: any(r["id"] == "v2-trace" for r in access_lines(log_path)))
    lines = access_lines(log_path)
    (mine,) = [line for line in lines if line["id"] == "v2-trace"]
    assert (mine["path"], mine["model"], mine["verb"]) == ("/v2/models/dep/infer", "ok", "infer")


def test_sigterm_during_load_answers_every_accepted_request() -> None:
    server, port, state = fake_backend.serve(workers=16)
    try:
        with running_gateway(
            f"--model-server=127.0.0.1:{port}", "--workers=1", "--drain-delay-s=1"
        ) as (proc, url):
            with ThreadPoolExecutor(12) as pool:
                futures = [
                    pool.submit(post, url, "/v1/models/sleep.1:predict", ROW) for _ in range(12)
                ]
                # All twelve are accepted once all twelve wait on the backend.
                wait_for(lambda: state.predict_calls == 12, timeout_s=20, interval_s=0.02)
                proc.send_signal(signal.SIGTERM)
                # Readiness fails first, well before the port closes after the drain delay.
                wait_for(lambda: get(url, "/readyz").status == 503, timeout_s=1.5)
                replies = [f.result() for f in futures]
            assert [r.status for r in replies] == [200] * 12
            assert proc.wait(20) == 0
    finally:
        server.stop(None)


def statuses(url: str, count: int) -> set[int]:
    """The statuses of ``count`` predicts, each on a new connection (any worker)."""
    return {post(url, "/v1/models/ok:predict", ROW).status for _ in range(count)}


def health_lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if " backend default " in line]


def test_backend_state_changes_are_logged_once_each(tmp_path: Path) -> None:
    """Start-up says whether the backend answered; then each change is one line, however
    many requests and workers see it; the backend's address is never logged."""
    port = free_port()
    log = tmp_path / "gateway.log"
    backend = None
    with (
        log.open("wb") as sink,
        running_gateway(f"--model-server=127.0.0.1:{port}", "--workers=2", stderr=sink) as (
            _,
            url,
        ),
    ):
        try:
            assert [line.split(" WARNING ")[-1] for line in health_lines(log)] == [
                "tfs_gateway backend default did not answer at start-up (Connection refused); "
                "its requests get 503 until it does"
            ]
            for _ in range(6):
                assert post(url, "/v1/models/ok:predict", ROW).status == 503
            backend = fake_backend.spawn(port)
            # Each worker reconnects on its own (backoff up to 2 s): wait until a run of
            # requests, spread over both workers, all get through.
            wait_for(lambda: statuses(url, 8) == {200}, timeout_s=20)
            kill(backend)
            wait_for(lambda: statuses(url, 8) == {503}, timeout_s=20)
        finally:
            if backend is not None and backend.poll() is None:
                kill(backend)
    lines = health_lines(log)
    assert [line.split("tfs_gateway ")[-1].split(" (")[0] for line in lines] == [
        "backend default did not answer at start-up",
        "backend default answers again",
        "backend default stopped answering",
    ]
    assert f":{port}" not in log.read_text()


def test_backend_that_answers_at_start_up_is_logged(tmp_path: Path) -> None:
    server, port, _ = fake_backend.serve()
    log = tmp_path / "gateway.log"
    try:
        with (
            log.open("wb") as sink,
            running_gateway(f"--model-server=127.0.0.1:{port}", "--workers=1", stderr=sink),
        ):
            assert [line.split("tfs_gateway ")[-1] for line in health_lines(log)] == [
                "backend default answered"
            ]
    finally:
        server.stop(None)

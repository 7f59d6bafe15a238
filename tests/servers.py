"""Start bundled ModelServer processes for tests, and call them over gRPC.

``start_modelserver(args)`` runs ``python -m gateway.cli modelserver`` on
127.0.0.1 and a free port and returns ``(proc, "127.0.0.1:PORT")`` once the
server has printed its ready line and the requested models are AVAILABLE.
``stop_modelserver(proc)`` ends it. ``call`` makes one unary call with the
project's message classes. ``tfs_models_dir()`` is where the test SavedModels
are: the project's own (``tests.models``, built on first use), or the directory
named by env ``TFS_MODELS`` (the same five model directories from elsewhere, such
as TF Serving's own test data).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc

from gateway.core import embedded, protos
from tests import models

REPO = Path(__file__).resolve().parents[1]
READY_LINE = "ModelServer listening on"
MODEL_NAMES = models.MODEL_NAMES
BIG = 2**31 - 1
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", BIG),
    ("grpc.max_send_message_length", BIG),
]


def tfs_models_dir() -> Path:
    """``TFS_MODELS`` when set, else the project's own models (built on first use)."""
    outside = os.environ.get("TFS_MODELS")
    return Path(outside).resolve() if outside else models.built_models()


def write_models_config(dest: Path, models_dir: Path | None = None) -> Path:
    """A models.config serving the five test models of ``models_dir`` under their names."""
    dest.write_text(models.config_text(models_dir or tfs_models_dir()), encoding="utf-8")
    return dest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _StderrLog:
    """Drains the child's stderr (so it never blocks) and remembers it."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._drain, args=(proc,), daemon=True)
        self._thread.start()

    def _drain(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.lines.append(line)
            if READY_LINE in line:
                self.ready.set()

    def join(self) -> None:
        self._thread.join(timeout=5)

    def text(self) -> str:
        return "".join(self.lines[-60:])


LOGS: dict[int, _StderrLog] = {}


def start_modelserver(
    args: Sequence[str], *, wait_models: Iterable[str] = (), timeout_s: float = 120.0
) -> tuple[subprocess.Popen[str], str]:
    """Start a ModelServer; return (process, target) when it serves ``wait_models``."""
    port = free_port()
    cmd = [sys.executable, "-m", "gateway.cli", "modelserver", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), *args]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    LOGS[proc.pid] = log = _StderrLog(proc)
    target = f"127.0.0.1:{port}"
    try:
        _wait_ready(proc, log, timeout_s)
        for name in wait_models:
            wait_available(target, name, timeout_s=timeout_s)
    except BaseException:
        stop_modelserver(proc)
        raise
    return proc, target


def _wait_ready(proc: subprocess.Popen[str], log: _StderrLog, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not log.ready.wait(0.05):
        if proc.poll() is not None:
            raise RuntimeError(f"modelserver exited with {proc.returncode}:\n{log.text()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"modelserver not ready after {timeout_s}s:\n{log.text()}")


def server_log(proc: subprocess.Popen[str]) -> str:
    return LOGS[proc.pid].text()


def server_lines(proc: subprocess.Popen[str]) -> list[str]:
    """Every line the server has written to stderr so far."""
    return list(LOGS[proc.pid].lines)


def stop_modelserver(proc: subprocess.Popen[str], timeout_s: float = 15.0) -> int:
    """SIGTERM, then SIGKILL if it lingers; returns the exit status."""
    embedded.stop(proc, timeout_s)
    log = LOGS.get(proc.pid)
    if log is not None:
        log.join()
    if proc.stderr is not None:
        proc.stderr.close()
    return proc.returncode


@contextmanager
def running_modelserver(
    args: Sequence[str], *, wait_models: Iterable[str] = ()
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc, target = start_modelserver(args, wait_models=wait_models)
    try:
        yield proc, target
    finally:
        stop_modelserver(proc)


# --- calls ------------------------------------------------------------------

RESPONSES = {
    "Predict": protos.PredictResponse,
    "Classify": protos.ClassificationResponse,
    "Regress": protos.RegressionResponse,
    "MultiInference": protos.MultiInferenceResponse,
    "GetModelMetadata": protos.GetModelMetadataResponse,
    "GetModelStatus": protos.GetModelStatusResponse,
    "HandleReloadConfigRequest": protos.ReloadConfigResponse,
}
MODEL_SERVICE_METHODS = {"GetModelStatus", "HandleReloadConfigRequest"}


def call(target: str, method: str, request: Any, timeout_s: float = 60.0) -> Any:
    """One unary call with the project's classes; raises grpc.RpcError on error."""
    service = protos.MODEL_SERVICE if method in MODEL_SERVICE_METHODS else protos.PREDICTION_SERVICE
    with grpc.insecure_channel(target, options=CHANNEL_OPTIONS) as channel:
        stub = channel.unary_unary(
            f"/{service}/{method}",
            request_serializer=type(request).SerializeToString,
            response_deserializer=RESPONSES[method].FromString,
        )
        return stub(request, timeout=timeout_s)


def model_status(target: str, name: str) -> dict[int, str]:
    """Version -> state name for every tracked version of a model."""
    request = protos.GetModelStatusRequest()
    request.model_spec.name = name
    response = call(target, "GetModelStatus", request)
    states = protos.ModelState.values_by_number
    return {s.version: states[s.state].name for s in response.model_version_status}


def wait_available(target: str, name: str, timeout_s: float = 60.0) -> None:
    wait_for(lambda: "AVAILABLE" in _status_or_empty(target, name).values(), timeout_s)


def _status_or_empty(target: str, name: str) -> dict[int, str]:
    try:
        return model_status(target, name)
    except grpc.RpcError:
        return {}


def wait_for(predicate: Any, timeout_s: float = 30.0, interval_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(interval_s)

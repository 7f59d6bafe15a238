"""Start the bundled ModelServer as a child process and wait until it serves.

Used by ``tfs-gateway serve`` when no ``--model-server`` is given (the
embedded default). The child runs ``tfs-gateway modelserver`` in its own
interpreter, so TensorFlow never loads into the gateway process.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import text_format

from gateway.config import EmbeddedModelServer
from gateway.core import protos
from gateway.core.ports import free_port, os_reason

__all__ = [
    "TENSORFLOW_MISSING",
    "StartError",
    "free_port",
    "start",
    "stop",
    "tensorflow_installed",
]

# The one line a slim install (no ``modelserver`` extra) prints where TensorFlow is needed.
TENSORFLOW_MISSING = (
    "the bundled ModelServer needs TensorFlow, which is not installed; "
    "install the modelserver extra: pip install 'tfs-gateway[modelserver]'"
)


class StartError(Exception):
    """The bundled ModelServer could not be started; one line says why.

    ``exit_status`` is 2 for what the person must fix first (a missing extra),
    1 otherwise.
    """

    def __init__(self, message: str, exit_status: int = 1) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def tensorflow_installed() -> bool:
    """Whether ``import tensorflow`` can work, without importing it (1.8 s, 490 MiB)."""
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def model_names(embedded: EmbeddedModelServer) -> list[str]:
    """The models the ModelServer is configured to serve (to wait for)."""
    path = embedded.model_config_file
    if path is None:
        return [embedded.model_name or "default"]
    config = protos.ModelServerConfig()
    try:
        text_format.Parse(Path(path).read_text(encoding="utf-8"), config)
    except OSError as exc:
        raise StartError(f"cannot read --model_config_file {path}: {os_reason(exc)}") from None
    except (text_format.ParseError, UnicodeDecodeError) as exc:
        raise StartError(f"--model_config_file {path} is not a ModelServerConfig: {exc}") from None
    return [model.name for model in config.model_config_list.config]


def modelserver_command(embedded: EmbeddedModelServer, host: str, port: int) -> list[str]:
    cmd = [sys.executable, "-m", "gateway.cli", "modelserver", f"--host={host}", f"--port={port}"]
    if embedded.model_config_file is not None:
        cmd.append(f"--model_config_file={embedded.model_config_file}")
    if embedded.model_base_path is not None:
        cmd.append(f"--model_base_path={embedded.model_base_path}")
        cmd.append(f"--model_name={embedded.model_name or 'default'}")
    cmd.extend(embedded.extra_args)
    return cmd


def start(
    embedded: EmbeddedModelServer, host: str = "127.0.0.1"
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the child on a free loopback port; return it once every model is AVAILABLE.

    Raises StartError (one line) when TensorFlow is missing, the config cannot be
    read, or the child exits or does not serve in time. Any exception, a signal
    turned into one included, stops the child before it propagates.
    """
    if not tensorflow_installed():
        raise StartError(TENSORFLOW_MISSING, exit_status=2)
    models = model_names(embedded)
    port = free_port(host)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    proc = subprocess.Popen(modelserver_command(embedded, host, port), env=env)
    target = f"{host}:{port}"
    try:
        wait_ready(proc, target, models, embedded.startup_timeout_s)
    except BaseException:
        stop(proc)
        raise
    return proc, target


def wait_ready(
    proc: subprocess.Popen[bytes], target: str, models: list[str], timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(target) as channel:
        status = channel.unary_unary(
            f"/{protos.MODEL_SERVICE}/GetModelStatus",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=protos.GetModelStatusResponse.FromString,
        )
        pending = list(models)
        while pending:
            if proc.poll() is not None:
                raise StartError(
                    f"the bundled ModelServer exited with code {proc.returncode} "
                    "(its own message is above)"
                )
            if time.monotonic() > deadline:
                raise StartError(
                    f"the bundled ModelServer did not serve {', '.join(pending)} "
                    f"within {timeout_s:.0f} s"
                )
            if _available(status, pending[0]):
                pending.pop(0)
            else:
                time.sleep(0.2)


def _available(status: grpc.UnaryUnaryMultiCallable, model: str) -> bool:
    request = protos.GetModelStatusRequest()
    request.model_spec.name = model
    try:
        response = status(request, timeout=2)
    except grpc.RpcError:
        return False
    available = protos.ModelState.values_by_name["AVAILABLE"].number
    return any(v.state == available for v in response.model_version_status)


def stop(proc: subprocess.Popen[Any], timeout_s: float = 10.0) -> int:
    """SIGTERM, then SIGKILL if the process lingers; returns its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode

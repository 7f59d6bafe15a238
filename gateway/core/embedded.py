"""Start the bundled ModelServer as a child process and wait until it serves.

Used by ``tfs-gateway serve`` when no ``--model-server`` is given (the
embedded default). The child runs ``tfs-gateway modelserver`` in its own
interpreter, so TensorFlow never loads into the gateway process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import text_format

from gateway.config import EmbeddedModelServer
from gateway.core import protos


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def model_names(embedded: EmbeddedModelServer) -> list[str]:
    """The models the ModelServer is configured to serve (to wait for)."""
    if embedded.model_config_file is None:
        return [embedded.model_name or "default"]
    config = protos.ModelServerConfig()
    text_format.Parse(Path(embedded.model_config_file).read_text(), config)
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
    """Start the child on a free loopback port; return it once every model is AVAILABLE."""
    port = free_port(host)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    proc = subprocess.Popen(modelserver_command(embedded, host, port), env=env)
    target = f"{host}:{port}"
    try:
        wait_ready(proc, target, model_names(embedded), embedded.startup_timeout_s)
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
                raise RuntimeError(f"the bundled ModelServer exited with code {proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bundled ModelServer did not serve {pending} in time")
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

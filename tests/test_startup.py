"""Start-up failures are one line on stderr and an exit status, never a traceback
(issue 11, item 6). A slim install (no TensorFlow) is played by a ``sitecustomize``
that makes ``tensorflow`` unimportable in every process it starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.core.embedded import TENSORFLOW_MISSING
from tests.servers import REPO, free_port

MODELS = REPO / "demo" / "models"


@pytest.fixture(scope="module")
def no_tensorflow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shim = tmp_path_factory.mktemp("no-tensorflow")
    (shim / "sitecustomize.py").write_text('import sys\nsys.modules["tensorflow"] = None\n')
    return shim


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def cli(*args: str, shim: Path | None = None, timeout_s: float = 60) -> tuple[int, list[str]]:
    """Run ``tfs-gateway ARGS``; (exit status, stderr lines)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if shim is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    return result.returncode, result.stderr.strip().splitlines()


def test_the_shim_hides_tensorflow(no_tensorflow: Path) -> None:
    probe = "import importlib.util as u, sys; sys.exit(u.find_spec('tensorflow') is not None)"
    env = {**os.environ, "PYTHONPATH": str(no_tensorflow)}
    assert subprocess.run([sys.executable, "-c", probe], env=env, timeout=60).returncode == 0


def test_modelserver_without_tensorflow(no_tensorflow: Path) -> None:
    status, lines = cli("modelserver", f"--model_base_path={MODELS / 'mnist'}", shim=no_tensorflow)
    assert status == 2
    assert lines == [f"tfs-gateway modelserver: {TENSORFLOW_MISSING}"]
    assert "pip install 'tfs-gateway[modelserver]'" in lines[0]


def test_embedded_mode_without_tensorflow(no_tensorflow: Path) -> None:
    args = ("serve", "--host=127.0.0.1", f"--port={free_port()}")
    status, lines = cli(*args, f"--model_base_path={MODELS / 'mnist'}", shim=no_tensorflow)
    assert status == 2
    assert lines == [f"tfs-gateway: {TENSORFLOW_MISSING}"]


def test_gateway_without_tensorflow_needs_none(no_tensorflow: Path) -> None:
    """The slim install still runs the gateway against a ModelServer (here: its --help)."""
    status, lines = cli("serve", "--help", shim=no_tensorflow)
    assert status == 0 and lines == []


@pytest.mark.parametrize("workers", [1, 2])
def test_gateway_port_taken(taken_port: int, workers: int) -> None:
    status, lines = cli(
        "serve",
        "--host=127.0.0.1",
        f"--port={taken_port}",
        f"--workers={workers}",
        "--model-server=127.0.0.1:1",
    )
    assert status == 1
    assert lines == [
        f"tfs-gateway: cannot listen on 127.0.0.1:{taken_port}: Address already in use"
    ]


def test_gateway_port_taken_is_found_before_the_models_load(taken_port: int) -> None:
    status, lines = cli(
        "serve", "--host=127.0.0.1", f"--port={taken_port}", f"--model_base_path={MODELS / 'mnist'}"
    )
    assert status == 1
    assert lines == [
        f"tfs-gateway: cannot listen on 127.0.0.1:{taken_port}: Address already in use"
    ]


def test_embedded_config_file_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.config"
    status, lines = cli(
        "serve", "--host=127.0.0.1", f"--port={free_port()}", f"--model_config_file={missing}"
    )
    assert status == 1
    assert lines == [
        f"tfs-gateway: cannot read --model_config_file {missing}: No such file or directory"
    ]


def test_embedded_config_file_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.config"
    bad.write_text("model_config_list { nonsense: 1 }\n")
    status, lines = cli(
        "serve", "--host=127.0.0.1", f"--port={free_port()}", f"--model_config_file={bad}"
    )
    assert status == 1
    assert len(lines) == 1
    assert lines[0].startswith(
        f"tfs-gateway: --model_config_file {bad} is not a ModelServerConfig: "
    )


def test_modelserver_port_taken(taken_port: int) -> None:
    status, lines = cli(
        "modelserver",
        "--host=127.0.0.1",
        f"--port={taken_port}",
        f"--model_base_path={MODELS / 'mnist'}",
    )
    assert status == 1
    assert lines == [
        f"Failed to start server. Error: cannot listen on 127.0.0.1:{taken_port}: "
        "Address already in use"
    ]


def test_modelserver_config_file_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.config"
    status, lines = cli("modelserver", f"--port={free_port()}", f"--model_config_file={missing}")
    assert status == 1
    assert lines == [f"Failed to start server. Error: {missing}: No such file or directory"]

"""The gateway image's install steps, run for real in a fresh virtualenv.

The test copies the files the Dockerfile's build stage copies, runs
deploy/install-gateway.sh with a new venv's Python (as the image does with
/opt/venv), then starts that venv's `tfs-gateway serve` against a port where
nothing listens: /healthz answers, /readyz and predict say the backend is
down, TensorFlow is neither installed nor mapped into the process, and the
image's health check script passes against it (and fails once it is gone).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.manifests import DEPLOY, REPO, copy_sources, dockerfile_instructions
from tests.gateway_proc import free_port, wait_healthy
from tests.http import get, post

pytestmark = pytest.mark.slow
INSTALL_TIMEOUT_S = 300


def clean_env(**extra: str) -> dict[str, str]:
    """The environment minus anything that would let the repo's own venv leak in."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO))
    )
    return {**env, **extra}


def build_stage_sources() -> list[str]:
    instructions = dockerfile_instructions(DEPLOY / "gateway.Dockerfile")
    second_from = [i for i, (kw, _) in enumerate(instructions) if kw == "FROM"][1]
    return copy_sources(instructions[:second_from])


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gateway-image")
    src = root / "src"
    for source in build_stage_sources():
        origin, dest = REPO / source.rstrip("/"), src / source.rstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, dest, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, dest)
    env_dir = root / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(env_dir)], check=True, timeout=120)
    done = subprocess.run(
        ["sh", "deploy/install-gateway.sh", str(src)],
        cwd=src,
        env=clean_env(PYTHON=str(env_dir / "bin" / "python")),
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "install-gateway: ok (no tensorflow)" in done.stdout
    return env_dir


def venv_python(venv: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=venv,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_venv_has_the_gateway_and_no_tensorflow(venv: Path) -> None:
    where = venv_python(venv, "import gateway; print(gateway.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    missing = venv_python(venv, "import tensorflow")
    assert missing.returncode != 0
    assert "No module named 'tensorflow'" in missing.stderr
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.lower()
    assert "tfs-gateway==" in listed and "aiohttp==" in listed
    assert "tensorflow" not in listed


@pytest.fixture
def gateway(venv: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port, closed = free_port(), free_port()
    cmd = [str(venv / "bin" / "tfs-gateway"), "serve", "--host=127.0.0.1", f"--port={port}"]
    cmd += [f"--model-server=127.0.0.1:{closed}", "--workers=1", "--timeout-s=5"]
    proc = subprocess.Popen(cmd, cwd=venv, env=clean_env(), stdout=subprocess.DEVNULL)
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", timeout_s=60)
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(30)


def run_healthcheck(venv: Path, port: int) -> int:
    script = DEPLOY / "healthcheck.py"
    env = clean_env(TFS_GATEWAY_PORT=str(port))
    cmd = [str(venv / "bin" / "python"), str(script)]
    return subprocess.run(cmd, env=env, capture_output=True, timeout=30, check=False).returncode


def test_installed_gateway_serves_without_tensorflow(
    venv: Path, gateway: tuple[subprocess.Popen[bytes], int]
) -> None:
    proc, port = gateway
    base = f"http://127.0.0.1:{port}"
    assert get(base, "/healthz").status == 200
    assert get(base, "/readyz").status == 503
    started = time.monotonic()
    reply = post(base, "/v1/models/half_plus_two:predict", {"instances": [1.0]})
    assert reply.status == 503, reply.body
    assert "error" in reply.json()
    assert time.monotonic() - started < 10
    maps = Path(f"/proc/{proc.pid}/maps").read_text()
    assert "tensorflow" not in maps
    assert f"{venv}/lib" in maps  # the venv's own extension modules are the ones loaded
    # The console's files are package data: served from the installed wheel.
    assert get(base, "/console/").status == 200
    assert len(get(base, "/docs/swagger-ui/swagger-ui-bundle.js").body) > 1_000_000
    assert run_healthcheck(venv, port) == 0


def test_healthcheck_fails_when_nothing_answers(venv: Path) -> None:
    assert run_healthcheck(venv, free_port()) == 1

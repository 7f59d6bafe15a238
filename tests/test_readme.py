"""The README's commands run as written (issue 11, items 3 and 4).

The lines are read out of README.md, so the README and these tests cannot drift apart.
They run in a copy of the checkout made of symlinks, whose ``.venv`` is the environment
running the tests (nothing is installed, nothing in the checkout is written). Ports:
the demo and demo/client.py take theirs from ``TFS_GATEWAY_PORT`` (the README commands
stay verbatim); curl lines and explicit ``--port`` flags get free ports substituted,
and every server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import pytest

from tests.http import get
from tests.servers import REPO, free_port, wait_available, wait_for

README = REPO / "README.md"
START_TIMEOUT_S = 240.0  # TensorFlow and the demo models on a busy machine


def code_blocks(section: str) -> list[list[str]]:
    """The fenced blocks under a ``## section`` heading, as lists of lines."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    return [b.strip("\n").splitlines() for b in re.findall(r"```\n(.*?)```", text[start:end], re.S)]


def block_with(section: str, needle: str) -> list[str]:
    (block,) = [b for b in code_blocks(section) if any(needle in line for line in b)]
    return block


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The checkout as symlinks, with a ``.venv`` that is the running environment."""
    root = tmp_path / "clone"
    root.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in (".venv", ".git") and not entry.name.endswith("_cache"):
            (root / entry.name).symlink_to(entry)
    venv = root / ".venv"
    venv.mkdir()
    prefix = Path(sys.prefix)
    if not (prefix / "pyvenv.cfg").is_file() or not (prefix / "bin" / "tfs-gateway").exists():
        pytest.skip(f"{prefix} is not a virtual environment with tfs-gateway installed")
    for part in prefix.iterdir():
        if part.name in ("bin", "lib", "lib64", "include", "pyvenv.cfg"):
            (venv / part.name).symlink_to(part)
    # What scripts/setup leaves behind: both profiles are installed (nothing to do).
    (venv / ".setup-run").touch()
    (venv / ".setup-dev").touch()
    return root


def environment(**extra: str) -> dict[str, str]:
    """The test's environment; PYTHONPATH makes the scripts import this checkout's gateway."""
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": python_path, "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def ready(url: str) -> bool:
    try:
        return get(url, "/readyz", timeout=5).status == 200
    except OSError:
        return False


@pytest.fixture
def demo_log(tmp_path: Path) -> Iterator[IO[bytes]]:
    with (tmp_path / "demo.log").open("w+b") as log:
        yield log


def log_text(log: IO[bytes]) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-4000:]


def start_demo(checkout: Path, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    (line,) = block_with("Quick start", "scripts/demo")
    assert line == "scripts/demo"
    env = environment(TFS_GATEWAY_PORT=str(port), TFS_GATEWAY_HOST="127.0.0.1")
    return subprocess.Popen(
        shlex.split(line), cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def stop_all(proc: subprocess.Popen[bytes], tree: set[int], signum: int) -> int:
    """One signal to the demo's PID; its exit status once it and all it started are gone."""
    proc.send_signal(signum)
    status = proc.wait(60)
    wait_for(lambda: not any(alive(pid) for pid in tree), timeout_s=30)
    return status


def run_line(line: str, checkout: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", line], cwd=checkout, env=env, capture_output=True, text=True, timeout=120
    )


def check_quick_start_line(line: str, expected: str | None, checkout: Path, port: int) -> None:
    command = line.replace("localhost:8501", f"localhost:{port}")
    result = run_line(command, checkout, environment(TFS_GATEWAY_PORT=str(port)))
    assert result.returncode == 0, (command, result.stdout, result.stderr)
    if command.startswith("curl"):
        answer = json.loads(result.stdout)
        assert "error" not in answer, answer
        if expected is not None:
            assert answer == json.loads(expected)
    else:
        assert "predicted digit 7, true label 7" in result.stdout, result.stdout


def test_quick_start_runs_as_written(checkout: Path, demo_log: IO[bytes]) -> None:
    """``scripts/demo``, the curl lines (with their expected answer), the client; then one
    SIGTERM to the demo's PID stops the gateway, its workers and the ModelServer."""
    port = free_port()
    proc = start_demo(checkout, port, demo_log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: ready(url) or proc.poll() is not None, timeout_s=START_TIMEOUT_S)
        assert proc.poll() is None, log_text(demo_log)
        tree = descendants(proc.pid)
        assert any("gateway.cli modelserver" in command_line(pid) for pid in tree)
        lines = block_with("Quick start", "demo/client.py")
        have_curl = shutil.which("curl") is not None
        for i, line in enumerate(lines):
            if line.startswith("#") or (line.startswith("curl") and not have_curl):
                continue
            following = lines[i + 1] if i + 1 < len(lines) else ""
            expected = following[2:] if following.startswith("# {") else None
            check_quick_start_line(line, expected, checkout, port)
        assert stop_all(proc, tree, signal.SIGTERM) == 0, log_text(demo_log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if not have_curl:
        pytest.skip("curl is not installed: everything but the README's curl lines ran")


def test_one_sigint_during_start_up_stops_everything(checkout: Path, demo_log: IO[bytes]) -> None:
    """Ctrl-C while the ModelServer is still loading: nothing it started is left behind."""
    proc = start_demo(checkout, free_port(), demo_log)
    try:

        def modelserver_started() -> bool:
            return proc.poll() is not None or any(
                "gateway.cli modelserver" in command_line(pid) for pid in descendants(proc.pid)
            )

        wait_for(modelserver_started, timeout_s=120, interval_s=0.02)
        assert proc.poll() is None, log_text(demo_log)
        tree = descendants(proc.pid)
        assert stop_all(proc, tree, signal.SIGINT) == 128 + signal.SIGINT, log_text(demo_log)
        assert "Traceback" not in log_text(demo_log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def on_free_ports(line: str, ports: dict[int, int]) -> str:
    """``--port 8500`` -> ``--host=127.0.0.1 --port N``, ``localhost:8500`` -> ``localhost:N``."""
    for readme_port, port in ports.items():
        line = line.replace(f"--port {readme_port}", f"--host=127.0.0.1 --port {port}")
        line = line.replace(f"localhost:{readme_port}", f"localhost:{port}")
    return line


def test_against_an_existing_modelserver(checkout: Path, tmp_path: Path) -> None:
    """The config template filled in, the bundled ModelServer, a gateway in front of it,
    and a request through the deployment id the gateway was given."""
    lines = block_with("Quick start", "tfs-gateway modelserver")
    ports = {8500: free_port(), 8501: free_port()}
    gateway = f"http://127.0.0.1:{ports[8501]}"
    env = environment()
    servers: list[subprocess.Popen[bytes]] = []
    logs = ExitStack()
    try:
        for line in lines:
            command = on_free_ports(line, ports)
            if command.startswith(".venv/bin/tfs-gateway"):
                log = logs.enter_context((tmp_path / f"server-{len(servers)}.log").open("wb"))
                argv = shlex.split(command, comments=True)
                servers.append(
                    subprocess.Popen(argv, cwd=checkout, env=env, stdout=log, stderr=log)
                )
                if "modelserver" in argv:  # one shell after the other: it serves, then the next
                    wait_available(f"127.0.0.1:{ports[8500]}", "mnist", START_TIMEOUT_S)
                continue
            if command.startswith("curl"):
                wait_for(lambda: ready(gateway), timeout_s=START_TIMEOUT_S)
            result = run_line(command, checkout, env)
            assert result.returncode == 0, (command, result.stdout, result.stderr)
            if command.startswith("curl"):
                assert len(json.loads(result.stdout)["outputs"][0]) == 10, result.stdout
        assert (checkout / "models.config").is_file()
        assert len(servers) == 2 and all(s.poll() is None for s in servers)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        logs.close()


FAKE_PYTHON = """#!/usr/bin/env bash
# Records each call; 'pip show tensorflow' finds nothing, everything else succeeds.
echo "$*" >> "$(dirname "$0")/../calls.log"
[ "$3" = show ] && exit 1
exit 0
"""


@pytest.fixture
def bare_checkout(tmp_path: Path) -> Path:
    """A checkout whose .venv python only records what scripts/setup asks of it."""
    root = tmp_path / "bare"
    root.mkdir()
    for name in ("scripts", "pyproject.toml"):
        (root / name).symlink_to(REPO / name)
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return root


def tools_only(root: Path) -> dict[str, str]:
    """An environment whose PATH has only the tools scripts/setup uses: no apt-get, so a
    machine without chromium is told about it rather than having it installed."""
    tools = root / "tools"
    tools.mkdir(exist_ok=True)
    for name in ("bash", "dirname", "touch", "rm", "id"):
        found = shutil.which(name)
        assert found is not None, name
        if not (tools / name).exists():
            (tools / name).symlink_to(found)
    return {**os.environ, "PATH": str(tools)}


def setup(root: Path, *args: str) -> tuple[str, list[str]]:
    result = subprocess.run(
        ["scripts/setup", *args],
        cwd=root,
        env=tools_only(root),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    calls = root / ".venv" / "calls.log"
    return result.stdout, calls.read_text().splitlines() if calls.exists() else []


def test_setup_installs_what_each_job_needs_and_says_so(bare_checkout: Path) -> None:
    out, calls = setup(bare_checkout)
    assert "tensorflow-cpu" in out and "MB to download" in out and "GB on disk" in out
    installs = [c for c in calls if " install " in c]
    assert installs == ["-m pip install --disable-pip-version-check -e .[modelserver]"]
    assert setup(bare_checkout) == ("", calls)  # installed: returns at once, silently

    out, calls = setup(bare_checkout, "dev")
    assert "dev tools" in out and "tensorflow-cpu" not in out  # that part is there already
    new = [c for c in calls if " install " in c][len(installs) :]
    assert new == [
        "-m pip install --disable-pip-version-check -e .[modelserver,dev]",
        "-m pip install --disable-pip-version-check --no-deps tensorflow-serving-api==2.21.0",
    ]
    assert setup(bare_checkout, "dev") == ("", calls)
    assert setup(bare_checkout) == ("", calls)  # dev includes what the demo needs


def test_setup_dev_on_a_fresh_checkout_says_both(bare_checkout: Path) -> None:
    out, calls = setup(bare_checkout, "dev")
    assert "tensorflow-cpu" in out and "dev tools" in out
    assert [c for c in calls if " install " in c] == [
        "-m pip install --disable-pip-version-check -e .[modelserver,dev]",
        "-m pip install --disable-pip-version-check --no-deps tensorflow-serving-api==2.21.0",
    ]


def test_setup_refuses_an_unknown_profile(bare_checkout: Path) -> None:
    result = subprocess.run(
        ["scripts/setup", "everything"],
        cwd=bare_checkout,
        env=tools_only(bare_checkout),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stderr == "usage: scripts/setup [dev]\n"

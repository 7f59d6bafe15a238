"""Gateways for the console tests, a real Chromium driven by Playwright, and the folder
the screenshots and reports are kept in (``.artifacts/console``, not committed)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.gateway_proc import running_gateway
from tests.servers import REPO

ARTIFACTS = REPO / ".artifacts" / "console"
CHROMIUM = "/usr/bin/chromium"
# No network beyond this machine, no first-run or update traffic: the tests also check
# that the pages themselves never ask another host for anything.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_DEPLOYMENTS = ("mnist=mnist", "half-plus-two=half_plus_two")
TEST_DEPLOYMENTS = ("dep-default=default", "dep-2v=saved_model_half_plus_two_2_versions")
API_KEY = "console-test-key-ci"
OPS_KEY = "console-test-key-ops"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """demo/models.config.in with the demo models' absolute path, as scripts/demo writes it."""
    text = (REPO / "demo" / "models.config.in").read_text(encoding="utf-8")
    config = tmp_path_factory.mktemp("demo") / "models.config"
    config.write_text(text.replace("${DEMO_MODELS}", str(REPO / "demo" / "models")))
    return config


@pytest.fixture(scope="session")
def demo_gateway(demo_config: Path) -> Iterator[str]:
    """The demo: the gateway starting the bundled ModelServer on the demo models."""
    args = [f"--model_config_file={demo_config}", "--workers=1", "--access-log=false"]
    args += [f"--deployment={pair}" for pair in DEMO_DEPLOYMENTS]
    with running_gateway(*args, timeout_s=240) as (_, url):
        yield url


@pytest.fixture(scope="module")
def console_gateway(modelserver_target: str) -> Iterator[str]:
    """A gateway of its own over the shared ModelServer's five test models."""
    args = [f"--model-server={modelserver_target}", "--workers=1", "--access-log=false"]
    args += [f"--deployment={pair}" for pair in TEST_DEPLOYMENTS]
    with running_gateway(*args) as (_, url):
        yield url


AUTH_TOML = """
[auth.keys.ci]
secret_env = "CONSOLE_TEST_CI_KEY"
[auth.keys.ops]
secret_env = "CONSOLE_TEST_OPS_KEY"
[models.default]
auth = ["ops"]
[deployments]
"dep-2v" = { model = "saved_model_half_plus_two_2_versions", auth = ["ops"] }
"dep-tf2" = "half_plus_two_tf2"
"""


@pytest.fixture(scope="module")
def auth_gateway(
    modelserver_target: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Auth on: key ``ci`` may use everything but ``default`` and ``dep-2v``; ``ops`` all."""
    config = tmp_path_factory.mktemp("auth") / "gateway.toml"
    config.write_text(AUTH_TOML)
    env = {"CONSOLE_TEST_CI_KEY": API_KEY, "CONSOLE_TEST_OPS_KEY": OPS_KEY}
    args = [f"--config={config}", f"--model-server={modelserver_target}", "--workers=1"]
    with running_gateway(*args, "--access-log=false", env=env) as (_, url):
        yield url


def chromium_missing() -> bool:
    return shutil.which(CHROMIUM) is None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium under Playwright (scripts/setup installs it; never a download).

    Module-scoped: Playwright's sync API marks an event loop as running in this thread
    while it is open, which would break every later test that calls asyncio.run."""
    if chromium_missing():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: scripts/setup installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (scripts/setup installs it as root)")
    expect.set_options(timeout=30_000)  # a loaded 2-core machine renders slowly
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()

"""Shared fixtures: one bundled ModelServer serving the five test models.

``tfs_models`` is the directory of the test SavedModels (``tests.models`` builds
them on first use, in a subprocess, so this process never imports TensorFlow for
them; env ``TFS_MODELS`` names another directory holding the same five models).

``modelserver_target`` ("127.0.0.1:PORT") is session-scoped: start-up costs a
few seconds (TensorFlow import + five SavedModels). Tests that need their own
server (polling, reloads) use ``tests.servers.start_modelserver``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import models
from tests.servers import (
    MODEL_NAMES,
    start_modelserver,
    stop_modelserver,
    tfs_models_dir,
    write_models_config,
)


@pytest.fixture(scope="session")
def tfs_models() -> Path:
    """The test SavedModels: the project's own (built on first use), or ``TFS_MODELS``."""
    path = tfs_models_dir()
    missing = models.missing_directories(path)
    if missing:
        pytest.fail(f"test SavedModels not found in {path}: no {', '.join(missing)}")
    return path


@pytest.fixture(scope="session")
def models_config(tfs_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """models.config with the real path substituted."""
    return write_models_config(tmp_path_factory.mktemp("config") / "models.config", tfs_models)


@pytest.fixture(scope="session")
def modelserver_target(models_config: Path) -> Iterator[str]:
    """A bundled ModelServer serving all five test models; yields "127.0.0.1:PORT"."""
    args = [
        "--model_config_file",
        str(models_config),
        "--allow_version_labels_for_unavailable_models",
    ]
    proc, target = start_modelserver(args, wait_models=MODEL_NAMES)
    yield target
    stop_modelserver(proc)

"""Shared fixtures: one bundled ModelServer serving the five test models.

``modelserver_target`` ("127.0.0.1:PORT") is session-scoped: start-up costs a
few seconds (TensorFlow import + five SavedModels). Tests that need their own
server (polling, reloads) use ``tests.servers.start_modelserver``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import (
    MODEL_NAMES,
    start_modelserver,
    stop_modelserver,
    tfs_models_dir,
    write_models_config,
)


@pytest.fixture(scope="session")
def tfs_models() -> Path:
    """The test SavedModels directory (``TFS_MODELS`` or ../shared/testdata/tfs_models)."""
    path = tfs_models_dir()
    if not (path / "models.config").is_file():
        pytest.fail(f"test SavedModels not found at {path} (set TFS_MODELS)")
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

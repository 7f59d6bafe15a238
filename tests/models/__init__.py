"""The project's own test SavedModels: which models, where they are built, how they are served.

``tests.models.build`` (a command: it imports TensorFlow) writes five model directories;
this module knows their names and builds them on demand without importing TensorFlow
itself, so a pytest process that only serves them stays free of TensorFlow.

``built_models()`` returns ``.cache/test-models/<key>/`` in the repository, building it in
a subprocess when it is missing. The key hashes the generator's sources and the installed
TensorFlow version, so editing the generator or upgrading TensorFlow builds afresh, and an
unchanged checkout reuses what it built before. The build writes into a scratch directory
and renames it into place, so a reader never sees a half-built tree.

The directory and served names are those of TF Serving's own test models, so
``config_text`` serves either tree (``TFS_MODELS``, see ``tests.servers``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Final

HERE: Final = Path(__file__).resolve().parent
REPO: Final = HERE.parents[1]
CACHE: Final = REPO / ".cache" / "test-models"
BUILD_TIMEOUT_S: Final = 600


@dataclass(frozen=True)
class Served:
    """One entry of the ModelServerConfig: served name, model directory, extra config text."""

    name: str
    directory: str
    extra: str = ""


SERVED: Final = (
    Served(
        "saved_model_half_plus_two_2_versions",
        "saved_model_half_plus_two_2_versions",
        # Only 123 is served; the label is set at start-up, so the server needs
        # --allow_version_labels_for_unavailable_models.
        "model_version_policy { specific { versions: 123 } }\n"
        '    version_labels { key: "Version_Label" value: 123 }',
    ),
    Served("default", "saved_model_half_plus_two_cpu"),
    Served("saved_model_half_plus_three", "saved_model_half_plus_three"),
    Served("half_plus_two_tf2", "saved_model_half_plus_two_tf2_cpu"),
    Served("saved_model_counter", "saved_model_counter"),
)
MODEL_NAMES: Final = tuple(s.name for s in SERVED)
DIRECTORIES: Final = tuple(s.directory for s in SERVED)


def config_text(models_dir: Path) -> str:
    """A ModelServerConfig (text format) serving every model of ``models_dir``."""
    return "model_config_list {\n" + config_entries(models_dir) + "}\n"


def config_entries(models_dir: Path, prefix: str = "") -> str:
    """The ``config { ... }`` entries of ``config_text``.

    ``prefix`` goes in front of each served name, so that one server can serve two trees.
    """
    lines = []
    for served in SERVED:
        lines += [
            "  config {",
            f'    name: "{prefix}{served.name}"',
            f'    base_path: "{models_dir / served.directory}"',
            '    model_platform: "tensorflow"',
        ]
        lines += [f"    {served.extra}"] if served.extra else []
        lines.append("  }")
    return "".join(line + "\n" for line in lines)


def missing_directories(models_dir: Path) -> list[str]:
    return [d for d in DIRECTORIES if not (models_dir / d).is_dir()]


def cache_key() -> str:
    """Hash of the generator's sources and the TensorFlow it runs on."""
    digest = hashlib.sha256()
    for path in sorted(HERE.glob("*.py")):
        if not path.name.startswith("test_"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(_tensorflow_version().encode())
    return digest.hexdigest()[:16]


def _tensorflow_version() -> str:
    # Read from the installed distribution: importing TensorFlow here would load it into
    # the pytest process.
    for distribution in ("tensorflow-cpu", "tensorflow"):
        try:
            return f"{distribution}=={metadata.version(distribution)}"
        except metadata.PackageNotFoundError:
            continue
    return "tensorflow: not installed"


def built_models() -> Path:
    """The generated models for this checkout, built first if they are not there yet."""
    dest = CACHE / cache_key()
    if not dest.is_dir():
        build(dest)
    return dest


def build(dest: Path) -> None:
    """Run the generator in a subprocess (TensorFlow stays out of this process)."""
    command = [sys.executable, "-m", "tests.models.build", str(dest)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        command,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0 or not dest.is_dir():
        raise RuntimeError(
            f"building the test SavedModels failed ({result.returncode}):\n{result.stderr}"
        )

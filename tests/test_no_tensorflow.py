"""The gateway never imports TensorFlow: only gateway.modelserver may (DESIGN.md).

Nor do the test helpers that serve the test models: they build them in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.servers import REPO

PROBE = """
import importlib, json, pkgutil, sys
import gateway
names = []
for info in pkgutil.walk_packages(gateway.__path__, "gateway."):
    if info.name == "gateway.modelserver" or info.name.startswith("gateway.modelserver."):
        continue
    importlib.import_module(info.name)
    names.append(info.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow")
print(json.dumps({"modules": names, "tf": loaded}))
"""


def test_gateway_modules_do_not_import_tensorflow() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "gateway.protos" in report["modules"]
    assert "gateway.cli" in report["modules"]
    assert report["tf"] == []


HELPERS_PROBE = """
import json, sys
import tests.conftest, tests.models, tests.servers
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow")))
"""


def test_test_model_helpers_do_not_import_tensorflow() -> None:
    result = subprocess.run(
        [sys.executable, "-c", HELPERS_PROBE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []

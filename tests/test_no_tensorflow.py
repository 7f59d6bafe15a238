"""The layering rules of DESIGN.md, checked on the import graph: only
gateway.modelserver imports TensorFlow, only core (and the ModelServer) imports
grpc, the codec imports neither aiohttp nor grpc, and fronts never import each
other. Nor do the test helpers that serve the test models import TensorFlow:
they build the models in a subprocess."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert "gateway.core.protos" in report["modules"]
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


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module an import statement in the file names (at any depth)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


GRAPH = {
    module_name(p): imports_of(p)
    for p in sorted((REPO / "gateway").rglob("*.py"))
    if "modelserver" not in p.parts
}


def under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def offenders(allowed: str, forbidden: str) -> list[str]:
    return sorted(
        f"{mod} imports {imp}"
        for mod, imps in GRAPH.items()
        if not under(mod, allowed)
        for imp in imps
        if under(imp, forbidden)
    )


def test_graph_covers_the_layers() -> None:
    layers = ("gateway.core", "gateway.edge", "gateway.codec", "gateway.codec.v2")
    for package in (*layers, "gateway.fronts.tfs", "gateway.fronts.v2", "gateway.fronts.console"):
        assert any(under(m, package) for m in GRAPH), package


def test_only_core_imports_grpc() -> None:
    assert offenders("gateway.core", "grpc") == []


def importers(package: str, forbidden: str) -> list[str]:
    """Modules of ``package`` that import ``forbidden``."""
    return sorted(
        f"{mod} imports {imp}"
        for mod, imps in GRAPH.items()
        if under(mod, package)
        for imp in imps
        if under(imp, forbidden)
    )


LOWER_LAYERS = [
    ("gateway.codec", forbidden)
    for forbidden in ("aiohttp", "grpc", "gateway.edge", "gateway.fronts", "gateway.app")
] + [
    ("gateway.core", forbidden)
    for forbidden in ("aiohttp", "gateway.edge", "gateway.fronts", "gateway.app")
]


@pytest.mark.parametrize(("package", "forbidden"), LOWER_LAYERS)
def test_lower_layers_know_nothing_above_them(package: str, forbidden: str) -> None:
    assert importers(package, forbidden) == []


def test_fronts_do_not_import_each_other() -> None:
    fronts = {m.split(".")[2] for m in GRAPH if m.startswith("gateway.fronts.")}
    assert {"tfs", "v2"} <= fronts
    bad = [
        f"{mod} imports {imp}"
        for mod, imps in GRAPH.items()
        if mod.startswith("gateway.fronts.")
        for imp in imps
        if imp.startswith("gateway.fronts.")
        and imp.split(".")[2] in fronts  # not the shared protocols of gateway.fronts itself
        and imp.split(".")[2] != mod.split(".")[2]
    ]
    assert bad == []

"""The Dockerfiles, read without Docker: base, user, port, health check, entry point,
and that every file they COPY exists and is not excluded by their .dockerignore.
"""

from __future__ import annotations

import fnmatch
import json
import shlex

import pytest

from gateway.config import Settings
from tests.deploy.manifests import (
    DEPLOY,
    REPO,
    copy_sources,
    dockerfile_instructions,
    final_stage,
)

DOCKERFILES = ("gateway", "modelserver", "models")


def instructions(name: str) -> list[tuple[str, str]]:
    return dockerfile_instructions(DEPLOY / f"{name}.Dockerfile")


def last(name: str, keyword: str) -> str:
    values = [rest for kw, rest in final_stage(instructions(name)) if kw == keyword]
    assert values, f"{name}.Dockerfile has no {keyword} in its final stage"
    return values[-1]


def ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics for the patterns used here: last match wins, ! re-includes."""
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, body) for p in prefixes):
            verdict = not negate
    return verdict


@pytest.mark.parametrize("name", DOCKERFILES)
def test_copied_files_exist_and_reach_the_build_context(name: str) -> None:
    ignore = DEPLOY / f"{name}.Dockerfile.dockerignore"
    patterns = [
        line.strip()
        for line in ignore.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignored(".venv/lib/x.py", patterns) and ignored(".git/HEAD", patterns)
    sources = copy_sources(instructions(name))
    assert sources
    for source in sources:
        path = source.rstrip("/")
        assert (REPO / path).exists(), source
        assert not ignored(path, patterns), f"{source} is excluded by {ignore.name}"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_images_run_as_a_non_root_user(name: str) -> None:
    user = last(name, "USER").split(":")[0]
    assert user.isdigit() and int(user) != 0


def test_gateway_image_is_slim_and_has_no_tensorflow_step() -> None:
    stages = [rest for kw, rest in instructions("gateway") if kw == "FROM"]
    assert all(s.split()[0] == "python:3.11-slim" for s in stages)
    steps = " ".join(rest for _, rest in instructions("gateway")).lower()
    assert "tensorflow" not in steps and "[modelserver]" not in steps
    runs = " ".join(rest for kw, rest in instructions("gateway") if kw == "RUN")
    assert "deploy/install-gateway.sh" in runs


def test_gateway_image_port_healthcheck_and_entrypoint() -> None:
    assert last("gateway", "EXPOSE") == str(Settings().port)
    options, _, exec_form = last("gateway", "HEALTHCHECK").partition(" CMD ")
    command = json.loads(exec_form)
    assert "--interval=" in options
    assert command[0] == "python" and command[1].endswith("/healthcheck.py")
    copies = [shlex.split(rest) for kw, rest in instructions("gateway") if kw == "COPY"]
    assert ["deploy/healthcheck.py", command[1]] in [c[-2:] for c in copies]
    assert json.loads(last("gateway", "ENTRYPOINT")) == ["tfs-gateway", "serve"]


def test_modelserver_image_serves_the_demo_models_on_8500() -> None:
    runs = " ".join(rest for kw, rest in instructions("modelserver") if kw == "RUN")
    assert "deploy/install-modelserver.sh" in runs
    assert last("modelserver", "EXPOSE") == "8500"
    cmd = json.loads(last("modelserver", "CMD"))
    assert "--port=8500" in cmd and "--model_config_file=/config/models.config" in cmd
    copies = [shlex.split(rest)[-2:] for kw, rest in instructions("modelserver") if kw == "COPY"]
    assert ["demo/models/", "/models/"] in copies
    assert ["deploy/compose/models.config", "/config/models.config"] in copies

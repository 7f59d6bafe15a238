"""Schemathesis against the demo's OpenAPI document (every model, deployment and the
gateway's own endpoints): generated requests, valid and invalid, never get a 5xx, and
every answer matches its documented status, content type and schema.

Bounded: at most 20 cases per operation and phase, fixed seed, about a minute. The
checks that compare the server's strictness with the schema's are left out on purpose:
the schemas are lenient where TF Serving is (any shape, any features), so a body can be
valid yet refused by the model, and the server refuses what JSON Schema cannot express
(ragged tensors, mixed feature kinds)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


def test_schemathesis_finds_nothing(demo_gateway: str, artifacts: Path) -> None:
    cli = Path(sys.executable).with_name("schemathesis")
    command = [
        str(cli),
        "run",
        f"{demo_gateway}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "20",
        "--seed",
        "20261127",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(artifacts / "schemathesis"),
    ]
    # Run inside the artifacts folder: schemathesis keeps a cache folder in its cwd.
    done = subprocess.run(
        command, cwd=artifacts, capture_output=True, text=True, timeout=600, check=False
    )
    (artifacts / "schemathesis.log").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failure" not in done.stdout.split("SUMMARY")[-1]

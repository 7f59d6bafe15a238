"""CI's short fuzz budget: ``scripts/fuzz --seconds 60`` (every target, about a minute in
all) must end without a crash. Found inputs are left in the temporary results folder and
named in the failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.targets import TARGETS

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 60


@pytest.mark.slow
def test_short_fuzz_run_finds_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(
        ["scripts/fuzz", "--seconds", str(BUDGET_S), "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUDGET_S * 5,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(TARGETS)} passed, 0 failed" in proc.stdout, proc.stdout

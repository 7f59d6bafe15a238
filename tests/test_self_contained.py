"""A clone passes alone: no file of the repository refers to the checkout's surroundings.

The test models once came from a directory beside the repository; the project now builds
its own (``tests.models``). This test keeps it that way: no tracked (or new, unignored)
file may name that directory.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.servers import REPO

# Built from pieces, so that this file does not match itself.
FORBIDDEN = ("../" + "shared", "shared" + "/testdata")


def repository_files() -> list[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: no list of the repository's files")
    result = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return [name for name in result.stdout.decode().split("\0") if name]


def test_no_file_refers_to_a_directory_beside_the_repository() -> None:
    offenders = []
    for name in repository_files():
        path = REPO / name
        if not path.is_file():  # deleted in the work tree, or a submodule
            continue
        data = path.read_bytes()
        offenders += [f"{name}: {p}" for p in FORBIDDEN if p.encode() in data]
    assert offenders == []

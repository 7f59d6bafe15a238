"""Version directories and version policies, as TF Serving's file-system source reads them.

A model's versions are the numeric directory names under its ``base_path``
(``00000123`` is version 123). The policy picks the *aspired* versions:
``latest { num_versions }`` (default 1 newest), ``all {}`` or
``specific { versions }``.
"""

from __future__ import annotations

import os
from typing import Any


def versions_on_disk(base_path: str) -> dict[int, str] | None:
    """Version number -> directory, for every numeric directory under ``base_path``;
    None when ``base_path`` cannot be listed (missing, not a directory, no access)."""
    try:
        entries = os.listdir(base_path)
    except OSError:
        return None
    found: dict[int, str] = {}
    for entry in sorted(entries):
        path = os.path.join(base_path, entry)
        if entry.isdigit() and os.path.isdir(path):
            found.setdefault(int(entry), path)
    return found


def aspired_versions(policy: Any, on_disk: set[int]) -> set[int]:
    """The versions the policy wants loaded, among those on disk."""
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return set(on_disk)
    if choice == "specific":
        return set(policy.specific.versions) & on_disk
    count = policy.latest.num_versions if choice == "latest" else 0
    return set(sorted(on_disk)[-(count or 1) :])

"""The compiled descriptor set is fresh, and protos/ matches upstream's wire interface."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from google.protobuf import descriptor

from gateway.core import protos
from tests.servers import REPO


def test_descriptor_set_is_not_stale(tmp_path: Path) -> None:
    fresh = tmp_path / "tfs_api.binpb"
    subprocess.run(
        ["scripts/gen-protos", str(fresh)],
        cwd=REPO,
        check=True,
        timeout=120,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
    )
    committed = (REPO / "gateway" / "core" / protos.DESCRIPTOR_SET).read_bytes()
    assert fresh.read_bytes() == committed, "run scripts/gen-protos and commit the result"


# Runs in a child process: the official modules register TensorFlow's protos.
OFFICIAL = """
import json
from google.protobuf import descriptor_pool
import tensorflow_serving.apis.prediction_service_pb2
import tensorflow_serving.apis.model_service_pb2
import tensorflow_serving.config.model_server_config_pb2
from tensorflow.core.protobuf import error_codes_pb2
pool = descriptor_pool.Default()
names = json.loads(input())
out = {}
for kind, name in names:
    try:
        d = pool.FindMessageTypeByName(name) if kind == "m" else pool.FindEnumTypeByName(name)
    except KeyError:
        continue
    if kind == "m":
        out[name] = sorted([f.name, f.number, f.type, f.is_repeated, f.json_name,
                            f.message_type.full_name if f.message_type else "",
                            f.enum_type.full_name if f.enum_type else ""] for f in d.fields)
    else:
        out[name] = sorted([v.name, v.number] for v in d.values)
print(json.dumps(out))
"""


def _ours() -> dict[str, Any]:
    found: dict[str, Any] = {}

    def message(d: descriptor.Descriptor) -> None:
        found[d.full_name] = sorted(
            [
                f.name,
                f.number,
                f.type,
                f.is_repeated,
                f.json_name,
                f.message_type.full_name if f.message_type else "",
                f.enum_type.full_name if f.enum_type else "",
            ]
            for f in d.fields
        )
        for nested in d.nested_types:
            message(nested)
        for enum in d.enum_types:
            found[enum.full_name] = sorted([v.name, v.number] for v in enum.values)

    for file_name in _project_files():
        fd = protos.POOL.FindFileByName(file_name)
        for d in fd.message_types_by_name.values():
            message(d)
        for enum in fd.enum_types_by_name.values():
            found[enum.full_name] = sorted([v.name, v.number] for v in enum.values)
    return found


def _project_files() -> list[str]:
    root = REPO / "protos"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.proto"))


def test_messages_match_official_descriptors() -> None:
    ours = _ours()
    names = [
        ["e" if isinstance(v[0][0], str) and len(v[0]) == 2 else "m", k]
        for k, v in ours.items()
        if v
    ]
    result = subprocess.run(
        [sys.executable, "-c", OFFICIAL],
        input=json.dumps(names),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
        env=None,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    official = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(official) > 40  # the comparison really covered the API
    mismatched = sorted(name for name, fields in official.items() if ours[name] != fields)
    assert mismatched == []

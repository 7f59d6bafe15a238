"""A model's new version with other signatures is picked up without a restart,
and the gateway's cached signatures never fail a request (issue: signature cache).

No timing is assumed: the new version may become AVAILABLE any time after the first
request, even a few milliseconds later (signatures fetched before a request arrived
are refetched when it fails on them).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.gateway_proc import running_gateway
from tests.http import get, post
from tests.servers import model_status, running_modelserver, wait_for

DEMO = Path(__file__).resolve().parents[2] / "demo" / "models"


def test_new_version_with_other_inputs_is_served_at_once(tmp_path: Path) -> None:
    base = tmp_path / "model"
    shutil.copytree(DEMO / "half_plus_two" / "1", base / "1")
    args = [
        "--model_name=m",
        f"--model_base_path={base}",
        "--file_system_poll_wait_seconds=1",
    ]
    with (
        running_modelserver(args, wait_models=["m"]) as (_, target),
        # A long TTL: only the gateway's own staleness handling can save the request.
        running_gateway(f"--model-server={target}", "--workers=1", "--signature-ttl-s=3600") as (
            _,
            url,
        ),
    ):
        first = post(url, "/v1/models/m:predict", {"instances": [{"x": 2.0}]})
        assert first.status == 200 and first.json() == {"predictions": [3.0]}

        # Version 2 is a different model: its input is `images` (784 floats), not `x`.
        # It appears at once (copied beside, then renamed), as TF Serving's docs ask:
        # a poll that saw a half-copied directory would fail the version for good.
        shutil.copytree(DEMO / "mnist" / "1", tmp_path / "staging")
        (tmp_path / "staging").rename(base / "2")
        wait_for(lambda: model_status(target, "m") == {2: "AVAILABLE", 1: "END"}, timeout_s=60)

        second = post(url, "/v1/models/m:predict", {"instances": [{"images": [0.0] * 784}]})
        assert second.status == 200, second.body
        assert len(second.json()["predictions"][0]) == 10
        meta = get(url, "/v1/models/m/metadata").json()
        assert meta["model_spec"]["version"] == "2"

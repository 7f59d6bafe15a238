"""A gateway process in front of the shared bundled ModelServer (five test models)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gateway_proc import running_gateway

DEPLOYMENTS = {
    "dep-default": "default",
    "dep-2v": "saved_model_half_plus_two_2_versions",
    "dep-tf2": "half_plus_two_tf2",
}


@pytest.fixture(scope="session")
def gateway_url(modelserver_target: str) -> Iterator[str]:
    args = [f"--model-server={modelserver_target}", "--workers=1", "--access-log=false"]
    args += [f"--deployment={ident}={model}" for ident, model in DEPLOYMENTS.items()]
    with running_gateway(*args) as (_, url):
        yield url

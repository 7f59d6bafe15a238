"""Version polling, policies, labels and HandleReloadConfigRequest on a private server."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import text_format

from gateway.core import protos
from tests.modelserver.requests import float_tensor, predict_request, rpc_error
from tests.servers import (
    call,
    model_status,
    server_lines,
    start_modelserver,
    stop_modelserver,
    wait_available,
    wait_for,
)

SOURCE = "saved_model_half_plus_two_2_versions"
INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def model_root(tfs_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the two-version model holding only version 123."""
    root = tmp_path_factory.mktemp("versions") / "m"
    root.mkdir()
    shutil.copytree(tfs_models / SOURCE / "00000123", root / "00000123")
    return root


def add_version(root: Path, tfs_models: Path, version: str) -> None:
    # Copy beside, then rename: the poller must never see a half-copied version.
    staging = root.parent / f"staging-{version}"
    shutil.copytree(tfs_models / SOURCE / version, staging)
    staging.rename(root / version)


def config_text(root: Path, extra: str = "", name: str = "m") -> str:
    return (
        f'model_config_list {{ config {{ name: "{name}" base_path: "{root}" '
        f'model_platform: "tensorflow" {extra} }} }}'
    )


@pytest.fixture(scope="module")
def poll_server(model_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = tmp_path_factory.mktemp("cfg") / "models.config"
    config.write_text(config_text(model_root))
    args = [
        "--model_config_file",
        str(config),
        "--file_system_poll_wait_seconds",
        "0.2",
        "--allow_version_labels_for_unavailable_models=true",
    ]
    proc, target = start_modelserver(args, wait_models=["m"])
    yield target
    assert stop_modelserver(proc) == 0  # SIGTERM is a graceful stop


def reload(target: str, text: str) -> Any:
    request = protos.ReloadConfigRequest()
    text_format.Parse(text, request.config)
    return call(target, "HandleReloadConfigRequest", request)


def reload_error(target: str, text: str) -> tuple[grpc.StatusCode, str]:
    request = protos.ReloadConfigRequest()
    text_format.Parse(text, request.config)
    return rpc_error(target, "HandleReloadConfigRequest", request)


def served_version(target: str, **kwargs: Any) -> int:
    response = call(
        target, "Predict", predict_request("m", {"x": float_tensor([2.0], [1])}, **kwargs)
    )
    assert list(response.outputs["y"].float_val) == [3.0]
    version: int = response.model_spec.version.value
    return version


def wait_status(target: str, expected: dict[int, str]) -> None:
    wait_for(lambda: model_status(target, "m") == expected, timeout_s=30)


def test_polling_loads_new_version_then_unloads_old(
    poll_server: str, model_root: Path, tfs_models: Path
) -> None:
    assert reload(poll_server, config_text(model_root)).status.error_code == 0
    wait_status(poll_server, {123: "AVAILABLE"})
    add_version(model_root, tfs_models, "00000124")
    wait_status(poll_server, {124: "AVAILABLE", 123: "END"})
    assert served_version(poll_server) == 124
    # Highest version first in the status list.
    assert list(model_status(poll_server, "m")) == [124, 123]
    assert rpc_error(poll_server, "Predict", predict_request("m", {}, version=123)) == (
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Specific(m, 123)",
    )


def test_policies_and_labels(poll_server: str, model_root: Path, tfs_models: Path) -> None:
    if not (model_root / "00000124").exists():
        add_version(model_root, tfs_models, "00000124")
    reload(poll_server, config_text(model_root, "model_version_policy { all {} }"))
    wait_status(poll_server, {124: "AVAILABLE", 123: "AVAILABLE"})
    labels = (
        'version_labels { key: "stable" value: 123 } version_labels { key: "canary" value: 124 }'
    )
    reload(poll_server, config_text(model_root, "model_version_policy { all {} } " + labels))
    assert served_version(poll_server, label="stable") == 123
    assert served_version(poll_server, label="canary") == 124
    assert served_version(poll_server) == 124

    specific = "model_version_policy { specific { versions: 123 } } "
    reload(
        poll_server,
        config_text(model_root, specific + 'version_labels { key: "stable" value: 123 }'),
    )
    wait_status(poll_server, {124: "END", 123: "AVAILABLE"})
    assert served_version(poll_server) == 123
    assert rpc_error(poll_server, "Predict", predict_request("m", {}, label="canary")) == (
        INVALID,
        "Unrecognized servable version label: canary",
    )
    # Even with the flag, an existing label may not move to an unavailable version.
    assert reload_error(
        poll_server,
        config_text(model_root, specific + 'version_labels { key: "stable" value: 124 }'),
    ) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "Request to assign label to version 124 of model m, which is not currently available "
        "for inference",
    )
    # A new label may point to an unavailable version with the flag.
    reload(
        poll_server, config_text(model_root, specific + 'version_labels { key: "next" value: 124 }')
    )
    assert rpc_error(poll_server, "Predict", predict_request("m", {}, label="next")) == (
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Specific(m, 124)",
    )


def test_reload_adds_and_removes_models(
    poll_server: str, model_root: Path, tfs_models: Path
) -> None:
    other = tfs_models / "saved_model_half_plus_three"
    both = config_text(model_root)[: -len(" }")] + (
        f' config {{ name: "three" base_path: "{other}" model_platform: "tensorflow" }} }}'
    )
    reload(poll_server, both)
    # Reload answers once new models are available.
    assert model_status(poll_server, "three") == {123: "AVAILABLE"}
    reload(poll_server, config_text(other, name="three"))
    wait_for(lambda: set(model_status(poll_server, "m").values()) == {"END"})
    assert rpc_error(poll_server, "Predict", predict_request("m", {})) == (
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Latest(m)",
    )
    reload(poll_server, config_text(model_root))
    wait_for(lambda: "AVAILABLE" in model_status(poll_server, "m").values())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'model_config_list { config { name: "a" base_path: "/x" model_platform: "tensorflow" }'
            ' config { name: "a" base_path: "/y" model_platform: "tensorflow" } }',
            "Illegal to list model a multiple times in config list",
        ),
        (
            'model_config_list { config { name: "a" base_path: "rel" '
            'model_platform: "tensorflow" } }',
            "Expected model a to have an absolute path or URI; got base_path()=rel",
        ),
        (
            'model_config_list { config { name: "a" base_path: "/x" model_platform: "onnx" } }',
            "Model a requests unsupported platform onnx",
        ),
        (
            'model_config_list { config { name: "a" base_path: "/x" } }',
            "Illegal setting neither ModelServerConfig::model_type (deprecated) nor "
            "ModelServerConfig::model_platform.",
        ),
        (
            "",
            "ServerModelConfig type not supported by HandleReloadConfigRequest. Only "
            "ModelConfigList is currently supported",
        ),
    ],
)
def test_reload_errors(poll_server: str, text: str, message: str) -> None:
    assert reload_error(poll_server, text) == (INVALID, message)


def test_label_at_startup_needs_flag(models_config: Path) -> None:
    with pytest.raises(RuntimeError) as info:
        proc, _ = start_modelserver(["--model_config_file", str(models_config)])
        stop_modelserver(proc)
    assert "modelserver exited with 1" in str(info.value)
    assert (
        "Failed to start server. Error: FAILED_PRECONDITION: Request to assign label to version "
        "123 of model saved_model_half_plus_two_2_versions, which is not currently available "
        "for inference"
    ) in str(info.value)


def test_missing_and_empty_base_paths_are_warned_about_each_poll(
    tfs_models: Path, tmp_path: Path
) -> None:
    """TF Serving's warnings, at most once per poll and model; a base path that goes
    missing keeps its loaded versions (TF Serving's poll fails and changes nothing)."""
    real, empty, ghost = tmp_path / "real", tmp_path / "empty", tmp_path / "ghost"
    real.mkdir()
    empty.mkdir()
    add_version(real, tfs_models, "00000123")
    config = tmp_path / "models.config"
    config.write_text(
        "model_config_list { "
        + " ".join(
            f'config {{ name: "{path.name}" base_path: "{path}" model_platform: "tensorflow" }}'
            for path in (real, empty, ghost)
        )
        + " }"
    )
    interval_s = 0.2
    started = time.monotonic()
    args = ["--model_config_file", str(config), f"--file_system_poll_wait_seconds={interval_s}"]
    proc, target = start_modelserver(args, wait_models=["real"])
    try:
        missing = f"Could not find base path {ghost} for servable ghost"
        no_versions = (
            f"No versions of servable empty found under base path {empty}. "
            "Did you forget to name your leaf directory as a number (eg. '/1/')?"
        )

        def count(text: str) -> int:
            return sum(text in line and "WARNING" in line for line in server_lines(proc))

        wait_for(lambda: count(missing) >= 3 and count(no_versions) >= 3)
        polls = (time.monotonic() - started) / interval_s + 1  # at most; plus the first pass
        assert count(missing) <= polls and count(no_versions) <= polls

        # A version appears: the warning about `empty` stops while `ghost` goes on.
        add_version(empty, tfs_models, "00000123")
        wait_available(target, "empty")
        quiet, seen = count(no_versions), count(missing)
        wait_for(lambda: count(missing) >= seen + 3)
        assert count(no_versions) <= quiet + 1  # the poll that was under way

        # The base path of a loaded model goes away: it is warned about, not unloaded.
        real.rename(tmp_path / "elsewhere")
        gone = f"Could not find base path {real} for servable real"
        wait_for(lambda: count(gone) >= 2)
        assert model_status(target, "real") == {123: "AVAILABLE"}
        assert call(target, "Predict", predict_request("real", {"x": float_tensor([2.0], [1])}))
    finally:
        stop_modelserver(proc)

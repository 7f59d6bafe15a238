"""The Open Inference Protocol's URL grammar (compatibility.md §12.1), matched
case-sensitively on the raw path without its query string, as Triton does::

    GET  /v2
    GET  /v2/health/live
    GET  /v2/health/ready
    GET  /v2/models/<name>[/versions/<version>]
    GET  /v2/models/<name>[/versions/<version>]/ready
    POST /v2/models/<name>[/versions/<version>]/infer
    POST /v2/repository/index

``<name>`` is one segment, percent-decoded; a configured deployment id stands
for its model (as under ``/model-serving/``). ``<version>`` is decimal digits.
Any other path under ``/v2`` is 404; a path of the grammar with the other
method is 405.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote

from gateway.core.calls import Target
from gateway.core.errors import Code, GatewayError, invalid_argument

INT64_MAX = 2**63 - 1

SERVER_METADATA = "server_metadata"
LIVE = "live"
READY = "ready"
MODEL_METADATA = "model_metadata"
MODEL_READY = "model_ready"
INFER = "infer"
REPOSITORY_INDEX = "repository_index"
# Not an endpoint: the path is one, the method is not (answered 405).
WRONG_METHOD = "wrong_method"

# Server-wide paths: path -> (method, verb).
_FIXED: dict[str, tuple[str, str]] = {
    "/v2": ("GET", SERVER_METADATA),
    "/v2/health/live": ("GET", LIVE),
    "/v2/health/ready": ("GET", READY),
    "/v2/repository/index": ("POST", REPOSITORY_INDEX),
}
_MODEL = re.compile(r"/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<tail>/\w+)?")
# Model paths: tail -> (method, verb).
_TAILS: dict[str | None, tuple[str, str]] = {
    None: ("GET", MODEL_METADATA),
    "/ready": ("GET", MODEL_READY),
    "/infer": ("POST", INFER),
}


def path_of(raw_path: str) -> str:
    return raw_path.partition("?")[0]


def is_v2_path(raw_path: str) -> bool:
    path = path_of(raw_path)
    return path == "/v2" or path.startswith("/v2/")


def not_found() -> GatewayError:
    return GatewayError(Code.NOT_FOUND, "Not Found")


def parse(method: str, raw_path: str, deployments: Mapping[str, str]) -> Target:
    """The target of a ``/v2`` request; 404 outside the grammar."""
    path = path_of(raw_path)
    fixed = _FIXED.get(path)
    if fixed is not None:
        return _checked(method, fixed, Target("", fixed[1]))
    match = _MODEL.fullmatch(path)
    if match is None or match["tail"] not in _TAILS:
        raise not_found()
    expected = _TAILS[match["tail"]]
    name = unquote(match["name"], errors="replace")
    model = deployments.get(name)
    target = Target(
        model=name if model is None else model,
        verb=expected[1],
        version=_version(match["version"]),
        deployment=None if model is None else name,
    )
    return _checked(method, expected, target)


def _checked(method: str, expected: tuple[str, str], target: Target) -> Target:
    return target if method == expected[0] else Target("", WRONG_METHOD)


def allowed_method(raw_path: str) -> str:
    """The one method a path of the grammar takes."""
    path = path_of(raw_path)
    fixed = _FIXED.get(path)
    if fixed is not None:
        return fixed[0]
    match = _MODEL.fullmatch(path)
    return _TAILS[match["tail"] if match else None][0]


def _version(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isdigit() and text.isascii()) or int(text) > INT64_MAX:
        raise invalid_argument(f"The model version must be a decimal number, not {text!r}")
    return int(text)

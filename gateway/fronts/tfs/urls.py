"""The two URL grammars, matched on the raw path (compatibility.md §§1, 9.6).

TF Serving form, matched case-insensitively and in full against the raw,
still percent-encoded path *including* the query string::

    POST /v1/models/<name>[/versions/<digits> | /labels/<label>]:(classify|regress|predict)
    GET  /v1/models[/<name>][/versions/<digits> | /labels/<label>][/metadata]

Paperspace Gradient form, the same verbs under a deployment id that the
gateway maps to a model name::

    POST /model-serving/<id>[/versions/<digits>]:(classify|regress|predict)
    GET  /model-serving/<id>[/versions/<digits>][/metadata]

``<name>``, ``<label>`` and ``<id>`` are one or more characters other than
``/`` and ``:``, percent-decoded after the split (``+`` stays ``+``). The regex
is case-insensitive but dispatch is not: ``:PREDICT`` is malformed and
``/METADATA`` answers status, as TF Serving does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote

from gateway.core.calls import Target
from gateway.core.errors import Code, GatewayError, invalid_argument

INT64_MAX = 2**63 - 1

# Verbs a Target can carry: the three POST APIs and the two GET APIs.
POST_VERBS = ("classify", "regress", "predict")
STATUS = "status"
METADATA = "metadata"

_SEGMENT = r"[^/:]+"
_VERSION = r"/versions/(?P<version>\d+)"
_LABEL = rf"/labels/(?P<label>{_SEGMENT})"
_POST_TAIL = rf":(?P<verb>{_SEGMENT})"
_GET_TAIL = r"(?:/(?P<sub>metadata))?"


def _grammar(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_TFS_POST = _grammar(rf"/v1/models/(?P<name>{_SEGMENT})(?:{_VERSION}|{_LABEL})?{_POST_TAIL}")
_TFS_GET = _grammar(rf"/v1/models(?:/(?P<name>{_SEGMENT}))?(?:{_VERSION}|{_LABEL})?{_GET_TAIL}")
_PS_POST = _grammar(rf"/model-serving/(?P<name>{_SEGMENT})(?:{_VERSION})?{_POST_TAIL}")
_PS_GET = _grammar(rf"/model-serving/(?P<name>{_SEGMENT})(?:{_VERSION})?{_GET_TAIL}")

# Which raw paths belong to which grammar (TF Serving hands `/v1/...` to its
# REST handler case-insensitively; everything else is not its business).
_TFS_PREFIX = re.compile(r"/v1/", re.I)
_PS_PREFIX = re.compile(r"/model-serving/", re.I)


def is_tfs_path(raw_path: str) -> bool:
    return _TFS_PREFIX.match(raw_path) is not None


def is_paperspace_path(raw_path: str) -> bool:
    return _PS_PREFIX.match(raw_path) is not None


def malformed(method: str, raw_path: str) -> GatewayError:
    return invalid_argument(f"Malformed request: {method} {raw_path}")


def parse_tfs(method: str, raw_path: str) -> Target:
    """Parse a ``/v1/...`` request; raises GatewayError with TF Serving's texts."""
    if method == "POST":
        match = _TFS_POST.fullmatch(raw_path)
        if match is None or match["verb"] not in POST_VERBS:
            raise malformed(method, raw_path)
        return _target(match, match["verb"], _decode(match["name"]))
    if method == "GET":
        match = _TFS_GET.fullmatch(raw_path)
        if match is None:
            raise malformed(method, raw_path)
        if match["name"] is None:
            raise invalid_argument("Missing model name in request.")
        return _target(match, _get_verb(match["sub"]), _decode(match["name"]))
    raise malformed(method, raw_path)


def parse_paperspace(method: str, raw_path: str, deployments: Mapping[str, str]) -> Target:
    """Parse a ``/model-serving/...`` request and resolve its deployment id."""
    if method == "POST":
        match = _PS_POST.fullmatch(raw_path)
        if match is None or match["verb"] not in POST_VERBS:
            raise malformed(method, raw_path)
        verb = match["verb"]
    elif method == "GET":
        match = _PS_GET.fullmatch(raw_path)
        if match is None:
            raise malformed(method, raw_path)
        verb = _get_verb(match["sub"])
    else:
        raise malformed(method, raw_path)
    deployment = _decode(match["name"])
    model = deployments.get(deployment)
    if model is None:
        raise GatewayError(Code.NOT_FOUND, f"Could not find deployment: {deployment}")
    return _target(match, verb, model, deployment)


def _get_verb(sub: str | None) -> str:
    # Dispatch is case-sensitive: `/METADATA` matched the regex but answers status.
    return METADATA if sub == METADATA else STATUS


def _target(match: re.Match[str], verb: str, model: str, deployment: str | None = None) -> Target:
    groups = match.groupdict()
    label = groups.get("label")
    return Target(
        model=model,
        verb=verb,
        version=_version(match["version"]),
        label=None if label is None else _decode(label),
        deployment=deployment,
    )


def _version(digits: str | None) -> int | None:
    if digits is None:
        return None
    value = int(digits)
    if value > INT64_MAX:
        raise invalid_argument(f"Failed to convert version: {digits} to numeric.")
    return value


def _decode(segment: str) -> str:
    # curl-style unescape: %XX only; '+' is not a space.
    return unquote(segment, errors="replace")

"""Server metadata, model metadata, readiness and the repository index
(compatibility.md §§12.1, 12.2)::

    GET  /v2                 {"name": "tfs-gateway", "version": "...", "extensions": [...]}
    GET  /v2/health/ready    {"ready": true}
    GET  /v2/models/<m>      {"name": "m", "versions": ["1", "2"],
                              "platform": "tensorflow_savedmodel",
                              "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 1]}],
                              "outputs": [...]}
    GET  /v2/models/<m>/ready  {"name": "m", "ready": true}
    POST /v2/repository/index  [{"name": "m", "version": "1", "state": "READY"}, ...]

Model metadata describes one signature (``serving_default`` unless the query
names another): a dimension of unknown size is -1, a shape of unknown rank
``[-1]``. Versions are the model's AVAILABLE ones, as strings. The index
request body is empty or ``{"ready": bool}``; states are Triton's words.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import orjson

from gateway.codec.v2 import datatypes as dts
from gateway.core import protos
from gateway.core.errors import GatewayError, invalid_argument

PLATFORM = "tensorflow_savedmodel"
DEFAULT_SIGNATURE = "serving_default"
AVAILABLE = "AVAILABLE"

# TF Serving's version states -> Triton's model states.
TRITON_STATES = {
    "UNKNOWN": "UNAVAILABLE",
    "START": "LOADING",
    "LOADING": "LOADING",
    "AVAILABLE": "READY",
    "UNLOADING": "UNLOADING",
    "END": "UNAVAILABLE",
}


def server_metadata_to_json(name: str, version: str, extensions: list[str]) -> bytes:
    return orjson.dumps({"name": name, "version": version, "extensions": extensions})


def signature_defs(metadata_response: Any) -> Mapping[str, Any]:
    """The SignatureDefs packed in a GetModelMetadataResponse."""
    sigmap = protos.SignatureDefMap()
    packed = metadata_response.metadata.get("signature_def")
    if packed is not None:
        packed.Unpack(sigmap)
    defs: Mapping[str, Any] = sigmap.signature_def
    return defs


def no_such_signature(model: str, name: str, known: Collection[str]) -> GatewayError:
    names = ", ".join(sorted(known)) or "none"
    return invalid_argument(
        f"model '{model}' has no signature '{name}'; its signatures: {names}"
        " (pick one with the signature_name parameter)"
    )


def signature_named(defs: Mapping[str, Any], name: str, model: str) -> Any:
    """One SignatureDef; 400 naming the model's signatures when it has no such one."""
    chosen = name or DEFAULT_SIGNATURE
    signature = defs.get(chosen)
    if signature is None:
        raise no_such_signature(model, chosen, defs)
    return signature


def model_metadata_to_json(
    model: str, versions: list[str], metadata_response: Any, signature_name: str
) -> bytes:
    signature = signature_named(signature_defs(metadata_response), signature_name, model)
    return orjson.dumps(
        {
            "name": model,
            "versions": versions,
            "platform": PLATFORM,
            "inputs": _tensors(signature.inputs),
            "outputs": _tensors(signature.outputs),
        }
    )


def _tensors(infos: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [_tensor(alias, infos[alias]) for alias in sorted(infos)]


def _tensor(alias: str, info: Any) -> dict[str, Any]:
    row = dts.BY_TF.get(info.dtype)
    return {
        "name": alias,
        # A type V2 cannot carry shows its TensorFlow name: a client sees why it cannot call.
        "datatype": row.name if row is not None else dts.tf_type_name(info.dtype),
        "shape": _shape(info),
    }


def _shape(info: Any) -> list[int]:
    if not info.HasField("tensor_shape") or info.tensor_shape.unknown_rank:
        return [-1]
    return [d.size for d in info.tensor_shape.dim]


def available_versions(status_response: Any) -> list[str]:
    return [
        str(v.version)
        for v in status_response.model_version_status
        if protos.ModelState.values_by_number[v.state].name == AVAILABLE
    ]


def version_states(status_response: Any) -> dict[str, str]:
    """Version -> TF Serving state name."""
    return {
        str(v.version): protos.ModelState.values_by_number[v.state].name
        for v in status_response.model_version_status
    }


def model_ready_to_json(model: str) -> bytes:
    return orjson.dumps({"name": model, "ready": True})


def index_request_from_json(body: bytes) -> bool:
    """The index request: empty, or ``{"ready": bool}`` (True: list ready models only)."""
    if not body.strip():
        return False
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise invalid_argument(f"The index request is not valid JSON: {exc}") from None
    ready = doc.get("ready", False) if isinstance(doc, dict) else None
    if not isinstance(ready, bool):
        raise invalid_argument('The index request must be {} or {"ready": true|false}')
    return ready


def repository_index_to_json(models: Mapping[str, Any], ready_only: bool) -> bytes:
    """Triton's index from {model: {"versions": [{version, state}]} or {"error": ...}}."""
    rows: list[dict[str, str]] = []
    for name in sorted(models):
        rows.extend(_index_rows(name, models[name]))
    if ready_only:
        rows = [row for row in rows if row["state"] == "READY"]
    return orjson.dumps(rows)


def _index_rows(name: str, state: Mapping[str, Any]) -> list[dict[str, str]]:
    if "error" in state:
        return [{"name": name, "state": "UNAVAILABLE", "reason": state["error"]}]
    return [
        {"name": name, "version": v["version"], "state": TRITON_STATES.get(v["state"], v["state"])}
        for v in state["versions"]
    ]

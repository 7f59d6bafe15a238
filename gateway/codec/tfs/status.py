"""Model status and metadata JSON (compatibility.md §8).

Both are protobuf's JSON printer with field names kept in snake_case and
fields without presence always printed (int64 as strings, enums by name).
Metadata is assembled by hand as TF Serving does::

    {"model_spec": <ModelSpec>, "metadata": {<key>: <unpacked Any>, ...}}
"""

from __future__ import annotations

from typing import Any

import orjson
from google.protobuf import json_format, message_factory

from gateway.core import protos

__all__ = ["model_metadata_to_json", "model_status_to_json"]


def _to_dict(message: Any) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        descriptor_pool=protos.POOL,
    )
    return result


def model_status_to_json(response: Any) -> bytes:
    """protos.GetModelStatusResponse -> {"model_version_status": [...]} (compatibility.md §8.1)."""
    return orjson.dumps(_to_dict(response))


def model_metadata_to_json(response: Any) -> bytes:
    """GetModelMetadataResponse -> {"model_spec": ..., "metadata": ...} (compatibility.md §8.2)."""
    metadata = {key: _to_dict(_unpack(value)) for key, value in response.metadata.items()}
    return orjson.dumps({"model_spec": _to_dict(response.model_spec), "metadata": metadata})


def _unpack(any_message: Any) -> Any:
    type_name = any_message.type_url.rpartition("/")[2]
    descriptor = protos.POOL.FindMessageTypeByName(type_name)
    message = message_factory.GetMessageClass(descriptor)()
    message.ParseFromString(any_message.value)
    return message

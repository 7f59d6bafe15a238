"""The TF Serving front's part of the OpenAPI documents: for one model, its
predict, classify, regress, status and metadata paths in the form the subject
names (``/v1/models/<name>[/versions/<n>|/labels/<l>]`` or
``/model-serving/<id>[/versions/<n>]``), and ``GET /v1/models``."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from gateway.codec.schema import ERROR_SCHEMA
from gateway.codec.tfs import openapi as schemas
from gateway.fronts import ApiPart, ApiSubject

ERROR_REF = {"$ref": "#/components/schemas/Error"}
JSON = "application/json"


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


def responses(ok: dict[str, Any], description: str) -> dict[str, Any]:
    error = {"description": "An error", "content": json_content(ERROR_REF)}
    return {
        "200": {"description": description, "content": json_content(ok)},
        "4XX": error,
        "5XX": error,
    }


def base_path(subject: ApiSubject) -> str:
    """The subject's URL stem; names are percent-encoded (compatibility.md §1)."""
    if subject.deployment is not None:
        base = f"/model-serving/{quote(subject.deployment, safe='')}"
    else:
        base = f"/v1/models/{quote(subject.model, safe='')}"
        if subject.label is not None:
            return f"{base}/labels/{quote(subject.label, safe='')}"
    return base if subject.version is None else f"{base}/versions/{subject.version}"


def subject_tag(subject: ApiSubject) -> str:
    if subject.deployment is not None:
        return f"deployment {subject.deployment}"
    return f"model {subject.model}"


def operation_id(path: str, verb: str) -> str:
    return "tfs_" + re.sub(r"[^A-Za-z0-9]+", "_", path.strip("/")) + "_" + verb


def request_body(schema: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if examples:
        media["examples"] = {name: {"summary": name, "value": v} for name, v in examples.items()}
    return {"required": True, "content": {JSON: media}}


def post(path: str, verb: str, tag: str, summary: str, body: Any, ok: Any) -> dict[str, Any]:
    return {
        "post": {
            "operationId": operation_id(path, verb),
            "tags": [tag],
            "summary": summary,
            "requestBody": body,
            "responses": responses(ok, f"{verb} results"),
        }
    }


def get(path: str, verb: str, tag: str, summary: str, ok: Any) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id(path, verb),
            "tags": [tag],
            "summary": summary,
            "responses": responses(ok, summary),
        }
    }


def model_part(subject: ApiSubject) -> ApiPart:
    """Predict, classify/regress (where a signature fits), status and metadata."""
    sigs, base, tag = subject.signatures, base_path(subject), subject_tag(subject)
    paths = {
        f"{base}:predict": post(
            f"{base}:predict",
            "predict",
            tag,
            "Predict, row (instances) or columnar (inputs) format",
            request_body(
                schemas.predict_request_schema(sigs), schemas.predict_request_examples(sigs)
            ),
            schemas.predict_response_schema(sigs),
        )
    }
    for verb in schemas.EXAMPLE_VERBS:
        if any(schemas.example_capable(sig, verb) for sig in sigs.values()):
            paths[f"{base}:{verb}"] = post(
                f"{base}:{verb}",
                verb,
                tag,
                f"{verb.capitalize()} tf.Examples (examples, optional context)",
                request_body(
                    schemas.examples_request_schema(sigs, verb),
                    schemas.examples_request_examples(sigs, verb),
                ),
                schemas.examples_response_schema(verb),
            )
    paths[base] = get(base, "status", tag, "Model status", schemas.STATUS_SCHEMA)
    paths[f"{base}/metadata"] = get(
        f"{base}/metadata", "metadata", tag, "Model metadata (signatures)", schemas.METADATA_SCHEMA
    )
    return ApiPart(
        paths=paths,
        schemas={"Error": ERROR_SCHEMA, **schemas.tensor_schemas_for(sigs)},
        tags=[{"name": tag, "description": subject_description(subject)}],
    )


def subject_description(subject: ApiSubject) -> str:
    where = f"model {subject.model}"
    if subject.version is not None:
        where += f", version {subject.version}"
    if subject.label is not None:
        where += f", label {subject.label}"
    if subject.deployment is not None:
        return f"Paperspace deployment {subject.deployment} ({where})"
    return f"TF Serving REST API of {where}"


LIST_MODELS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "models": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "backend": {"type": "string"},
                    "versions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "version": {"type": "string"},
                                "state": {"type": "string"},
                            },
                        },
                    },
                    "error": {"type": "string"},
                    "code": {"type": "string"},
                },
                "required": ["name", "backend"],
            },
        },
        "deployments": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"model": {"type": "string"}, "backend": {"type": "string"}},
            },
        },
    },
    "required": ["models", "deployments"],
}


def server_part() -> ApiPart:
    tag = "models"
    return ApiPart(
        paths={
            "/v1/models": get(
                "/v1/models",
                "list",
                tag,
                "The configured models and deployments, with their versions' states",
                LIST_MODELS_SCHEMA,
            )
        },
        schemas={"Error": ERROR_SCHEMA},
        tags=[{"name": tag, "description": "What the gateway serves"}],
    )

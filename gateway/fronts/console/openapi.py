"""The console's own endpoints as an OpenAPI part: the documents and the two JSON
endpoints the console page reads."""

from __future__ import annotations

from typing import Any

from gateway.codec.schema import ERROR_SCHEMA
from gateway.fronts import ApiPart

ERROR_REF = {"$ref": "#/components/schemas/Error"}
TAG = "console"

VERSIONS: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"version": {"type": "string"}, "state": {"type": "string"}},
        "required": ["version", "state"],
    },
}

MODELS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "auth": {"type": "boolean"},
        "models": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "sources": {
                        "type": "array",
                        "items": {"enum": ["configured", "embedded", "seen"]},
                    },
                    "backend": {"type": "string"},
                    "versions": VERSIONS,
                    "error": {"type": "string"},
                    "code": {"type": "string"},
                    "deployments": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["name", "sources", "backend", "deployments"],
            },
        },
        "deployments": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "model": {"type": "string"}},
                "required": ["id", "model"],
            },
        },
    },
    "required": ["auth", "models", "deployments"],
}

_RATE = {"type": "number", "minimum": 0}
_MS = {"type": ["number", "null"], "minimum": 0}

STATS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The answering worker's traffic to the model endpoints, in steps of "
    "step_s seconds over the last window_s seconds (oldest first)",
    "properties": {
        "scope": {"const": "worker"},
        "window_s": {"type": "integer"},
        "step_s": {"type": "integer"},
        "now": {"type": "integer", "description": "Unix time of the answer"},
        "points": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "t": {"type": "integer", "description": "Unix time the step starts"},
                    "requests_per_s": _RATE,
                    "client_error_rate": _RATE,
                    "server_error_rate": _RATE,
                    "p50_ms": _MS,
                    "p99_ms": _MS,
                },
                "required": ["t", "requests_per_s", "client_error_rate", "server_error_rate"],
            },
        },
    },
    "required": ["scope", "window_s", "step_s", "now", "points"],
}


def read(operation_id: str, summary: str, schema: dict[str, Any]) -> dict[str, Any]:
    error = {"description": "An error", "content": {"application/json": {"schema": ERROR_REF}}}
    return {
        "get": {
            "operationId": operation_id,
            "tags": [TAG],
            "summary": summary,
            "responses": {
                "200": {
                    "description": summary,
                    "content": {"application/json": {"schema": schema}},
                },
                "4XX": error,
                "5XX": error,
            },
        }
    }


def console_part() -> ApiPart:
    return ApiPart(
        paths={
            "/openapi.json": read(
                "openapi_document",
                "This document: every model and deployment the caller may use",
                {"type": "object", "required": ["openapi", "info", "paths"]},
            ),
            "/console/api/models": read(
                "console_models",
                "Every model the gateway knows (configured, embedded, seen answering)",
                MODELS_SCHEMA,
            ),
            "/console/api/stats": read(
                "console_stats", "Recent traffic for the live panel", STATS_SCHEMA
            ),
        },
        schemas={"Error": ERROR_SCHEMA},
        tags=[{"name": TAG, "description": "The web console's data and the documents"}],
    )

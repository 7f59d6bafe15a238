"""OpenAPI 3.1 documents, assembled from the parts the described fronts contribute.

A document is ``{"openapi": "3.1.0", "info", "paths", "components", "tags"}``; with
auth on it also names the schemes the gateway accepts (``X-API-Key``, Bearer, Basic)
and requires one of them everywhere except the configured open paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gateway import __version__
from gateway.config import AuthSettings
from gateway.fronts import ApiPart

OPENAPI_VERSION = "3.1.0"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def security_schemes(auth: AuthSettings) -> dict[str, Any]:
    schemes: dict[str, Any] = {}
    if auth.key_digests:
        schemes["ApiKey"] = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
        schemes["Bearer"] = {"type": "http", "scheme": "bearer"}
    if auth.user_digests:
        schemes["Basic"] = {"type": "http", "scheme": "basic"}
    return schemes


def document(title: str, description: str, part: ApiPart, auth: AuthSettings) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": __version__, "description": description},
        "paths": dict(sorted(part.paths.items())),
        "components": {"schemas": dict(sorted(part.schemas.items()))},
        "tags": part.tags,
    }
    schemes = security_schemes(auth)
    if schemes:
        doc["components"]["securitySchemes"] = schemes
        doc["security"] = [{name: []} for name in schemes]
        open_paths(doc["paths"], auth.open_paths)
    return doc


def open_paths(paths: dict[str, Any], opened: Iterable[str]) -> None:
    """Operations on open paths need no credentials (``security: []``)."""
    for path in opened:
        for method, operation in paths.get(path, {}).items():
            if method in _METHODS:
                operation["security"] = []


def merged(parts: Sequence[ApiPart]) -> ApiPart:
    out = ApiPart()
    for part in parts:
        out.merge(part)
    return out

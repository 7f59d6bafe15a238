"""Protocol fronts: each is a URL grammar, its handlers and its JSON codec over
the shared core. The app asks each front in turn whether it owns a path.

Two optional abilities, checked with ``isinstance``:

- ``PublicPaths``: paths that need no credentials even with auth on (static
  assets that hold no data).
- ``Described``: the front's part of the OpenAPI documents. The console front
  collects the parts of every described front (and of the operational endpoints)
  into ``/openapi.json`` and the per-model documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from gateway.core.calls import Body, Call, Incoming, Reply, Target
from gateway.core.signatures import SignatureSpec


class Front(Protocol):
    name: str

    def owns(self, raw_path: str) -> bool:
        """Whether this front's grammar covers the (raw, percent-encoded) path."""
        ...

    def target(self, incoming: Incoming) -> Target:
        """Parse the URL; GatewayError with the protocol's texts when it is malformed."""
        ...

    async def handle(self, target: Target, incoming: Incoming, body: Body, call: Call) -> Reply:
        """Run the endpoint the target names."""
        ...


@runtime_checkable
class PublicPaths(Protocol):
    def is_public(self, raw_path: str) -> bool:
        """Whether the path is served without credentials (it must hold no data)."""
        ...


@dataclass(frozen=True, slots=True)
class ApiSubject:
    """One model as a document describes it: by name (``/v1/models/<model>``) or by a
    deployment id (``/model-serving/<deployment>``), at a version or label or the
    latest, with the signatures its metadata declares."""

    model: str
    signatures: Mapping[str, SignatureSpec]
    version: int | None = None
    label: str | None = None
    deployment: str | None = None


@dataclass(slots=True)
class ApiPart:
    """A front's contribution to an OpenAPI document: paths, component schemas, tags."""

    paths: dict[str, Any] = field(default_factory=dict)
    schemas: dict[str, Any] = field(default_factory=dict)
    tags: list[dict[str, Any]] = field(default_factory=list)

    def merge(self, other: ApiPart) -> None:
        self.paths.update(other.paths)
        self.schemas.update(other.schemas)
        known = {tag["name"] for tag in self.tags}
        self.tags.extend(tag for tag in other.tags if tag["name"] not in known)


@runtime_checkable
class Described(Protocol):
    def openapi_server(self) -> ApiPart:
        """Paths that belong to no model (``GET /v1/models``, health endpoints, ...)."""
        ...

    def openapi_model(self, subject: ApiSubject) -> ApiPart:
        """The subject's paths in this front's URL forms (an empty part when the front
        has none for it, e.g. a deployment id in a protocol without deployments)."""
        ...

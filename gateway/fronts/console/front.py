"""The console front's URLs and handlers.

Paths (matched on the raw path without its query; a query is only read by the pages)::

    GET /                                   302 to /console/
    GET /console/, /console/<file>          the console (static, no credentials needed)
    GET /docs/, /docs/<file>                Swagger UI (static, no credentials needed)
    GET /console/api/models                 every model the gateway knows, with versions
    GET /console/api/stats                  this worker's recent traffic
    GET /openapi.json                       every model and deployment, and the server paths
    GET /v1/models/<m>[/versions/<n>|/labels/<l>]/openapi.json    one model
    GET /model-serving/<id>[/versions/<n>]/openapi.json           one deployment

The model documents are guarded like the model data they describe; ``/openapi.json``
and the model list show only what the caller may use. Pages are served with a
Content-Security-Policy that allows nothing but this origin.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson

from gateway.config import Settings
from gateway.core import embedded
from gateway.core.backends import Backends
from gateway.core.calls import Body, Call, Incoming, Reply, Target
from gateway.core.errors import Code, GatewayError, invalid_argument
from gateway.core.signatures import SignatureSpec, signature_specs_from_metadata
from gateway.fronts import ApiPart, ApiSubject, Described
from gateway.fronts.console import documents
from gateway.fronts.console.assets import Asset, load_assets
from gateway.fronts.console.openapi import console_part

INT64_MAX = 2**63 - 1
_SEGMENT = r"[^/:]+"
_MODEL_DOC = re.compile(
    rf"/v1/models/(?P<name>{_SEGMENT})"
    rf"(?:/versions/(?P<version>\d+)|/labels/(?P<label>{_SEGMENT}))?/openapi\.json",
    re.IGNORECASE,
)
_DEPLOYMENT_DOC = re.compile(
    rf"/model-serving/(?P<name>{_SEGMENT})(?:/versions/(?P<version>\d+))?/openapi\.json",
    re.IGNORECASE,
)

# Exact paths -> (verb, redirect location or asset key).
_EXACT: dict[str, tuple[str, str]] = {
    "/": ("redirect", "/console/"),
    "/console": ("redirect", "/console/"),
    "/docs": ("redirect", "/docs/"),
    "/console/": ("asset", "console/index.html"),
    "/docs/": ("asset", "docs/index.html"),
    "/openapi.json": ("openapi", ""),
    "/console/api/models": ("models", ""),
    "/console/api/stats": ("stats", ""),
}
PUBLIC_VERBS = frozenset({"redirect", "asset"})
_READ_METHODS = ("GET", "HEAD")

CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def route_of(raw_path: str) -> tuple[str, str] | None:
    """(verb, detail) for a path of this front, None for any other path."""
    path = raw_path.partition("?")[0]
    exact = _EXACT.get(path)
    if exact is not None:
        return exact
    if path.startswith(("/console/api/",)):
        return ("not_found", "")
    if path.startswith(("/console/", "/docs/")):
        return ("asset", path[1:])
    if _MODEL_DOC.fullmatch(path) or _DEPLOYMENT_DOC.fullmatch(path):
        return ("model_openapi", path)
    return None


@dataclass(frozen=True, slots=True)
class EdgeView:
    """What the console reads from the edge, handed over by the app."""

    seen_models: Callable[[], Iterable[str]]
    traffic: Callable[[], dict[str, Any]]
    may_use: Callable[[str, Target], bool]


def version_of(digits: str | None) -> int | None:
    if digits is None:
        return None
    if int(digits) > INT64_MAX:
        raise invalid_argument(f"Failed to convert version: {digits} to numeric.")
    return int(digits)


def embedded_models(settings: Settings) -> list[str]:
    """The models the bundled ModelServer was started with (none when it was not)."""
    if not settings.embedded.wanted:
        return []
    try:
        return embedded.model_names(settings.embedded)
    except (OSError, ValueError):
        return []


class ConsoleFront:
    """The console, Swagger UI and the OpenAPI documents."""

    name = "console"

    def __init__(
        self,
        settings: Settings,
        backends: Backends,
        described: Sequence[Described],
        edge: EdgeView,
    ) -> None:
        self.settings = settings
        self.backends = backends
        self.described = [*described, self]
        self.edge = edge
        self.assets = load_assets()
        self.embedded = embedded_models(settings)
        self._handlers: dict[str, Callable[[Target, str, Incoming, Call], Awaitable[Reply]]] = {
            "redirect": self.redirect,
            "asset": self.asset,
            "openapi": self.server_document,
            "model_openapi": self.model_document,
            "models": self.models,
            "stats": self.stats,
        }

    # --- the Front protocol ------------------------------------------------------------

    def owns(self, raw_path: str) -> bool:
        return route_of(raw_path) is not None

    def is_public(self, raw_path: str) -> bool:
        route = route_of(raw_path)
        return route is not None and route[0] in PUBLIC_VERBS

    def target(self, incoming: Incoming) -> Target:
        route = route_of(incoming.raw_path)
        if route is None or route[0] == "not_found":
            raise GatewayError(Code.NOT_FOUND, "Not Found")
        if incoming.method not in _READ_METHODS:
            return Target("", "method_not_allowed")
        verb, detail = route
        if verb == "model_openapi":
            return self._document_target(detail)
        return Target("", verb)

    def _document_target(self, path: str) -> Target:
        match = _MODEL_DOC.fullmatch(path)
        if match is not None:
            label = match["label"]
            return Target(
                unquote(match["name"]),
                "openapi",
                version_of(match["version"]),
                None if label is None else unquote(label),
            )
        match = _DEPLOYMENT_DOC.fullmatch(path)
        assert match is not None  # route_of matched one of the two
        deployment = unquote(match["name"])
        known = self.settings.deployments.get(deployment)
        if known is None:
            raise GatewayError(Code.NOT_FOUND, f"Could not find deployment: {deployment}")
        return Target(known.model, "openapi", version_of(match["version"]), None, deployment)

    async def handle(self, target: Target, incoming: Incoming, body: Body, call: Call) -> Reply:
        if target.verb == "method_not_allowed":
            refusal = orjson.dumps({"error": "Method Not Allowed"})
            return Reply(refusal, status=405, headers={"Allow": "GET, HEAD"})
        route = route_of(incoming.raw_path)
        assert route is not None  # target() refused every other path
        verb, detail = route
        return await self._handlers[verb](target, detail, incoming, call)

    # --- pages ------------------------------------------------------------------------

    async def redirect(
        self, target: Target, location: str, incoming: Incoming, call: Call
    ) -> Reply:
        return Reply(b"", status=302, headers={"Location": location, **PAGE_HEADERS})

    async def asset(self, target: Target, key: str, incoming: Incoming, call: Call) -> Reply:
        if key.endswith("/"):
            key += "index.html"
        found: Asset | None = self.assets.get(key)
        if found is None:
            raise GatewayError(Code.NOT_FOUND, "Not Found")
        headers = {**PAGE_HEADERS, "ETag": found.etag}
        if incoming.headers.get("If-None-Match") == found.etag:
            return Reply(b"", content_type=found.content_type, status=304, headers=headers)
        return Reply(found.body, content_type=found.content_type, headers=headers)

    # --- data -------------------------------------------------------------------------

    def _may_use(self, call: Call, target: Target) -> bool:
        return call.principal is None or self.edge.may_use(call.principal, target)

    def known_models(self, call: Call) -> dict[str, list[str]]:
        """Model name -> where the gateway knows it from, for the models the caller may use."""
        sources: dict[str, list[str]] = {}
        found = (
            ("configured", self.backends.configured_models()),
            ("embedded", self.embedded),
            ("seen", sorted(self.edge.seen_models())),
        )
        for source, names in found:
            for name in names:
                sources.setdefault(name, []).append(source)
        return {
            name: where
            for name, where in sorted(sources.items())
            if self._may_use(call, Target(name, "status"))
        }

    def known_deployments(self, call: Call) -> dict[str, str]:
        """Deployment id -> model, for the deployments the caller may use."""
        return {
            d.id: d.model
            for d in sorted(self.settings.deployments.values(), key=lambda d: d.id)
            if self._may_use(call, Target(d.model, "status", deployment=d.id))
        }

    async def models(self, target: Target, detail: str, incoming: Incoming, call: Call) -> Reply:
        models = self.known_models(call)
        deployments = self.known_deployments(call)
        backends = {name: self.settings.backend_for(name) for name in models}
        states = await asyncio.gather(
            *(self.backends.versions(name, backends[name]) for name in models)
        )
        entries = [
            {
                "name": name,
                "sources": sources,
                **state,
                "deployments": [d for d, m in deployments.items() if m == name],
            }
            for (name, sources), state in zip(models.items(), states, strict=True)
        ]
        listed = [{"id": d, "model": m} for d, m in deployments.items()]
        body = {"auth": self.settings.auth.enabled, "models": entries, "deployments": listed}
        return Reply(orjson.dumps(body), headers={"Cache-Control": "no-store"})

    async def stats(self, target: Target, detail: str, incoming: Incoming, call: Call) -> Reply:
        body = orjson.dumps({"scope": "worker", **self.edge.traffic()})
        return Reply(body, headers={"Cache-Control": "no-store"})

    # --- OpenAPI documents --------------------------------------------------------------

    async def signatures(self, target: Target, call: Call) -> dict[str, SignatureSpec]:
        t = target
        route = self.backends.route(
            Target(t.model, "metadata", t.version, t.label, t.deployment), call
        )
        return signature_specs_from_metadata(await self.backends.metadata(route))

    async def subject(self, target: Target, call: Call) -> ApiSubject:
        sigs = await self.signatures(target, call)
        return ApiSubject(target.model, sigs, target.version, target.label, target.deployment)

    def parts_for(self, subject: ApiSubject) -> list[ApiPart]:
        return [front.openapi_model(subject) for front in self.described]

    async def model_document(
        self, target: Target, detail: str, incoming: Incoming, call: Call
    ) -> Reply:
        subject = await self.subject(target, call)
        title = f"tfs-gateway: {_subject_name(subject)}"
        part = documents.merged(self.parts_for(subject))
        doc = documents.document(title, _document_text(subject), part, self.settings.auth)
        return _json_reply(doc)

    async def server_document(
        self, target: Target, detail: str, incoming: Incoming, call: Call
    ) -> Reply:
        wanted = [Target(name, "openapi") for name in self.known_models(call)]
        wanted += [
            Target(model, "openapi", deployment=ident)
            for ident, model in self.known_deployments(call).items()
        ]
        found = await asyncio.gather(
            *(self.subject(t, Call(request_id=call.request_id)) for t in wanted),
            return_exceptions=True,
        )
        parts = [front.openapi_server() for front in self.described]
        missing = []
        for wanted_target, subject in zip(wanted, found, strict=True):
            if isinstance(subject, ApiSubject):
                parts.extend(self.parts_for(subject))
            elif isinstance(subject, GatewayError):
                missing.append(f"{_target_name(wanted_target)} ({subject.message})")
            else:
                raise subject
        text = "Every model and deployment this gateway knows, and its own endpoints."
        if missing:
            text += " Not described (no metadata): " + "; ".join(missing) + "."
        doc = documents.document("tfs-gateway", text, documents.merged(parts), self.settings.auth)
        return _json_reply(doc)

    # --- Described (the console's own endpoints) ------------------------------------------

    def openapi_server(self) -> ApiPart:
        return console_part()

    def openapi_model(self, subject: ApiSubject) -> ApiPart:
        return ApiPart()


def _json_reply(doc: Mapping[str, Any]) -> Reply:
    return Reply(orjson.dumps(doc), headers={"Cache-Control": "no-store"})


def _target_name(target: Target) -> str:
    if target.deployment is not None:
        return f"deployment {target.deployment}"
    return f"model {target.model}"


def _subject_name(subject: ApiSubject) -> str:
    name = _target_name(Target(subject.model, "", deployment=subject.deployment))
    if subject.version is not None:
        name += f" version {subject.version}"
    if subject.label is not None:
        name += f" label {subject.label}"
    return name


def _document_text(subject: ApiSubject) -> str:
    return (
        f"The REST API of {_subject_name(subject)}, generated from its signatures "
        f"({', '.join(subject.signatures) or 'none'})."
    )

"""Backends and routing: one gRPC client and one signature cache per configured
ModelServer, which backend and deadline a request gets, and what the gateway
can say about its models (states, readiness)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from gateway.codec.requests import metadata_request, status_request
from gateway.config import Backend as BackendSettings
from gateway.config import BackendTLS, Settings
from gateway.core import protos
from gateway.core.calls import Call, Target
from gateway.core.client import ChannelTLS, ClientOptions, ModelServerClient, probe
from gateway.core.errors import Code, GatewayError
from gateway.core.health import BackendHealth, HealthBoard
from gateway.core.signatures import DEFAULT_SIGNATURE, ModelSignatures, SignatureCache, SpecKey

log = logging.getLogger("tfs_gateway")

# Errors after which a predict is retried once with freshly fetched signatures,
# in case the cached ones described another model version.
_STALE_SUSPECTS = frozenset({Code.INVALID_ARGUMENT, Code.FAILED_PRECONDITION, Code.NOT_FOUND})


def spec_key(target: Target) -> SpecKey:
    return (target.model, target.version, target.label)


def channel_tls(tls: BackendTLS | None) -> ChannelTLS | None:
    if tls is None:
        return None
    return ChannelTLS.from_files(tls.ca_file, tls.cert_file, tls.key_file, tls.server_name)


class Backend:
    """One backend's client and what the gateway learned of its models."""

    def __init__(self, name: str, client: ModelServerClient, signature_ttl_s: float) -> None:
        self.name = name
        self.client = client
        self.signatures = SignatureCache(self._fetch_metadata, signature_ttl_s)

    async def _fetch_metadata(self, key: SpecKey, **call_options: Any) -> Any:
        return await self.client.get_model_metadata(metadata_request(*key), **call_options)


@dataclass(frozen=True, slots=True)
class Route:
    """Where one request goes: the backend, the target, and the call's keywords."""

    backend: Backend
    target: Target
    call: Call
    kw: dict[str, Any]

    @property
    def client(self) -> ModelServerClient:
        return self.backend.client

    @property
    def spec(self) -> SpecKey:
        return spec_key(self.target)


def client_options(settings: Settings, backend: BackendSettings) -> ClientOptions:
    return ClientOptions(
        timeout_s=settings.timeout_s,
        max_attempts=backend.max_attempts or settings.max_attempts,
        max_message_bytes=settings.max_message_bytes,
        tls=channel_tls(backend.tls),
    )


def probe_backends(settings: Settings, health: HealthBoard, timeout_s: float = 2.0) -> None:
    """At start-up, before the workers serve: whether each backend answers, logged once
    each and written on the workers' board."""
    names = list(settings.all_backends())
    with ThreadPoolExecutor(max(1, len(names))) as pool:
        reasons = list(pool.map(lambda n: _probe(settings, n, timeout_s), names))
    for name, reason in zip(names, reasons, strict=True):
        health.exchange(name, reason is None)


def _probe(settings: Settings, name: str, timeout_s: float) -> str | None:
    backend = settings.all_backends()[name]
    reason = probe(backend.target, client_options(settings, backend), timeout_s)
    if reason is None:
        log.info("backend %s answered", name)
    else:
        log.warning(
            "backend %s did not answer at start-up (%s); its requests get 503 until it does",
            name,
            reason,
        )
    return reason


class Backends:
    """Every configured backend, over one client each.

    ``health``: the workers' shared board, filled in by the start-up probe.
    """

    def __init__(self, settings: Settings, health: HealthBoard | None = None) -> None:
        self.settings = settings
        self.by_name = {
            name: Backend(
                name,
                ModelServerClient(
                    backend.target,
                    client_options(settings, backend),
                    BackendHealth(name, health),
                ),
                settings.signature_ttl_s,
            )
            for name, backend in settings.all_backends().items()
        }

    async def close(self) -> None:
        await asyncio.gather(*(b.client.close() for b in self.by_name.values()))

    def route(self, target: Target, call: Call) -> Route:
        name = self.settings.backend_for(target.model, target.deployment)
        call.backend = name
        timeout = self.settings.timeout_for(target.model, target.verb, name)
        kw = {"request_id": call.request_id, "timeout_s": timeout}
        return Route(self.by_name[name], target, call, kw)

    def metadata_kw(self, route: Route) -> dict[str, Any]:
        """The call options of a signature fetch: the model's metadata deadline, the request id."""
        timeout = self.settings.timeout_for(route.target.model, "metadata", route.backend.name)
        return {"request_id": route.call.request_id, "timeout_s": timeout}

    # --- signatures ---------------------------------------------------------------

    async def signatures(self, route: Route) -> ModelSignatures:
        """The target's signatures, from the cache or (timed as backend) the ModelServer."""
        sigs = route.backend.signatures.peek(route.spec)
        if sigs is None:
            with route.call.phase("backend"):
                sigs = await route.backend.signatures.get(route.spec, **self.metadata_kw(route))
        return sigs

    async def fresher_signatures(
        self, route: Route, stale: ModelSignatures, error: GatewayError, signature_name: str
    ) -> ModelSignatures | None:
        """After a failed call: newer signatures when they may explain the error, else None.

        Signatures fetched after this request arrived are as new as any: fetching again
        would not help. Older ones may describe a version that is gone.
        """
        cache = route.backend.signatures
        if error.code not in _STALE_SUSPECTS or stale.fetched_at >= route.call.started:
            return None
        with route.call.phase("backend"):
            fresh = await cache.get(route.spec, refresh=True, **self.metadata_kw(route))
        name = signature_name or DEFAULT_SIGNATURE
        return None if fresh.inputs.get(name) == stale.inputs.get(name) else fresh

    async def predict(self, route: Route, request: bytes, sigs: ModelSignatures) -> Any:
        with route.call.phase("backend"):
            response = await route.client.predict(request, **route.kw)
        if route.target.version is None and response.model_spec.version.value != sigs.version:
            # Another version answered: learn its signatures before the next request.
            route.backend.signatures.invalidate(route.spec)
        return response

    async def metadata(self, route: Route) -> Any:
        t = route.target
        with route.call.phase("backend"):
            return await route.client.get_model_metadata(
                metadata_request(t.model, t.version, t.label), **route.kw
            )

    async def status(self, route: Route) -> Any:
        # The status API ignores labels (compatibility.md §8.1): every version is listed.
        with route.call.phase("backend"):
            return await route.client.get_model_status(
                status_request(route.target.model, route.target.version), **route.kw
            )

    # --- operations -----------------------------------------------------------------

    def configured_models(self) -> dict[str, str]:
        """Model name -> backend, for every model named in routes or deployments."""
        models = {name: route.backend for name, route in self.settings.models.items()}
        for dep in self.settings.deployments.values():
            models.setdefault(dep.model, self.settings.backend_for(dep.model, dep.id))
        return models

    async def model_states(self, timeout_s: float = 2.0) -> dict[str, Any]:
        """Each configured model's versions and states, or the error that hid them."""
        models = self.configured_models()
        results = await asyncio.gather(
            *(self.versions(model, backend, timeout_s) for model, backend in models.items())
        )
        return dict(zip(models, results, strict=True))

    async def versions(self, model: str, backend: str, timeout_s: float = 2.0) -> Any:
        """{backend, versions: [{version, state}]}, or {backend, error, code} when hidden."""
        try:
            response = await self.by_name[backend].client.get_model_status(
                status_request(model), timeout_s=timeout_s
            )
        except GatewayError as exc:
            return {"backend": backend, "error": exc.message, "code": exc.code.name}
        versions = [
            {"version": str(v.version), "state": protos.ModelState.values_by_number[v.state].name}
            for v in response.model_version_status
        ]
        return {"backend": backend, "versions": versions}

    async def backend_reachable(self, name: str, timeout_s: float = 2.0) -> str | None:
        """None when the backend answers a status call (any answer), else the reason."""
        try:
            await self.by_name[name].client.get_model_status(
                status_request("__tfs_gateway_probe__"), timeout_s=timeout_s
            )
        except GatewayError as exc:
            if exc.code in (Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED):
                return f"backend {name} is unreachable: {exc.message}"
        return None

    async def readiness(self) -> list[str]:
        """Why the gateway is not ready (empty when it is)."""
        reasons = [
            r
            for r in await asyncio.gather(*(self.backend_reachable(n) for n in self.by_name))
            if r is not None
        ]
        for model, state in (await self.model_states()).items():
            versions = state.get("versions", [])
            if not any(v["state"] == "AVAILABLE" for v in versions):
                reasons.append(f"model {model} has no AVAILABLE version")
        return reasons

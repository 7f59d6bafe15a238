"""What the gateway knows of each model's signatures, learned from GetModelMetadata.

Predict conversion is driven by the signature's input dtypes (compatibility.md §4), so the
gateway fetches metadata with the request's own name, version and label, and
caches it per model spec. Concurrent misses share one fetch; failures are not
cached. Entries expire after a TTL, and the handlers refresh an entry early
when a response comes from another version than the one the entry described,
or when a call fails while the entry may be stale.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.core import protos
from gateway.core.errors import invalid_argument

DEFAULT_SIGNATURE = "serving_default"

SpecKey = tuple[str, int | None, str | None]  # (model, version, label)


@dataclass(frozen=True, slots=True)
class ModelSignatures:
    """The signatures of one resolved model version: name -> {input alias: DataType},
    name -> {output alias: DataType}, name -> the inputs that have defaults."""

    version: int
    inputs: Mapping[str, Mapping[str, int]]
    fetched_at: float
    outputs: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    defaults: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def input_dtypes(self, signature_name: str) -> Mapping[str, int]:
        """The inputs of a signature, with TF Serving's errors (compatibility.md §2, step 3)."""
        name = signature_name or DEFAULT_SIGNATURE
        inputs = self.inputs.get(name)
        if inputs is None:
            raise invalid_argument(f'Serving signature name: "{name}" not found in signature def')
        if not inputs:
            shown = signature_name or "DEFAULT"
            raise invalid_argument(f"Failed to get input map for signature: {shown}")
        return inputs


def signatures_from_metadata(response: Any, now: float) -> ModelSignatures:
    """Read a GetModelMetadataResponse's packed SignatureDefMap."""
    sigmap = protos.SignatureDefMap()
    packed = response.metadata.get("signature_def")
    if packed is not None:
        packed.Unpack(sigmap)
    defs = sigmap.signature_def
    return ModelSignatures(
        response.model_spec.version.value,
        {name: _dtypes(sigdef.inputs) for name, sigdef in defs.items()},
        now,
        {name: _dtypes(sigdef.outputs) for name, sigdef in defs.items()},
        {name: frozenset(sigdef.defaults) for name, sigdef in defs.items()},
    )


def _dtypes(infos: Any) -> dict[str, int]:
    return {alias: info.dtype for alias, info in infos.items()}


Fetch = Callable[[SpecKey], Awaitable[Any]]


class SignatureCache:
    """Per-spec cache of ModelSignatures with shared in-flight fetches."""

    def __init__(
        self, fetch: Fetch, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch = fetch
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[SpecKey, ModelSignatures] = {}
        self._pending: dict[SpecKey, asyncio.Future[ModelSignatures]] = {}

    async def get(self, key: SpecKey, *, refresh: bool = False) -> ModelSignatures:
        entry = None if refresh else self.peek(key)
        if entry is not None:
            return entry
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key))
            self._pending[key] = pending
        return await asyncio.shield(pending)

    def peek(self, key: SpecKey) -> ModelSignatures | None:
        """The cached entry when it is still within its TTL (no await, no fetch)."""
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.fetched_at < self._ttl_s:
            return entry
        return None

    def is_fresh(self, entry: ModelSignatures, within_s: float = 0.5) -> bool:
        """Whether an entry was fetched just now (so refetching would not help)."""
        return self._clock() - entry.fetched_at < within_s

    def invalidate(self, key: SpecKey) -> None:
        self._entries.pop(key, None)

    async def _load(self, key: SpecKey) -> ModelSignatures:
        try:
            response = await self._fetch(key)
            entry = signatures_from_metadata(response, self._clock())
            self._entries[key] = entry
            return entry
        finally:
            self._pending.pop(key, None)

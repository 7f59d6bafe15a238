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


def signature_def_map(response: Any) -> Any:
    """The SignatureDefMap packed in a GetModelMetadataResponse (empty when absent)."""
    sigmap = protos.SignatureDefMap()
    packed = response.metadata.get("signature_def")
    if packed is not None:
        packed.Unpack(sigmap)
    return sigmap


def signatures_from_metadata(response: Any, now: float) -> ModelSignatures:
    """Read a GetModelMetadataResponse's packed SignatureDefMap."""
    defs = signature_def_map(response).signature_def
    return ModelSignatures(
        response.model_spec.version.value,
        {name: _dtypes(sigdef.inputs) for name, sigdef in defs.items()},
        now,
        {name: _dtypes(sigdef.outputs) for name, sigdef in defs.items()},
        {name: frozenset(sigdef.defaults) for name, sigdef in defs.items()},
    )


def _dtypes(infos: Any) -> dict[str, int]:
    return {alias: info.dtype for alias, info in infos.items()}


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """A signature tensor as its metadata declares it: dtype number and shape.

    ``shape`` is None when the rank is unknown; -1 stands for an unknown dimension.
    """

    dtype: int
    shape: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class SignatureSpec:
    """One SignatureDef, for describing a model (documents, the console)."""

    name: str
    method_name: str
    inputs: Mapping[str, TensorSpec]
    outputs: Mapping[str, TensorSpec]


def tensor_spec(info: Any) -> TensorSpec:
    if not info.HasField("tensor_shape") or info.tensor_shape.unknown_rank:
        return TensorSpec(info.dtype, None)
    return TensorSpec(info.dtype, tuple(int(dim.size) for dim in info.tensor_shape.dim))


def signature_specs_from_metadata(response: Any) -> dict[str, SignatureSpec]:
    """Every SignatureDef of a GetModelMetadataResponse, with shapes, sorted by name."""
    sigmap = signature_def_map(response)
    return {
        name: SignatureSpec(
            name,
            sigdef.method_name,
            {alias: tensor_spec(info) for alias, info in sorted(sigdef.inputs.items())},
            {alias: tensor_spec(info) for alias, info in sorted(sigdef.outputs.items())},
        )
        for name, sigdef in sorted(sigmap.signature_def.items())
    }


# fetch(key, **call_options): GetModelMetadata for a spec, with the options of the
# call that found the cache empty (its deadline and request id).
Fetch = Callable[..., Awaitable[Any]]


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

    async def get(
        self, key: SpecKey, *, refresh: bool = False, **call_options: Any
    ) -> ModelSignatures:
        """The entry for ``key``; a miss (or ``refresh``) fetches with ``call_options``,
        unless a fetch for the key is already under way, which is shared."""
        entry = None if refresh else self.peek(key)
        if entry is not None:
            return entry
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key, call_options))
            self._pending[key] = pending
        return await asyncio.shield(pending)

    def peek(self, key: SpecKey) -> ModelSignatures | None:
        """The cached entry when it is still within its TTL (no await, no fetch)."""
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.fetched_at < self._ttl_s:
            return entry
        return None

    def invalidate(self, key: SpecKey) -> None:
        self._entries.pop(key, None)

    async def _load(self, key: SpecKey, call_options: dict[str, Any]) -> ModelSignatures:
        try:
            response = await self._fetch(key, **call_options)
            entry = signatures_from_metadata(response, self._clock())
            self._entries[key] = entry
            return entry
        finally:
            self._pending.pop(key, None)

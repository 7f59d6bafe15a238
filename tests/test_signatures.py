"""The signature cache: shared fetches, TTL, no cached failures, TF Serving's lookup errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.core import protos
from gateway.core.errors import Code, GatewayError
from gateway.core.signatures import SignatureCache, SpecKey, signatures_from_metadata

DT_FLOAT = 1
DT_STRING = 7


def metadata(version: int, signatures: dict[str, dict[str, int]]) -> Any:
    sigmap = protos.SignatureDefMap()
    for name, inputs in signatures.items():
        sig = sigmap.signature_def[name]
        sig.method_name = "tensorflow/serving/predict"
        for alias, dtype in inputs.items():
            sig.inputs[alias].dtype = dtype
            sig.inputs[alias].name = f"{alias}:0"
    response = protos.GetModelMetadataResponse()
    response.model_spec.name = "m"
    response.model_spec.version.value = version
    response.metadata["signature_def"].Pack(sigmap)
    return response


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Backend:
    """A fetch function that counts calls and can fail or pause."""

    def __init__(self) -> None:
        self.calls = 0
        self.version = 1
        self.fail: GatewayError | None = None
        self.gate = asyncio.Event()
        self.gate.set()

    async def fetch(self, key: SpecKey) -> Any:
        self.calls += 1
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return metadata(self.version, {"serving_default": {"x": DT_FLOAT}, "noinputs": {}})


KEY: SpecKey = ("m", None, None)


def test_concurrent_misses_share_one_fetch() -> None:
    async def scenario() -> None:
        backend = Backend()
        cache = SignatureCache(backend.fetch, ttl_s=30)
        backend.gate.clear()
        tasks = [asyncio.ensure_future(cache.get(KEY)) for _ in range(20)]
        await asyncio.sleep(0)
        backend.gate.set()
        results = await asyncio.gather(*tasks)
        assert backend.calls == 1
        assert all(r is results[0] for r in results)

    asyncio.run(scenario())


def test_ttl_expiry_and_refresh() -> None:
    async def scenario() -> None:
        backend, clock = Backend(), Clock()
        cache = SignatureCache(backend.fetch, ttl_s=30, clock=clock)
        first = await cache.get(KEY)
        clock.now += 10
        assert await cache.get(KEY) is first and backend.calls == 1
        backend.version = 2
        clock.now += 25
        second = await cache.get(KEY)
        assert backend.calls == 2 and second.version == 2
        await cache.get(KEY, refresh=True)
        assert backend.calls == 3

    asyncio.run(scenario())


def test_failures_are_not_cached() -> None:
    async def scenario() -> None:
        backend = Backend()
        cache = SignatureCache(backend.fetch, ttl_s=30)
        backend.fail = GatewayError(Code.NOT_FOUND, "Servable not found for request: Latest(m)")
        with pytest.raises(GatewayError):
            await cache.get(KEY)
        backend.fail = None
        assert (await cache.get(KEY)).version == 1
        assert backend.calls == 2

    asyncio.run(scenario())


def test_lookup_errors_use_tf_serving_texts() -> None:
    sigs = signatures_from_metadata(
        metadata(3, {"serving_default": {"x": DT_FLOAT, "s": DT_STRING}, "empty": {}}), now=0
    )
    assert sigs.version == 3
    assert sigs.input_dtypes("") == {"x": DT_FLOAT, "s": DT_STRING}
    with pytest.raises(
        GatewayError, match='Serving signature name: "nope" not found in signature def'
    ):
        sigs.input_dtypes("nope")
    with pytest.raises(GatewayError, match=r"^Failed to get input map for signature: empty$"):
        sigs.input_dtypes("empty")
    no_default = signatures_from_metadata(metadata(1, {"only": {}}), now=0)
    with pytest.raises(GatewayError, match='"serving_default" not found'):
        no_default.input_dtypes("")

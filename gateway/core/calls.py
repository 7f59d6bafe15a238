"""The vocabulary between the edge, the fronts and the core: what a request asks
for (Target), what it brings (Incoming, Body), what it costs on its way (Call),
and what goes back (Reply)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Target:
    """A model (and version or label) and a verb; ``model`` is "" for server-wide verbs."""

    model: str
    verb: str
    version: int | None = None
    label: str | None = None
    deployment: str | None = None


@dataclass(slots=True)
class Call:
    """Per-request context: the id sent to the ModelServer, who asks (None when auth is
    off or the path is open), and where time went."""

    request_id: str | None = None
    principal: str | None = None
    backend: str = ""
    phases: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)  # when the request was taken on

    def phase(self, name: str) -> Phase:
        """``with call.phase("decode"): ...`` adds the block's time to that phase."""
        return Phase(self.phases, name)


class Phase:
    """A plain context manager: a generator-based one costs several times more per use."""

    __slots__ = ("_name", "_phases", "_start")

    def __init__(self, phases: dict[str, float], name: str) -> None:
        self._phases, self._name, self._start = phases, name, 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *_exc: object) -> None:
        spent = time.perf_counter() - self._start
        self._phases[self._name] = self._phases.get(self._name, 0.0) + spent


@dataclass(frozen=True, slots=True)
class Incoming:
    """The parts of an HTTP request a front reads (no aiohttp types)."""

    method: str
    raw_path: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]


class Body:
    """A request body in the chunks it arrived in, joined only when a front asks for
    ``data``: a binary tensor can go on to the ModelServer straight from the chunks."""

    __slots__ = ("_chunks", "size")

    def __init__(self, chunks: Sequence[bytes] = ()) -> None:
        self._chunks = tuple(chunks)
        self.size = sum(len(chunk) for chunk in self._chunks)

    @property
    def chunks(self) -> tuple[bytes, ...]:
        return self._chunks

    @property
    def data(self) -> bytes:
        """The whole body as one bytes object (joined once, then kept)."""
        if len(self._chunks) != 1:
            self._chunks = (b"".join(self._chunks),)
        return self._chunks[0]


JSON = "application/json"


@dataclass(slots=True)
class Reply:
    """A front's answer: the body, its type, and any headers of the protocol's own."""

    body: bytes
    content_type: str = JSON
    status: int = 200
    headers: dict[str, str] | None = None

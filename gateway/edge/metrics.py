"""Prometheus metrics (prometheus-client), shared by every worker.

With several workers the parent sets ``PROMETHEUS_MULTIPROC_DIR`` before the
workers start, so each worker writes its samples to files there and any
worker's ``/metrics`` answers with the sum of all of them.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # set by serve.forked_workers

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip

REQUESTS = Counter(
    "tfs_gateway_requests_total",
    "HTTP requests answered, by front (protocol), model, verb and HTTP status",
    ["front", "model", "verb", "status"],
)
LATENCY = Histogram(
    "tfs_gateway_request_duration_seconds",
    "Whole request time in the gateway, by front (protocol) and verb",
    ["front", "verb"],
    buckets=_LATENCY_BUCKETS,
)
PHASES = Histogram(
    "tfs_gateway_phase_duration_seconds",
    "Time per phase: decode (JSON to proto), backend (the gRPC call), encode (proto to JSON)",
    ["verb", "phase"],
    buckets=_LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "tfs_gateway_in_flight_requests",
    "Requests being handled now",
    multiprocess_mode="livesum",
)
BACKEND_ERRORS = Counter(
    "tfs_gateway_backend_errors_total",
    "Failed ModelServer calls, by backend and gRPC status code",
    ["backend", "code"],
)
REJECTED = Counter(
    "tfs_gateway_rejected_total",
    "Requests refused before any work: overload, too_large, body_timeout",
    ["reason"],
)


class Children:
    """A labelled metric's children, cached by label values: ``labels()`` validates,
    builds a key and takes a lock on every call. The label sets are bounded (see
    ``edge.middleware.metric_model``), so the cache is too."""

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._cache: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._cache.get(values)
        if child is None:
            child = self._cache[values] = self._metric.labels(*values)
        return child


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type, summed over workers when there are several."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


requests_by = Children(REQUESTS)
latency_by = Children(LATENCY)
phases_by = Children(PHASES)

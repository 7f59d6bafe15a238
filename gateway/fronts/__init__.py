"""Protocol fronts: each is a URL grammar, its handlers and its JSON codec over
the shared core. The app asks each front in turn whether it owns a path."""

from __future__ import annotations

from typing import Protocol

from gateway.core.calls import Body, Call, Incoming, Reply, Target


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

"""Shared pieces of the security tests: one fake ModelServer, one test CA."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme

from tests import fake_backend


@pytest.fixture(scope="session")
def fake_target() -> Iterator[str]:
    """An in-process fake ModelServer (model ``ok`` answers predict); "127.0.0.1:PORT"."""
    server, port, _ = fake_backend.serve()
    yield f"127.0.0.1:{port}"
    server.stop(None)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()

"""The console's static files, shipped inside the package and read once at start-up.

A URL maps to a file only through this table (no path is ever joined onto the
file system), so nothing outside ``static/`` can be served.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

# suffix -> Content-Type
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".md": "text/markdown; charset=utf-8",
}
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def content_type(name: str) -> str:
    dot = name.rfind(".")
    return CONTENT_TYPES.get(name[dot:], TEXT) if dot >= 0 else TEXT


def _walk(folder: Traversable, prefix: str) -> dict[str, Asset]:
    out: dict[str, Asset] = {}
    for entry in folder.iterdir():
        key = f"{prefix}{entry.name}"
        if entry.is_dir():
            out.update(_walk(entry, key + "/"))
        elif entry.is_file():
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            out[key] = Asset(body, content_type(entry.name), etag)
    return out


def load_assets() -> dict[str, Asset]:
    """``"console/index.html"`` -> its bytes, type and ETag, for every shipped file."""
    return _walk(resources.files(__package__ or "gateway.fronts.console") / "static", "")

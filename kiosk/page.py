"""The web kiosk's files (`kiosk/web/`), read once from the installed package.

The service serves them from memory with a strong ETag and a gzip copy made once. The
service worker (`sw.js`) is written at load time with a version (a hash of every other
file) and the list of files to cache, so any change to the page makes browsers install
a new worker and drop the old cache, and the list can never miss a file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
    ".png": "image/png",
}
TEXT = "text/plain; charset=utf-8"  # licences and anything without a known suffix
SERVICE_WORKER = "sw.js"
INDEX = "index.html"


@dataclass(frozen=True, slots=True)
class Asset:
    """One file as served: bytes, gzip copy (when it is worth it), media type, ETag."""

    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str


def read_folder(folder: Traversable, prefix: str = "") -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for entry in folder.iterdir():
        name = prefix + entry.name
        if entry.is_dir():
            found.update(read_folder(entry, name + "/"))
        elif entry.is_file() and not entry.name.startswith("."):
            found[name] = entry.read_bytes()
    return found


def _media_type(name: str) -> str:
    suffix = name[name.rfind(".") :] if "." in name.rsplit("/", 1)[-1] else ""
    return MEDIA_TYPES.get(suffix, TEXT)


def make_asset(name: str, body: bytes) -> Asset:
    packed = gzip.compress(body, compresslevel=9, mtime=0) if len(body) > 1024 else None
    if packed is not None and len(packed) >= len(body):
        packed = None
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Asset(body, packed, _media_type(name), etag)


def version_of(raw: dict[str, bytes]) -> str:
    """A hash of every file but the worker itself: the worker's cache name."""
    digest = hashlib.sha256()
    for name in sorted(raw):
        if name != SERVICE_WORKER:
            digest.update(name.encode() + b"\0" + hashlib.sha256(raw[name]).digest())
    return digest.hexdigest()[:16]


def build(raw: dict[str, bytes]) -> dict[str, Asset]:
    """Assets by their path under /kiosk/, with the worker's version and list filled in."""
    worker = raw[SERVICE_WORKER].decode()
    cached = sorted(f"/kiosk/{n}" for n in raw if n not in (SERVICE_WORKER, INDEX))
    worker = worker.replace("__VERSION__", version_of(raw)).replace(
        "__ASSETS__", json.dumps(cached)
    )
    raw = {**raw, SERVICE_WORKER: worker.encode()}
    return {name: make_asset(name, body) for name, body in raw.items()}


@cache
def assets() -> dict[str, Asset]:
    """The page's files from the installed package (read once per process)."""
    return build(read_folder(files("diemcau.kiosk") / "web"))

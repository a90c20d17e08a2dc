"""The dashboard's files (`service/dashboard/web/`), read once from the installed package
and served from memory with a strong ETag and a gzip copy made once (as the kiosk's)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from diemcau.kiosk.page import Asset, make_asset, read_folder

INDEX = "index.html"


@cache
def assets() -> dict[str, Asset]:
    """The page's files by their path under /dashboard/assets/ (read once per process)."""
    raw = read_folder(files("diemcau.dashboard") / "web")
    return {name: make_asset(name, body) for name, body in raw.items()}

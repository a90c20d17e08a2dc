"""`diemcau site ...`: the technician's commands (filled in by the registry work)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("site", help="register bridge points, import them, test the link")

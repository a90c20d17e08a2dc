"""The `diemcau` command line: serve, migrate, tokens, and the tools that later issues add."""

from __future__ import annotations

import argparse
import sys
import warnings
from importlib import import_module

from diemcau import __version__
from diemcau.config import ConfigError
from diemcau.embedded import EmbeddedError
from diemcau.migrate import MigrationError

# Modules with a `register(subparsers)` function, in the order `--help` lists them.
COMMAND_MODULES = [
    "diemcau.cli.server",
    "diemcau.cli.tokens",
    "diemcau.cli.conferences",
    "diemcau.cli.roster",
    "diemcau.cli.badges",
    "diemcau.sites.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diemcau",
        description="Registry and attendance for hybrid conferences over video bridges.",
    )
    parser.add_argument("--version", action="version", version=f"diemcau {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, EmbeddedError, MigrationError) as exc:
        print(f"diemcau: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

"""The `diemcau` command line: serve, migrate, tokens, and the tools that later issues add."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from importlib import import_module

from diemcau import __version__
from diemcau.cli import say
from diemcau.config import ConfigError
from diemcau.embedded import EmbeddedError
from diemcau.migrate import MigrationError

# Modules with a `register(subparsers)` function, in the order `--help` lists them.
COMMAND_MODULES = [
    "diemcau.cli.server",
    "diemcau.cli.tokens",
    "diemcau.cli.units",
    "diemcau.sites.cli",
    "diemcau.cli.conferences",
    "diemcau.cli.roster",
    "diemcau.cli.checkins",
    "diemcau.cli.badges",
    "diemcau.cli.codes",
    "diemcau.cli.absences",
    "diemcau.cli.reconcile",
    "diemcau.cli.live",
    "diemcau.cli.kiosk_code",
    "diemcau.kiosk.cli",
]


def _language_in(argv: list[str]) -> str | None:
    """`--lang xx` anywhere in the arguments, read before the parser is built so that its
    help and errors are in that language too."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


def _add_lang(parser: argparse.ArgumentParser, top: bool) -> None:
    """`--lang` on the main parser and on every command, wherever a person puts it."""
    parser.add_argument(
        "--lang",
        choices=say.LANGUAGES,
        default=None if top else argparse.SUPPRESS,
        help=say.t(
            "ngôn ngữ: vi hoặc en (mặc định DIEMCAU_LANGUAGE, vi)",
            "language: vi or en (default DIEMCAU_LANGUAGE, vi)",
        ),
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _add_lang(child, top=False)


def build_parser() -> argparse.ArgumentParser:
    # argparse looks its words up through its module-level `_` and `ngettext` at the time
    # it speaks.
    argparse._ = say.argparse_text  # type: ignore[attr-defined]
    argparse.ngettext = say.argparse_ngettext  # type: ignore[attr-defined]
    parser = argparse.ArgumentParser(
        prog="diemcau",
        description=say.t(
            "Đăng ký và điểm danh hội nghị trực tuyến nhiều điểm cầu.",
            "Registry and attendance for hybrid conferences over video bridges.",
        ),
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"diemcau {__version__}",
        help=say.t("in số phiên bản rồi thoát", "show the version and exit"),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        import_module(name).register(sub)
    _add_lang(parser, top=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    argv = sys.argv[1:] if argv is None else argv
    say.set_language(_language_in(argv))
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except (ConfigError, EmbeddedError, MigrationError) as exc:
        print(f"diemcau: {exc.message.text(say.language())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_went_away()
    finally:
        say.set_language(None)


def _reader_went_away() -> int:
    """stdout's reader (`| head`) closed the pipe: stop quietly, as Unix tools do.

    Python would flush stdout again at exit and print a BrokenPipeError there; pointing
    stdout at /dev/null first makes that flush harmless.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no real file (a test's capture)
        pass
    return 141  # 128 + SIGPIPE, what a shell reports for a tool stopped by the pipe

"""`diemcau kiosk-code --conference C --site S`: a kiosk's enrollment code, its link, and
its QR drawn in the terminal, for the phone at the door to scan.

The same code as `POST .../sites/{site}/kiosk-codes` (single use, 24 hours), made by the
CLI's organiser. The QR says what the API's enrollment QR says (`<ORIGIN>/K/<CODE>`):
the origin is `--url`, else DIEMCAU_PUBLIC_URL, else this machine on the port `serve`
takes. Each character of the drawing holds two modules, one above the other, in Unicode
half blocks; on a terminal it is drawn black on white whatever the terminal's colours
(unless NO_COLOR is set), elsewhere the way `qrencode -t UTF8` draws, for a dark
background.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys

from diemcau import keystore, kiosks, qr
from diemcau.auth import CLI
from diemcau.cli.badges import conference_sites
from diemcau.cli.common import add_conference, conference, database, load_config
from diemcau.cli.say import err, report_problem, t, when
from diemcau.config import Config
from diemcau.errors import Problem
from diemcau.keystore import Keystore

# Two modules a character: (top dark, bottom dark) -> the character drawn in ink.
_HALVES = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
_BLACK_ON_WHITE, _RESET = "\x1b[30;107m", "\x1b[0m"


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "kiosk-code",
        help=t(
            "mã ghép máy điểm danh cho một điểm cầu: mã, đường dẫn và mã QR trên màn hình",
            "a kiosk's enrollment code for a site: the code, its link and its QR on screen",
        ),
    )
    add_conference(cmd)
    cmd.add_argument("--site", required=True, help=t("mã điểm cầu", "site code"))
    cmd.add_argument(
        "--url",
        help=t(
            "địa chỉ dịch vụ mà điện thoại mở được (mặc định DIEMCAU_PUBLIC_URL, rồi máy này)",
            "the service's address as a phone reaches it (default DIEMCAU_PUBLIC_URL, then this machine)",
        ),
    )
    cmd.set_defaults(func=lambda a: asyncio.run(_kiosk_code(a)))


def qr_lines(text: str, dark_ink: bool) -> list[str]:
    """The QR of `text` (quiet zone included) as lines of half blocks: ink for the dark
    modules (`dark_ink`, drawn on a light background) or for the light ones."""
    dark = [[False] * qr.SIDE for _ in range(qr.QUIET)]
    for row in qr.modules(text):
        dark.append([False] * qr.QUIET + row + [False] * qr.QUIET)
    dark += [[False] * qr.SIDE for _ in range(qr.QUIET + 1)]  # +1: an even number of rows
    lines = []
    for y in range(0, qr.SIDE, 2):
        pairs = zip(dark[y], dark[y + 1], strict=True)
        lines.append("".join(_HALVES[(a == dark_ink, b == dark_ink)] for a, b in pairs))
    return lines


def default_origin(config: Config) -> str:
    """DIEMCAU_PUBLIC_URL, else this machine on the port `serve` takes: its address on
    the network when the service listens on every interface, else the one it listens on."""
    if config.public_url:
        return config.public_url
    host = config.host
    if host in ("0.0.0.0", "::", ""):
        host = _network_address() or "127.0.0.1"
    return f"http://{host}:{config.port}"


def _network_address() -> str | None:
    """The address other machines reach this one by (no packet is sent: a UDP socket
    only picks its route)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: any routable address will do
            return str(probe.getsockname()[0])
    except OSError:
        return None


async def _kiosk_code(args: argparse.Namespace) -> int:
    config = load_config()
    origin = (args.url or default_origin(config)).rstrip("/")
    try:
        async with database(config) as conn:
            found = await conference(conn, args.conference)
            (site,) = await conference_sites(conn, found, args.site)
            code, expires_at = await kiosks.create_code(conn, CLI, found, site)
            # As the API does: a kiosk verifies codes offline with the conference's key.
            await keystore.signing_key(conn, Keystore.from_config(config), found["id"], CLI)
    except Problem as problem:
        return report_problem(problem)
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    print(kiosks.display_code(code))
    print(kiosks.enroll_url(origin, code))
    for line in qr_lines(kiosks.enroll_qr_text(origin, code), dark_ink=color):
        print(f"{_BLACK_ON_WHITE}{line}{_RESET}" if color else line)
    err(
        t(
            f"Mã dùng một lần cho một máy ở {site['code']}, hết hạn {when(expires_at, found['timezone'])}",
            f"single use, for one kiosk at {site['code']}; expires {when(expires_at, found['timezone'])}",
        )
    )
    if "127.0.0.1" in origin or "localhost" in origin:
        err(
            t(
                f"Điện thoại không mở được {origin}: đặt DIEMCAU_PUBLIC_URL hoặc --url",
                f"a phone cannot open {origin}: set DIEMCAU_PUBLIC_URL or --url",
            )
        )
    return 0

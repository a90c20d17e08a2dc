"""`diemcau codes --conference C [--site S] -o FILE.csv`: every delegate's code for a mail
merge or an SMS/Zalo campaign.

The columns are `external_id, full_name, site_code, code`. The codes are what `qr.png`
encodes, with the same rights (the organiser's), so the file is as sensitive as the
badges themselves. Revoked delegates are left out, as from the badges. The codes' digests
are recorded, as the API records the codes it makes, so each first scan is a lookup.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from pathlib import Path
from typing import Any, TextIO

from diemcau import issuance
from diemcau.cli.badges import signed
from diemcau.cli.common import add_conference
from diemcau.cli.say import count, err, t
from diemcau.keystore import SigningKey
from diemcau.text import spreadsheet_safe

COLUMNS = ("external_id", "full_name", "site_code", "code")


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "codes",
        help=t(
            "ghi mã QR của mọi đại biểu ra CSV (external_id, full_name, site_code, code) để trộn thư, gửi tin nhắn",
            "write every delegate's QR code text to CSV (external_id, full_name, site_code, code) for mail merge and SMS",
        ),
    )
    add_conference(cmd)
    cmd.add_argument("--site", help=t("một điểm cầu (mặc định: tất cả)", "one site (default: all)"))
    cmd.add_argument(
        "-o",
        "--output",
        required=True,
        help=t("tệp CSV (- là ra màn hình)", "the CSV file (- for standard output)"),
    )
    cmd.set_defaults(func=_codes)


def rows(
    key: SigningKey, conference: Any, sites: list[Any], delegates: list[Any]
) -> tuple[list[list[str]], issuance.Issued]:
    """One row a delegate, by site code then external id, text cells made formula-safe
    (a name typed as '=HYPERLINK(...)' must not run when the file is opened); and the
    codes signed, to record."""
    site_codes = {s["id"]: s["code"] for s in sites}
    signed = issuance.signed_codes(key, conference["id"], delegates)
    out = [
        [
            spreadsheet_safe(v)
            for v in (d["external_id"], d["full_name"], site_codes[d["site_id"]], code)
        ]
        for d, _, code in signed
    ]
    out.sort(key=lambda r: (r[2], r[0]))
    return out, [(claims, code) for _, claims, code in signed]


def _codes(args: argparse.Namespace) -> int:
    fetched = asyncio.run(signed(args, rows))
    if isinstance(fetched, int):
        return fetched
    written = fetched[2]
    if args.output == "-":
        _write(sys.stdout, written)
    else:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            _write(fh, written)
    where = "stdout" if args.output == "-" else args.output
    err(
        t(
            f"Đã ghi mã của {count(len(written), 'đại biểu', 'delegate')} -> {where}",
            f"wrote the codes of {count(len(written), 'đại biểu', 'delegate')} -> {where}",
        )
    )
    return 0


def _write(out: TextIO, written: list[list[str]]) -> None:
    # A BOM: Excel opens a CSV with one as UTF-8, so Vietnamese names stay whole.
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(written)
    out.flush()

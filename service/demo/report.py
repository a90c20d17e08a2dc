"""What the demo tells the person at the terminal: where to watch and how to join before
the morning; the reconciliation, its open flags and the commands that settle them after."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from diemcau import kiosks
from diemcau.cli.kiosk_code import _BLACK_ON_WHITE, _RESET, default_origin, qr_lines
from diemcau.cli.say import err, language, t
from diemcau.config import Config
from diemcau.demo.build import Ready
from diemcau.demo.morning import Morning, expected_results
from diemcau.demo.plan import CATEGORIES, Plan, truth
from diemcau.figures import number, ratio
from diemcau.reconcile.model import Flag
from diemcau.reconcile.words import CATEGORY, KINDS, summary
from diemcau.sites.client import Client


async def invitation(config: Config, ready: Ready) -> None:
    """The dashboard, a phone's enrollment, the badges to scan."""
    err("")
    err(
        t(
            "Bảng trực tiếp (mở, rồi dán mã xem):",
            "Live board (open it, then paste the viewer token):",
        )
    )
    err(f"    {ready.dashboard}")
    err(f"    {t('mã xem', 'viewer token')}: {ready.viewer}")
    err(t(f"Ghép một điện thoại làm máy điểm danh tại {ready.site} (mã {ready.enroll['code']}; mở liên kết hoặc quét mã QR):",
          f"Enroll a phone as a kiosk at {ready.site} (code {ready.enroll['code']}; open the link or scan the QR):"))  # fmt: skip
    _enrollment(config, ready.enroll["code"])
    err(t(f"Thẻ đại biểu của {ready.site} (quét trên màn hình hoặc in ra):",
          f"The badges of {ready.site} (scan them on screen or printed):"))  # fmt: skip
    err(f"    {ready.badges}")
    if ready.waiting:
        names = ", ".join(f"{name} ({ext})" for ext, name in ready.waiting[:5])
        err(t(f"    chưa ai quét thẻ của: {names}", f"    nobody scans the badges of: {names}"))
    err("")


def _enrollment(config: Config, shown: str) -> None:
    """The link and the enrollment QR as `diemcau kiosk-code` draws them, on this
    machine's address on the network when the service listens there."""
    origin = default_origin(config).rstrip("/")
    code = kiosks.normalise_code(shown) or ""
    err(f"    {kiosks.enroll_url(origin, code)}")
    color = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    for line in qr_lines(kiosks.enroll_qr_text(origin, code), dark_ink=bool(color)):
        err(f"    {_BLACK_ON_WHITE}{line}{_RESET}" if color else f"    {line}")
    if "127.0.0.1" in origin or "localhost" in origin:
        err(t("    (một điện thoại không mở được địa chỉ này: chạy với --host 0.0.0.0, hoặc đặt DIEMCAU_PUBLIC_URL)",
              "    (a phone cannot open this address: run with --host 0.0.0.0, or set DIEMCAU_PUBLIC_URL)"))  # fmt: skip


def _headline(totals: dict[str, Any], targets: dict[str, float]) -> None:
    lang = language()
    for c in CATEGORIES:
        came, want = totals["checked_in"][c], totals["expected"][c]
        goal = f" ({t('chỉ tiêu', 'target')} {number(targets[c] * 100)}%)" if c in targets else ""
        err(f"  {CATEGORY[c].text(lang)}: {ratio(came, want, lang)}{goal}")
    err(f"  {t('vãng lai', 'walk-ins')}: {number(totals['walk_ins'], 0, lang)}")


async def ending(api: Client, plan: Plan, morning: Morning) -> dict[str, Any]:
    """The reconciliation as the API gives it, checked against the plan; answers the
    figures (for --summary)."""
    path = f"/api/v1/conferences/{morning.conference}"
    live = await api.get(f"{path}/live")
    for _ in range(60):  # the board takes a status change within its sweep's 5 s
        if live["conference"]["status"] == "closed":
            break
        await asyncio.sleep(0.25)
        live = await api.get(f"{path}/live")
    rec = await api.get(f"{path}/reconciliation")
    lang = language()
    err("")
    err(t(f"Đối soát {morning.conference} ({rec['status']}):", f"Reconciliation of {morning.conference} ({rec['status']}):"))  # fmt: skip
    _headline(rec["totals"], rec["conference"]["targets"])
    answers = morning.tally.results
    err(t(f"  máy điểm danh được trả lời: {number(answers['accepted'])} nhận, {number(answers['duplicate'])} trùng, "
          f"{number(answers['moved'])} ở điểm cầu khác, {number(answers['reentry'])} vào lại, {number(answers['skewed'])} giờ máy sai",
          f"  kiosks were answered: {answers['accepted']:,} accepted, {answers['duplicate']:,} duplicate, "
          f"{answers['moved']:,} at another site, {answers['reentry']:,} re-entries, {answers['skewed']:,} with a wrong clock"))  # fmt: skip
    if morning.synced:
        err(t(f"  {len(morning.synced)} điểm cầu mất kết nối gửi bù {number(sum(morning.synced))} lượt quét",
              f"  {len(morning.synced)} sites lost their link and sent {sum(morning.synced):,} queued scans later"))  # fmt: skip
    want = truth(plan)
    differs = _differences(want, live)
    if differs:
        err(
            t(
                "  khác với mô phỏng (lượt quét của bạn?): ",
                "  differs from the simulation (your scans?): ",
            )
            + "; ".join(differs)
        )
    else:
        err(t("  số trên bảng trực tiếp khớp từng người với mô phỏng", "  the live board's counts match the simulation, person for person"))  # fmt: skip
    flags = [f for f in rec["flags"] if f["status"] == "open"]
    err(t(f"Cờ chưa xử lý ({len(flags)}):", f"Open flags ({len(flags)}):"))
    for f in flags:
        flag = Flag(f["kind"], f["site_code"], f["detail"], "")
        said = summary(flag, lang)
        err(f"  {f['id']:<32} {KINDS[f['kind']].text(lang)}" + (f": {said}" if said else ""))
    _next_steps(morning.conference, flags)
    return {
        "conference": morning.conference,
        "live": {"totals": live["totals"], "sites": live["sites"]},
        "reconciliation": {"status": rec["status"], "totals": rec["totals"], "flags": rec["flags"]},
        "answers": dict(answers),
        "expected_answers": dict(expected_results(plan)),
    }


def _differences(want: dict[str, Any], live: dict[str, Any]) -> list[str]:
    out = []
    for code, entry in want["sites"].items():
        got = live["sites"].get(code, {})
        for key in ("checked_in", "walk_ins", "moved_in", "present"):
            if got.get(key) != entry[key]:
                out.append(f"{code} {key} {got.get(key)} ≠ {entry[key]}")
    return out


def _next_steps(code: str, flags: list[dict[str, Any]]) -> None:
    err("")
    err(t("Tiếp theo (một cửa sổ khác, khi dịch vụ còn chạy hoặc sau đó):",
          "Next (in another terminal, while the service runs or afterwards):"))  # fmt: skip
    example = flags[0]["id"] if flags else f"{code}.SITE.kind"
    err(f"  diemcau reconcile --conference {code}")
    err(
        f"  diemcau flag resolve --conference {code} {example} --action accept_headcount --note '...'"
    )
    err(t("      (mỗi cờ: accept_headcount, accept_scans, hoặc corrected --figure N)",
          "      (each flag: accept_headcount, accept_scans, or corrected --figure N)"))  # fmt: skip
    err(f"  diemcau sign-off --conference {code}")
    err(f"  diemcau report --conference {code}")

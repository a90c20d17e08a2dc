"""The kiosk's commands: enroll, run, sync, walkin, headcount, status (parsed in
diemcau.kiosk.cli)."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from diemcau.cli.say import count
from diemcau.delegates import category_of
from diemcau.errors import Msg
from diemcau.kiosk import api, status
from diemcau.kiosk.connection import KioskRevoked
from diemcau.kiosk.display import Printer
from diemcau.kiosk.door import Door, zone_of
from diemcau.kiosk.lines import file_lines, stdin_lines
from diemcau.kiosk.offline import AMBER, GREEN, RED
from diemcau.kiosk.sender import Sender, now_text
from diemcau.kiosk.store import NotEnrolled, RunLock, Store
from diemcau.sites.client import DEFAULT_URL, ApiError, Client

REVOKED, UNSENT, USAGE = 3, 1, 2
TEXT = {
    "revoked": Msg(
        "Máy điểm danh này đã bị thu hồi. Hãy xin mã ghép máy mới và ghép lại "
        "(diemcau kiosk enroll).",
        "This kiosk was revoked. Ask for a new code and enroll again (diemcau kiosk enroll).",
    ),
    "not_enrolled": Msg(
        "Máy chưa được ghép ({}). Chạy: diemcau kiosk enroll MÃ --url URL",
        "This kiosk is not enrolled ({}). Run: diemcau kiosk enroll CODE --url URL",
    ),
    "enrolled_already": Msg(
        "Tệp {} đã ghép máy; thêm --force để ghép lại", "{} is enrolled already; add --force"
    ),
    "queue_not_empty": Msg(
        "Còn {} lượt quét chưa gửi; chạy diemcau kiosk sync trước khi ghép lại",
        "{} scans are not sent yet; run diemcau kiosk sync before enrolling again",
    ),
    "busy": Msg(
        "Một tiến trình diemcau kiosk run khác đang dùng tệp {}",
        "Another diemcau kiosk run is using {}",
    ),
    "enrolled": Msg(
        "Đã ghép máy cho hội nghị {} ({}), điểm cầu {} ({}); danh sách {} đại biểu; tệp {}",
        "Enrolled for conference {} ({}), site {} ({}); roster of {} delegates; file {}",
    ),
    "ready": Msg(
        "Sẵn sàng: quét mã (hoặc gõ +Họ tên cho khách vãng lai)",
        "Ready: scan a code (or type +Full name for a walk-in)",
    ),
    "all_sent": Msg("Đã gửi hết lên dịch vụ", "Everything is sent to the service"),
    "left": Msg(
        "Còn {} lượt quét chờ gửi; chúng sẽ được gửi ở lần chạy sau (diemcau kiosk run/sync)",
        "{} scans still queued; the next diemcau kiosk run or sync sends them",
    ),
    "left_headcounts": Msg(
        "Còn {} lượt quét và {} lần đếm người chờ gửi; chúng sẽ được gửi ở lần chạy sau "
        "(diemcau kiosk run/sync)",
        "{} scans and {} headcounts still queued; the next diemcau kiosk run or sync sends them",
    ),
    "headcount": Msg(
        "Đã ghi số người lúc {}: {} (đảng viên {}, quần chúng {}, khách mời {})",
        "Headcount at {} recorded: {} (members {}, non-members {}, guests {})",
    ),
    "bad_count": Msg("Số người phải là số nguyên không âm", "Counts are whole numbers, 0 or more"),
    "requeued": Msg("Gửi lại {} lượt quét đã có kết quả", "Sending {} answered scans again"),
    "bad_category": Msg(
        "Loại phải là đảng viên, quần chúng hoặc khách mời (member, non_member, guest)",
        "The category must be member, non_member or guest (or đảng viên, quần chúng, khách mời)",
    ),
    "no_file": Msg("Không có tệp {}", "No such file: {}"),
    "failed": Msg("Lỗi khi gửi: {}", "Sending failed: {}"),
    "link_lost": Msg(
        "Mất kết nối với dịch vụ; {} chờ gửi, máy vẫn điểm danh ngoại tuyến",
        "Lost the link to the service; {} queued, the kiosk keeps checking in offline",
    ),
    "link_back": Msg(
        "Đã kết nối lại với dịch vụ; {} chờ gửi, đang gửi",
        "The link to the service is back; {} queued, sending",
    ),
    "no_roster": Msg(
        "Chưa tải được danh sách đại biểu; diemcau kiosk run sẽ tải lại khi có kết nối",
        "The roster was not downloaded; diemcau kiosk run fetches it when the link is up",
    ),
}


def _say(lang: str, key: str, *values: object) -> None:
    print(TEXT[key].text(lang).format(*values), file=sys.stderr)


def _printer(store: Store, lang: str) -> Printer:
    return Printer(lang, zone_of(store.get("conference") or {}))


async def enroll(args: argparse.Namespace, path: Path, lang: str) -> int:
    with Store(path) as store:
        if store.get("token") and store.unsent():
            _say(lang, "queue_not_empty", store.unsent())
            return USAGE
        if store.get("token") and not args.force:
            _say(lang, "enrolled_already", path)
            return USAGE
        base = (args.url or os.environ.get("DIEMCAU_URL") or DEFAULT_URL).rstrip("/")
        answer = await api.enroll(base, args.code, args.name or socket.gethostname(), lang)
        keep = ("token", "kiosk", "conference", "site", "keys")
        store.set(url=base, enrolled_at=now_text(), **{k: answer[k] for k in keep})
        store.set(roster_version=None, roster_etag=None)
        store.replace_roster([])
        try:
            async with Client(base, answer["token"], lang) as http:
                await api.refresh_roster(http, store)
        except ApiError as err:  # enrolled all the same: `run` fetches the roster again
            err.print()
            _say(lang, "no_roster")
        conf, site = answer["conference"], answer["site"]
        print(
            TEXT["enrolled"]
            .text(lang)
            .format(
                conf["code"], conf["title"], site["code"], site["name"], store.roster_size(), path
            )
        )
    return 0


def _open(path: Path) -> Store:
    if not path.exists():
        raise NotEnrolled(str(path))
    store = Store(path)
    if not store.get("token"):
        store.close()
        raise NotEnrolled(str(path))
    return store


def _sender(store: Store, printer: Printer, door: Door | None = None) -> Sender:
    return Sender(
        store,
        store.require("url"),
        store.require("token"),
        on_correction=printer.correction,
        on_roster=door.reload if door is not None else None,
        on_notice=lambda msg, *values: printer.say(msg, AMBER, *values),
        on_link=lambda up, queued: _link_line(printer, up, queued),
    )


def _link_line(printer: Printer, up: bool, queued: int) -> None:
    """One line at the door when the link drops or comes back, with the queue's length."""
    scans = count(queued, "lượt quét", "scan")
    printer.say(TEXT["link_back" if up else "link_lost"], GREEN if up else AMBER, scans)


async def run(args: argparse.Namespace, path: Path, lang: str) -> int:
    if args.file is not None and not args.file.is_file():
        _say(lang, "no_file", args.file)
        return USAGE
    with _open(path) as store, RunLock(path) as held:
        if not held:
            _say(lang, "busy", path)
            return USAGE
        printer = _printer(store, lang)
        door = Door(store, printer, "out" if args.out else "in")
        lines = file_lines(args.file) if args.file else stdin_lines()
        printer.say(TEXT["ready"], GREEN)
        return await _serve(door, _sender(store, printer, door), lines, args.drain)


async def _serve(door: Door, sender: Sender, lines: AsyncIterator[str], drain: float) -> int:
    """Read and judge lines while the sender sends; at the end of input, drain a while."""
    sending = asyncio.create_task(sender.run())
    reading = asyncio.create_task(_read(lines, door, sender))
    await asyncio.wait({sending, reading}, return_when=asyncio.FIRST_COMPLETED)
    if not sending.done():
        await _drain(door.store, sender, sending, drain)
    reading.cancel()
    await asyncio.gather(reading, return_exceptions=True)
    return await _finish(sending, door.store, door.printer)


async def _read(lines: AsyncIterator[str], door: Door, sender: Sender) -> None:
    async for line in lines:
        door.line(line)
        sender.wake.set()


async def _drain(
    store: Store, sender: Sender, sending: asyncio.Task[None], seconds: float, contact: bool = False
) -> None:
    """Until the queue is empty (and, with `contact`, the service was reached at least once),
    the sender stops, or `seconds` pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    def waiting() -> bool:
        return bool(store.unsent()) or (contact and not sender.contacted.is_set())

    while waiting() and not sending.done() and loop.time() < deadline:
        sender.progress.clear()
        answered = asyncio.create_task(sender.progress.wait())
        await asyncio.wait(
            {answered, sending}, timeout=deadline - loop.time(), return_when="FIRST_COMPLETED"
        )
        answered.cancel()


async def _finish(sending: asyncio.Task[None], store: Store, printer: Printer) -> int:
    """Stop the sender; say what is left, or that the kiosk was revoked."""
    sending.cancel()
    await asyncio.gather(sending, return_exceptions=True)
    failure = None if sending.cancelled() else sending.exception()
    if isinstance(failure, KioskRevoked):
        printer.say(TEXT["revoked"], RED)
        return REVOKED
    if failure is not None:  # a bug, or an answer the kiosk cannot read: say so, keep the queue
        printer.say(TEXT["failed"], RED, f"{type(failure).__name__}: {failure}")
    store.set(link_state="stopped", link_since=now_text())
    scans, headcounts = store.counts()["pending"], store.headcount_counts()["pending"]
    if headcounts:
        printer.say(TEXT["left_headcounts"], AMBER, scans, headcounts)
        return UNSENT
    if scans:
        printer.say(TEXT["left"], AMBER, scans)
        return UNSENT
    printer.say(TEXT["all_sent"], GREEN)
    return 0


async def _send_queue(store: Store, printer: Printer, seconds: float) -> int:
    """Send what is queued for up to `seconds`, then stop."""
    sender = _sender(store, printer)
    sending = asyncio.create_task(sender.run())
    # A sync reaches the service even with nothing to send: it refreshes the roster and
    # learns of a revocation.
    await _drain(store, sender, sending, seconds, contact=True)
    return await _finish(sending, store, printer)


async def sync(args: argparse.Namespace, path: Path, lang: str) -> int:
    with _open(path) as store, RunLock(path) as held:
        if not held:
            _say(lang, "busy", path)
            return USAGE
        printer = _printer(store, lang)
        if args.all:
            _say(lang, "requeued", store.requeue_answered())
        return await _send_queue(store, printer, args.timeout)


async def walkin(args: argparse.Namespace, path: Path, lang: str) -> int:
    category = category_of(args.category)
    name = " ".join(args.name.split())
    if category is None or not name:
        _say(lang, "bad_category")
        return USAGE
    with _open(path) as store, RunLock(path) as held:
        printer = _printer(store, lang)
        Door(store, printer).walk_in(name, category)
        if not held:
            return 0  # the running kiosk sends it within seconds
        # Offline, the walk-in simply waits in the queue: only a revocation is news.
        sent = await _send_queue(store, printer, 5.0)
        return REVOKED if sent == REVOKED else 0


async def headcount(args: argparse.Namespace, path: Path, lang: str) -> int:
    """Queue a headcount of the room (sent like scans: now, or when the link returns)."""
    counts = (args.members, args.non_members, args.guests)
    if any(n < 0 for n in counts):
        _say(lang, "bad_count")
        return USAGE
    body = {
        "headcount_id": str(uuid.uuid4()),
        "moment": args.moment,
        "counted_at": args.at or now_text(),
        "members": args.members,
        "non_members": args.non_members,
        "guests": args.guests,
        "note": args.note,
    }
    with _open(path) as store, RunLock(path) as held:
        store.queue_headcount(body)
        _say(lang, "headcount", args.moment, sum(counts), *counts)
        if not held:
            return 0  # the running kiosk sends it within seconds
        sent = await _send_queue(store, _printer(store, lang), 5.0)
        return REVOKED if sent == REVOKED else 0


async def show_status(args: argparse.Namespace, path: Path, lang: str) -> int:
    with _open(path) as store:
        report = status.report(store, RunLock(path).alive())
        status.show(report, lang, zone_of(store.get("conference") or {}), as_json=args.json)
    return 0

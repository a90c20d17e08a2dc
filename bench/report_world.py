"""A provincial session shaped like Lai Châu's 2021 one (seeds 001: 145 bridge points,
11,873 delegates), signed off, and its report files: what a province sends upward.

    python -m bench.report_world --out /tmp/lai-chau     # report.pdf, .xlsx, .csv, page PNGs

The province (under the national root), its 8 district-level units with their real
names, 106 communes under them, and 30 provincial agencies; a hall per unit (the
province's own, the districts', the communes', the agencies'): 145 sites. The session's
scans, headcounts and silences come from bench/reconcile_world.py (judged by the
check-in rules); every flag is then resolved with a note, the conference signed off,
and the three report files written, with the PDF's pages as PNG to look at.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
from pathlib import Path

import asyncpg

from bench import reconcile_world
from bench.checkin_world import copy_roster
from bench.common import say
from diemcau import reconcile, reports
from diemcau.auth import CLI
from diemcau.db import connect
from diemcau.embedded import EmbeddedPostgres
from diemcau.migrate import migrate
from diemcau.queries.conferences import fetch_conference

CODE = "LC-NQ13"
DISTRICTS = {
    "TPLC": ("Thành phố Lai Châu", 7),
    "TDG": ("Huyện Tam Đường", 13),
    "PTO": ("Huyện Phong Thổ", 17),
    "SHO": ("Huyện Sìn Hồ", 22),
    "MTE": ("Huyện Mường Tè", 14),
    "TUY": ("Huyện Than Uyên", 12),
    "TNU": ("Huyện Tân Uyên", 10),
    "NNH": ("Huyện Nậm Nhùn", 11),
}  # 106 communes in all
COMMUNES = (
    "Bản Bo, Bản Giang, Bản Hon, Bình Lư, Giang Ma, Hồ Thầu, Khun Há, Nà Tăm, Nùng Nàng, "
    "Sơn Bình, Tả Lèng, Thèn Sin, Sùng Phài, Dào San, Mù Sang, Ma Li Pho, Mồ Sì San, "
    "Pa Vây Sử, Sì Lở Lầu, Vàng Ma Chải, Hoang Thèn, Bản Lang, Khổng Lào, Nậm Xe, Mường So, "
    "Lả Nhì Thàng, Huổi Luông, Sin Suối Hồ, Tông Qua Lìn, Pa Tần, Noong Hẻo, Nậm Tăm, "
    "Pu Sam Cáp, Làng Mô, Tả Phìn, Phìn Hồ, Hồng Thu, Nậm Cha, Căn Co, Chăn Nưa, Tả Ngảo, "
    "Xà Dề Phìn, Pa Khóa, Nậm Mạ, Ka Lăng, Thu Lũm, Pa Ủ, Mù Cả, Tá Bạ, Bum Nưa, Bum Tở, "
    "Nậm Khao, Vàng San, Kan Hồ, Pa Vệ Sủ, Tà Tổng, Phúc Than, Mường Than, Mường Cang, "
    "Mường Kim, Tà Hừa, Pha Mu, Tà Mung, Khoen On, Hua Nà, Ta Gia, Phúc Khoa, Trung Đồng, "
    "Pắc Ta, Mường Khoa, Thân Thuộc, Nậm Sỏ, Nậm Cần, Hố Mít, Tà Mít, Nậm Hàng, Lê Lợi, "
    "Nậm Pì, Nậm Manh, Hua Bum, Nậm Ban, Trung Chải, Mường Mô, Nậm Chà, Đông Phong, "
    "San Thàng, Tân Phong, Quyết Thắng, Quyết Tiến, Đoàn Kết, Nậm Loỏng, Lùng Thàng, Pa Họ, "
    "Phăng Sô Lin, Chu Va, Hua Ngò, Lản Nhì Thàng, Nậm Lỏng, Tả Giàng Phìn, Mường Tè, "
    "Nậm Hăn, Ma Quai, Tả Tổng, Sì Pa Phìn, Phìn Ngan, Mường Mít, Pha Mu Trên, Nậm Sỏ Dưới, "
    "Bản Bo Mới"
).split(", ")
AGENCIES = (
    "Đảng ủy Khối Cơ quan - Doanh nghiệp tỉnh", "Bộ Chỉ huy Quân sự tỉnh", "Công an tỉnh",
    "Bộ Chỉ huy Bộ đội Biên phòng tỉnh", "Trường Chính trị tỉnh", "Sở Giáo dục và Đào tạo",
    "Sở Y tế", "Sở Tài chính", "Sở Kế hoạch và Đầu tư", "Sở Nông nghiệp và PTNT",
    "Sở Giao thông vận tải", "Sở Xây dựng", "Sở Tư pháp", "Sở Nội vụ",
    "Sở Công Thương", "Sở Tài nguyên và Môi trường", "Sở Thông tin và Truyền thông",
    "Sở Văn hóa, Thể thao và Du lịch", "Sở Lao động - Thương binh và Xã hội",
    "Sở Khoa học và Công nghệ", "Thanh tra tỉnh", "Ban Dân tộc tỉnh", "Báo Lai Châu",
    "Đài Phát thanh và Truyền hình tỉnh", "Ngân hàng Nhà nước chi nhánh Lai Châu",
    "Kho bạc Nhà nước tỉnh", "Cục Thuế tỉnh", "Bảo hiểm xã hội tỉnh", "Điện lực Lai Châu",
    "Bệnh viện Đa khoa tỉnh",
)  # fmt: skip


def commune_names() -> list[str]:
    return list(COMMUNES[:106])


async def make_province(conn: asyncpg.Connection) -> list[int]:
    """VN > LC > districts > communes, LC > agencies; a hall for each."""
    await conn.execute(
        """INSERT INTO units (code, name, level, path) VALUES ('VN', 'Việt Nam', 'national', '/VN/');
           INSERT INTO units (code, name, level, parent_id, path)
           SELECT 'LC', 'Tỉnh Lai Châu', 'province', id, '/VN/LC/' FROM units WHERE code = 'VN';"""
    )
    rnd = random.Random(145)
    units: list[tuple[str, str, str, str, str]] = []  # code, name, level, parent, hall
    units.append(("LC", "Tỉnh Lai Châu", "province", "", "Hội trường Tỉnh ủy Lai Châu"))
    names = iter(commune_names())
    for code, (name, communes) in DISTRICTS.items():
        units.append((code, name, "district", "LC", f"Hội trường {name}"))
        for i in range(communes):
            commune = next(names)
            kind = "Phường" if code == "TPLC" else "Xã"
            units.append((f"{code}-{i + 1:02d}", f"{kind} {commune}", "commune", code,
                          f"Hội trường UBND {kind.lower()} {commune}"))  # fmt: skip
    for i, name in enumerate(AGENCIES):
        units.append((f"CQ{i + 1:02d}", name, "agency", "LC", f"Phòng họp {name}"))
    for code, name, level, parent, _ in units[1:]:
        await conn.execute(
            """INSERT INTO units (code, name, level, parent_id, path)
               SELECT $1, $2, $3, id, path || $1 || '/' FROM units WHERE code = $4""",
            code,
            name,
            level,
            parent,
        )
    for i, (code, _, level, _, hall) in enumerate(units):
        capacity = None if rnd.random() < 0.03 else rnd.choice((100, 120, 150, 200))
        if level == "province":
            capacity = 400
        await conn.execute(
            """INSERT INTO sites (code, name, unit_id, level, capacity, status)
               SELECT $1, $2, id, $3, $4, 'ready' FROM units WHERE code = $5""",
            f"LC{i:03d}",
            hall,
            level,
            capacity,
            code,
        )
    return [r["id"] for r in await conn.fetch("SELECT id FROM sites ORDER BY code")]


async def build(conn: asyncpg.Connection, delegates: int = 11_873) -> None:
    await migrate(conn)
    site_ids = await make_province(conn)
    plan = await reconcile_world.make_conference(conn, CODE, site_ids)
    # A province's session: most halls near full (the bench's world is emptier).
    rnd = random.Random(13)
    plan.came = {s: min(0.998, max(0.9, rnd.gauss(0.975, 0.02))) for s in site_ids}
    await conn.execute(
        """UPDATE conferences SET title = 'Hội nghị trực tuyến học tập, quán triệt Nghị quyết
           Đại hội đại biểu toàn quốc lần thứ XIII của Đảng', unit_id = (SELECT id FROM units
           WHERE code = 'LC') WHERE id = $1""".replace("\n           ", " "),
        plan.conference_id,
    )
    say(f"{CODE}: {len(site_ids)} sites, roster of {delegates:,}")
    await copy_roster(conn, plan.conference_id, site_ids, delegates, 1)
    await reconcile_world.write_session(conn, plan, 2)
    await reconcile_world.write_tallies(conn, plan)
    await reconcile_world.write_headcounts(conn, plan, 3)
    await reconcile_world.silence_kiosks(conn, plan, 4)


NOTES = {
    "headcount_mismatch": ("accept_scans", "Số điểm danh đúng; tổ kỹ thuật đếm nhầm"),
    "over_capacity": ("accept_headcount", "Kê thêm ghế ở hành lang"),
    "no_checkins": ("accept_scans", "Điểm cầu không tổ chức, đã báo cáo bằng văn bản"),
    "no_headcount": ("accept_scans", "Tổ kỹ thuật không báo số đếm; lấy số điểm danh"),
    "kiosk_silent": ("accept_scans", "Mất điện ngắn, máy tự gửi lại khi có mạng"),
    "hall_emptied": ("accept_headcount", "Một số đồng chí về trước vì công tác đột xuất"),
    "under_target": ("accept_scans", "Đã lập danh sách học bù"),
    "many_moved": ("accept_scans", "Đại biểu dự ở điểm cầu gần nơi công tác"),
}


async def sign(conn: asyncpg.Connection) -> None:
    conference = await fetch_conference(conn, CODE)
    rec = await reconcile.reconciliation(conn, conference)
    for flag in rec.open_flags():
        action, note = NOTES[flag.kind]
        data = reconcile.ResolveIn(action=action, note=note)
        await reconcile.resolve(conn, CLI, conference, flag.id, data)
    conference = await fetch_conference(conn, CODE)
    await reconcile.sign_off(conn, CLI, conference)


async def write_reports(conn: asyncpg.Connection, out: Path) -> list[Path]:
    conference = await fetch_conference(conn, CODE)
    rec, stamp = await reports.report_of(conn, conference)
    written = []
    for kind in reports.FORMATS:
        path = out / f"report.{kind}"
        path.write_bytes(reports.render(kind, rec, stamp))
        written.append(path)
    return written


def pages(pdf: Path, scale: float = 1.5) -> list[Path]:
    import pypdfium2

    doc = pypdfium2.PdfDocument(str(pdf))
    out = []
    for i in range(len(doc)):
        png = pdf.with_name(f"page-{i + 1:02d}.png")
        doc[i].render(scale=scale).to_pil().save(png)
        out.append(png)
    return out


async def run(dsn: str, out: Path) -> None:
    conn = await connect(dsn)
    try:
        await build(conn)
        await sign(conn)
        for path in await write_reports(conn, out):
            say(f"wrote {path}")
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report_world")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="diemcau-report-world-") as tmp:
        embedded = EmbeddedPostgres(Path(tmp) / "pg")
        dsn = embedded.start()
        try:
            asyncio.run(run(dsn, args.out))
        finally:
            embedded.stop()
    for png in pages(args.out / "report.pdf"):
        say(f"page {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

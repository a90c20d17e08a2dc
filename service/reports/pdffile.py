"""`report.pdf`: A4 portrait, in Vietnamese (or English) with the fonts the package ships
for badges (Noto Sans): the headline lines in the provinces' own form, the totals
against the targets, the sites by level, a table per unit level, a chart of each unit's
rates against the targets, the flags and their resolutions, and the stamp (signed off
at, or DRAFT across every page, and the SHA-256) on the first page and at the foot of
every page. Numbers as Vietnamese readers write them (`11.873`, `97,87%`).

The file depends on the figures and the stamp alone (reportlab's invariant mode: no
creation time, no random ids), so `diemcau report --verify` can render it again and
compare the bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from typing import Any

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    LongTable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable

from diemcau import figures
from diemcau.badges import BOLD, REGULAR, register_fonts
from diemcau.reconcile import words
from diemcau.reconcile.model import CATEGORIES, Reconciliation, Tally, UnitRow
from diemcau.reports.common import (
    CATEGORY,
    Stamp,
    headline,
    level_word,
    local,
    span,
    stamp_lines,
)
from diemcau.units import LEVELS

PAGE_W, PAGE_H = A4
MARGIN = 16 * mm
WIDTH = PAGE_W - 2 * MARGIN
INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#666666")
RED = colors.HexColor("#b00020")
HEAD = colors.HexColor("#dde6f0")
STRIPE = colors.HexColor("#f5f7fa")
GROUP = colors.HexColor("#eceff3")
MEMBER = colors.HexColor("#2f5d8a")
NON_MEMBER = colors.HexColor("#5a9a5a")
CHART_ROWS = 18  # units per chart: two charts a page, the first beside the tables above it


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=REGULAR, fontSize=9.5, leading=12.5, textColor=INK)
    return {
        "base": base,
        "title": ParagraphStyle(
            "title", base, fontName=BOLD, fontSize=15, leading=19, alignment=TA_CENTER, spaceAfter=2
        ),
        "subtitle": ParagraphStyle("subtitle", base, fontSize=11, leading=14, alignment=TA_CENTER),
        "centre": ParagraphStyle("centre", base, alignment=TA_CENTER, textColor=MUTED),
        "h2": ParagraphStyle(
            "h2", base, fontName=BOLD, fontSize=11.5, leading=15, spaceBefore=10, spaceAfter=4
        ),
        "line": ParagraphStyle(
            "line", base, fontSize=10.5, leading=14.5, leftIndent=8, bulletIndent=0, spaceAfter=2
        ),
        "cell": ParagraphStyle("cell", base, fontSize=7.8, leading=9.4),
        "group": ParagraphStyle("group", base, fontName=BOLD, fontSize=7.8, leading=9.4),
        "stamp": ParagraphStyle("stamp", base, fontName=BOLD, fontSize=9.5, leading=12.5),
        "hash": ParagraphStyle("hash", base, fontSize=8.2, leading=10.5),
    }


# Signs the shipped Noto Sans lacks, as the text says them otherwise.
MISSING = str.maketrans({"→": "›", "≥": ">=", "≤": "<="})


def _esc(text: str) -> str:
    text = text.translate(MISSING)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Words:
    def __init__(self, language: str) -> None:
        self.lang = language
        self.vi = language != "en"

    def __call__(self, vi: str, en: str) -> str:
        return vi if self.vi else en

    def n(self, value: int | None) -> str:
        return "-" if value is None else figures.number(value, 0, self.lang)

    def pct(self, value: float | None) -> str:
        return figures.percent(value, self.lang)


def _table(
    rows: list[list[Any]],
    widths: Sequence[float],
    numeric_from: int,
    red: Sequence[tuple[int, int]] = (),
    bold_last: bool = False,
) -> LongTable:
    head = ParagraphStyle("head", fontName=BOLD, fontSize=7.4, leading=8.8, textColor=INK)
    right = ParagraphStyle("head-right", head, alignment=TA_RIGHT)
    rows = [
        [
            Paragraph(_esc(cell), right if i >= numeric_from else head)
            if isinstance(cell, str)
            else cell
            for i, cell in enumerate(rows[0])
        ],
        *rows[1:],
    ]
    table = LongTable(rows, colWidths=list(widths), repeatRows=1)
    style = [
        ("FONT", (0, 0), (-1, -1), REGULAR, 7.8),
        ("FONT", (0, 0), (-1, 0), BOLD, 7.8),
        ("BACKGROUND", (0, 0), (-1, 0), HEAD),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, INK),
        ("LINEBELOW", (0, -1), (-1, -1), 0.6, INK),
        ("TOPPADDING", (0, 0), (-1, -1), 1.6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.6),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
    ]
    for i in range(2, len(rows), 2):
        style.append(("BACKGROUND", (0, i), (-1, i), STRIPE))
    for col, row in red:
        style.append(("TEXTCOLOR", (col, row), (col, row), RED))
        style.append(("FONT", (col, row), (col, row), BOLD, 7.8))
    if bold_last:
        style.append(("FONT", (0, -1), (-1, -1), BOLD, 7.8))
        style.append(("LINEABOVE", (0, -1), (-1, -1), 0.6, INK))
    table.setStyle(TableStyle(style))
    return table


def _under(rate: float | None, target: float | None) -> bool:
    return rate is not None and target is not None and rate < target


class Report:
    def __init__(
        self,
        rec: Reconciliation,
        s: Stamp,
        tag: str,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        self.rec, self.s, self.tag, self.progress = rec, s, tag, progress
        self.w = Words(s.language)
        self.st = _styles()
        self.zone = rec.conference.timezone

    # The parts, in order.

    def title(self) -> list[Flowable]:
        c, w = self.rec.conference, self.w
        out: list[Flowable] = [
            Paragraph(
                w("BÁO CÁO KẾT QUẢ ĐIỂM DANH HỘI NGHỊ", "CONFERENCE ATTENDANCE REPORT"),
                self.st["title"],
            ),
            Paragraph(_esc(c.title), self.st["subtitle"]),
            Paragraph(
                _esc(
                    f"{w('Mã hội nghị', 'Conference')} {c.code} · "
                    f"{span(c.starts_at, c.ends_at, self.zone, w.lang)}"
                ),
                self.st["centre"],
            ),
        ]
        if self.rec.scope is not None:
            unit = next((u for u in self.rec.units if u.unit_code == self.rec.scope), None)
            name = f"{unit.unit_name} ({unit.unit_code})" if unit else self.rec.scope
            out.append(Paragraph(_esc(w("Phạm vi: ", "Scope: ") + name), self.st["centre"]))
        out.append(Spacer(1, 4 * mm))
        out.append(self.stamp_box())
        return out

    def stamp_box(self) -> Flowable:
        first, second = stamp_lines(self.s, self.zone)
        colour = INK if self.s.signed else RED
        rows = [
            [Paragraph(_esc(first), ParagraphStyle("s", self.st["stamp"], textColor=colour))],
            [Paragraph(_esc(second), self.st["hash"])],
        ]
        if self.rec.scope is not None:
            rows.append(
                [
                    Paragraph(
                        _esc(
                            self.w(
                                "Mã băm là của toàn bộ hội nghị; báo cáo này là phần của đơn vị.",
                                "The hash is the whole conference's; this report is the unit's part.",
                            )
                        ),
                        self.st["hash"],
                    )
                ]
            )
        box = LongTable(rows, colWidths=[WIDTH])
        box.setStyle(
            TableStyle(
                [("BOX", (0, 0), (-1, -1), 0.8, colour), ("LEFTPADDING", (0, 0), (-1, -1), 6)]
            )
        )
        return box

    def headline(self) -> list[Flowable]:
        out: list[Flowable] = [Paragraph(self.w("Kết quả chung", "Summary"), self.st["h2"])]
        for line in headline(self.rec, self.s.language):
            out.append(Paragraph(_esc(line), self.st["line"], bulletText="•"))
        return out

    def totals(self) -> list[Flowable]:
        w, t, targets = self.w, self.rec.totals, self.rec.targets
        rows: list[list[Any]] = [
            [
                w("Thành phần", "Category"),
                w("Dự kiến", "Expected"),
                w("Điểm danh", "Checked in"),
                w("Tỷ lệ", "Rate"),
                w("Chỉ tiêu (tối thiểu)", "Target (at least)"),
                w("Kết quả", "Result"),
            ]
        ]
        red = []
        for cat in CATEGORIES:
            rate, target = t.rates[cat], targets.get(cat)
            verdict = "-"
            if rate is not None and target is not None:
                verdict = w("chưa đạt", "not met") if _under(rate, target) else w("đạt", "met")
            if _under(rate, target):
                red += [(3, len(rows)), (5, len(rows))]
            goal = "-" if target is None else figures.percent(target, w.lang, 0)
            rows.append(
                [
                    CATEGORY[cat].text(w.lang),
                    w.n(t.expected.get(cat)),
                    w.n(t.checked_in.get(cat)),
                    w.pct(rate),
                    goal,
                    verdict,
                ]
            )
        rows.append([w("Vãng lai", "Walk-ins"), "", w.n(t.walk_ins.total), "", "", ""])
        rows.append(
            [
                w("Tổng số người dự", "Attended in all"),
                w.n(t.expected.total),
                w.n(t.checked_in.total + t.walk_ins.total),
                "",
                "",
                "",
            ]
        )
        widths = [WIDTH * f for f in (0.28, 0.14, 0.14, 0.14, 0.14, 0.16)]
        return [Spacer(1, 2 * mm), _table(rows, widths, 1, red, bold_last=True)]

    def tally_row(
        self, label: Any, t: Tally, row_index: int, red: list[tuple[int, int]], first: int
    ) -> list[Any]:
        w = self.w
        out = [label, w.n(t.sites)]
        for i, cat in enumerate(("member", "non_member")):
            rate = t.rates[cat]
            if _under(rate, self.rec.targets.get(cat)):
                red.append((first + 4 + 3 * i, row_index))
            out += [w.n(t.expected.get(cat)), w.n(t.checked_in.get(cat)), w.pct(rate)]
        out.append(w.n(t.walk_ins.total))
        return out

    def tally_heading(self, first: list[str]) -> list[str]:
        w = self.w
        return [
            *first,
            w("Số điểm cầu", "Sites"),
            w("ĐV dự kiến", "Members exp."),
            w("ĐV điểm danh", "Members in"),
            w("Tỷ lệ ĐV", "Member rate"),
            w("QC dự kiến", "Non-mem. exp."),
            w("QC điểm danh", "Non-mem. in"),
            w("Tỷ lệ QC", "Non-mem. rate"),
            w("Vãng lai", "Walk-ins"),
        ]

    def levels(self) -> list[Flowable]:
        w = self.w
        rows: list[list[Any]] = [self.tally_heading([w("Điểm cầu cấp", "Sites of level")])]
        red: list[tuple[int, int]] = []
        for lv in self.rec.levels:
            rows.append(self.tally_row(level_word(lv.level, w.lang), lv.tally, len(rows), red, 0))
        rows.append(self.tally_row(w("Tổng", "Total"), self.rec.totals, len(rows), red, 0))
        widths = [WIDTH * 0.2] + [WIDTH * 0.1] * 8
        return [
            Paragraph(w("Điểm cầu theo cấp", "Sites by level"), self.st["h2"]),
            _table(rows, widths, 1, red, bold_last=True),
        ]

    def unit_tables(self) -> list[Flowable]:
        """A table per unit level, from the top; a level whose one unit holds every site
        (the province above its own report) says nothing the totals do not, and is left
        out. Below the first level shown, units are grouped under their parent's name."""
        w, out = self.w, []
        by_level: dict[str, list[UnitRow]] = {}
        for u in self.rec.units:
            by_level.setdefault(u.level, []).append(u)
        names = {u.unit_code: u.unit_name for u in self.rec.units}
        everything = self.rec.totals.sites
        for level in LEVELS:
            units = by_level.get(level)
            if not units or all(u.tally.sites == everything for u in units):
                continue
            rows: list[list[Any]] = [self.tally_heading([w("Đơn vị", "Unit")])]
            red: list[tuple[int, int]] = []
            groups: list[int] = []
            parents = {u.parent_code for u in units}
            last: str | None = "\x00"
            for u in sorted(units, key=lambda u: (u.parent_code or "", u.unit_name, u.unit_code)):
                if len(parents) > 1 and u.parent_code != last:
                    last = u.parent_code
                    groups.append(len(rows))
                    parent = names.get(u.parent_code or "", u.parent_code or "")
                    rows.append([Paragraph(_esc(parent), self.st["group"])] + [""] * 8)
                name = Paragraph(_esc(f"{u.unit_name} ({u.unit_code})"), self.st["cell"])
                rows.append(self.tally_row(name, u.tally, len(rows), red, 0))
            widths = [WIDTH * 0.26] + [WIDTH * 0.0925] * 8
            heading = w(
                f"Đơn vị {level_word(level, 'vi').lower()}",
                f"Units: {level_word(level, 'en').lower()}",
            )
            table = _table(rows, widths, 1, red)
            table.setStyle(
                TableStyle(
                    [
                        cmd
                        for g in groups
                        for cmd in (
                            ("SPAN", (0, g), (-1, g)),
                            ("BACKGROUND", (0, g), (-1, g), GROUP),
                        )
                    ]
                )
            )
            out += [
                CondPageBreak(40 * mm),
                Paragraph(_esc(f"{heading} ({w.n(len(units))})"), self.st["h2"]),
                table,
            ]
        return out

    def chart_units(self) -> list[UnitRow]:
        """The units a reader compares: from the top of the tree, down while a unit has
        one child only (the country above a province), then that unit's children."""
        children: dict[str | None, list[UnitRow]] = {}
        codes = {u.unit_code for u in self.rec.units}
        for u in self.rec.units:
            parent = u.parent_code if u.parent_code in codes else None
            children.setdefault(parent, []).append(u)
        level = children.get(None, [])
        while len(level) == 1 and children.get(level[0].unit_code):
            level = children[level[0].unit_code]
        order = {lv: i for i, lv in enumerate(LEVELS)}
        return sorted(level, key=lambda u: (order.get(u.level, 9), u.unit_name))

    def charts(self) -> list[Flowable]:
        units = self.chart_units()
        if not units:
            return []
        w, out = self.w, []
        title = w(
            "Tỷ lệ điểm danh của từng đơn vị so với chỉ tiêu",
            "Each unit's attendance rate against the targets",
        )
        axis = self.axis(units)
        charts = -(-len(units) // CHART_ROWS)
        size = -(-len(units) // charts)  # as even as they go: 38 units are 13, 13 and 12
        for start in range(0, len(units), size):
            part = units[start : start + size]
            shown = title if start == 0 else title + w(" (tiếp)", " (continued)")
            chart = self.chart(part, axis)
            out.append(KeepTogether([Paragraph(_esc(shown), self.st["h2"]), chart]))
        return out

    def axis(self, units: list[UnitRow]) -> tuple[int, int]:
        """The rate axis in whole percents, in steps of 10: from below the lowest rate or
        target (rates of a session sit between 90% and 100%; from 0 they would all look
        alike) to 100%, or past it where moved-in people put a unit over its roster."""
        shown = [
            r
            for u in units
            for r in (u.tally.rates["member"], u.tally.rates["non_member"])
            if r is not None
        ] + [t for t in self.rec.targets.values() if t is not None]
        low = min(shown, default=0.0)
        high = max(shown, default=1.0)
        start = math.floor(low * 10) * 10
        if start >= low * 100:
            start -= 10  # a bar exactly on the axis's start would not show
        end = max(100, math.ceil(high * 10) * 10)
        return max(0, min(80, start)), end

    def chart(self, units: list[UnitRow], axis: tuple[int, int]) -> Drawing:
        w, targets = self.w, self.rec.targets
        label_w, row_h, top_pad, bottom_pad = 170.0, 16.0, 22.0, 26.0
        plot_w = WIDTH - label_w - 36
        height = top_pad + row_h * len(units) + bottom_pad
        d = Drawing(WIDTH, height)
        x0 = label_w
        start, end = axis

        def x(rate: float) -> float:
            share = (rate * 100 - start) / (end - start)
            return x0 + plot_w * max(0.0, min(share, 1.0))

        y_top = height - top_pad
        grid = colors.HexColor("#d0d0d0")
        # Legend: the two categories, then the two targets.
        lx = x0
        for colour, name in (
            (MEMBER, CATEGORY["member"].text(w.lang)),
            (NON_MEMBER, CATEGORY["non_member"].text(w.lang)),
        ):
            d.add(Rect(lx, height - 12, 9, 7, fillColor=colour, strokeColor=None))
            d.add(String(lx + 12, height - 11.5, name, fontName=REGULAR, fontSize=7.5))
            lx += 26 + pdfmetrics.stringWidth(name, REGULAR, 7.5)
        for cat, colour in (("member", MEMBER), ("non_member", NON_MEMBER)):
            target = targets.get(cat)
            if target is None:
                continue
            name = w(
                f"chỉ tiêu {CATEGORY[cat].text('vi').lower()}",
                f"{CATEGORY[cat].text('en').lower()} target",
            )
            label = f"{name} {figures.percent(target, w.lang, 0)}"
            d.add(Line(lx, height - 8.5, lx + 10, height - 8.5, strokeColor=colour,
                       strokeWidth=1.2, strokeDashArray=[2, 1.5]))  # fmt: skip
            d.add(String(lx + 13, height - 11.5, label, fontName=REGULAR, fontSize=7.5))
            lx += 27 + pdfmetrics.stringWidth(label, REGULAR, 7.5)
        for i in range(start, end + 1, 10):
            gx = x(i / 100)
            d.add(Line(gx, bottom_pad - 4, gx, y_top, strokeColor=grid, strokeWidth=0.4))
            d.add(String(gx, bottom_pad - 13, f"{i}%", fontName=REGULAR, fontSize=7,
                         textAnchor="middle", fillColor=MUTED))  # fmt: skip
        if start > 0:
            note = w(f"(trục bắt đầu từ {start}%)", f"(axis starts at {start}%)")
            d.add(String(x0, 2, note, fontName=REGULAR, fontSize=6.5, fillColor=MUTED))
        for i, u in enumerate(units):
            y = y_top - (i + 1) * row_h
            name = u.unit_name
            while pdfmetrics.stringWidth(name, REGULAR, 7.5) > label_w - 8 and len(name) > 4:
                name = name[:-2].rstrip() + "…"
            d.add(String(label_w - 5, y + 5.5, name, fontName=REGULAR, fontSize=7.5,
                         textAnchor="end"))  # fmt: skip
            for j, (cat, colour) in enumerate((("member", MEMBER), ("non_member", NON_MEMBER))):
                rate = u.tally.rates[cat]
                if rate is None:
                    continue
                by = y + 8.4 - j * 6.6
                under = _under(rate, targets.get(cat))
                d.add(Rect(x0, by, max(x(rate) - x0, 0.5), 5.4, fillColor=colour,
                           strokeColor=None))  # fmt: skip
                d.add(String(x(rate) + 2, by + 0.6, figures.percent(rate, w.lang),
                             fontName=BOLD if under else REGULAR, fontSize=5.8,
                             fillColor=RED if under else MUTED))  # fmt: skip
        for cat, colour in (("member", MEMBER), ("non_member", NON_MEMBER)):
            target = targets.get(cat)
            if target is not None:
                tx = x(target)
                d.add(Line(tx, bottom_pad - 2, tx, y_top + 2, strokeColor=colour,
                           strokeWidth=1.1, strokeDashArray=[3, 2]))  # fmt: skip
        return d

    def flags(self) -> list[Flowable]:
        w, st = self.w, self.st
        flags = self.rec.flags
        open_ = len(self.rec.open_flags())
        out: list[Flowable] = [
            CondPageBreak(40 * mm),
            Paragraph(
                _esc(
                    w(
                        f"Cờ đối soát và cách xử lý ({w.n(len(flags))}; chưa xử lý: {w.n(open_)})",
                        f"Flags and their resolutions ({w.n(len(flags))}; open: {w.n(open_)})",
                    )
                ),
                st["h2"],
            ),
        ]
        if not flags:
            out.append(Paragraph(w("Không có cờ nào.", "No flags."), st["base"]))
            return out
        rows: list[list[Any]] = [
            [
                w("Điểm cầu", "Site"),
                w("Loại", "Kind"),
                w("Số liệu", "Numbers"),
                w("Xử lý", "Resolution"),
            ]
        ]
        red = []
        sites = {row.site_code: row.site_name for row in self.rec.sites}
        for f in flags:
            r = f.resolution
            if r is None:
                settled = w("CHƯA XỬ LÝ", "OPEN")
                red.append((3, len(rows)))
            else:
                settled = (
                    f"{words.resolution_text(r, w.lang)} ({r.by}, {local(r.at, self.zone)[:16]})"
                )
            rows.append(
                [
                    Paragraph(_esc(f"{f.site_code} {sites.get(f.site_code, '')}"), st["cell"]),
                    Paragraph(_esc(words.KINDS[f.kind].text(w.lang)), st["cell"]),
                    Paragraph(_esc(words.summary(f, w.lang)), st["cell"]),
                    Paragraph(_esc(settled), st["cell"]) if r else settled,
                ]
            )
        widths = [WIDTH * f for f in (0.22, 0.15, 0.31, 0.32)]
        out.append(_table(rows, widths, 99, red))
        return out

    def closing(self) -> list[Flowable]:
        w = self.w
        text = w(
            "Số liệu tính từ các lượt quét, số đếm tại hội trường và cách xử lý cờ đã lưu; "
            "nhật ký lượt quét (diemcau scans) cho phép lần lại từng con số. "
            "Kiểm tra tệp này: diemcau report --verify TỆP.",
            "Figures computed from the stored scans, headcounts and flag resolutions; the scan "
            "log (diemcau scans) traces every figure. Check this file: diemcau report --verify FILE.",
        )
        return [
            Spacer(1, 5 * mm),
            Paragraph(_esc(text), self.st["hash"]),
            Spacer(1, 2 * mm),
            self.stamp_box(),
        ]

    # The page: a foot on every page, DRAFT across a draft's pages.

    def page(self, canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        if not self.s.signed:
            canvas.setFillColor(colors.Color(0.75, 0.1, 0.1, alpha=0.08))
            canvas.setFont(BOLD, 90)
            canvas.translate(PAGE_W / 2, PAGE_H / 2)
            canvas.rotate(52)
            canvas.drawCentredString(0, -30, self.w("BẢN NHÁP", "DRAFT"))
            canvas.rotate(-52)
            canvas.translate(-PAGE_W / 2, -PAGE_H / 2)
        canvas.setFont(REGULAR, 7)
        canvas.setFillColor(MUTED)
        state = (
            self.w("Đã ký xác nhận", "Signed off") if self.s.signed else self.w("BẢN NHÁP", "DRAFT")
        )
        left = f"{self.rec.conference.code} · {state} · SHA-256 {self.s.sha256}"
        canvas.drawString(MARGIN, 9 * mm, left)
        canvas.drawRightString(
            PAGE_W - MARGIN, 9 * mm, self.w(f"Trang {doc.page}", f"Page {doc.page}")
        )
        canvas.restoreState()

    def _heard(self, total: int) -> Callable[[str, int], None]:
        report = self.progress
        assert report is not None

        size = [total]

        def hear(kind: str, value: int) -> None:
            if kind == "SIZE_EST":
                size[0] = max(value, 1)
            elif kind == "PROGRESS":
                report(min(value, size[0]), size[0])

        return hear

    def build(self) -> bytes:
        register_fonts()
        out = io.BytesIO()
        c = self.rec.conference
        doc = SimpleDocTemplate(
            out,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=14 * mm,
            bottomMargin=16 * mm,
            title=f"{c.code}: {c.title}",
            author="diemcau",
            subject=f"report_sha256={self.s.sha256}",
            keywords=self.tag,
            invariant=1,
        )
        story = [
            *self.title(),
            *self.headline(),
            *self.totals(),
            *self.levels(),
            *self.unit_tables(),
            *self.charts(),
            *self.flags(),
            *self.closing(),
        ]
        if self.progress is not None:
            doc.setProgressCallBack(self._heard(len(story)))
        doc.build(story, onFirstPage=self.page, onLaterPages=self.page)
        return out.getvalue()


def report_pdf(
    rec: Reconciliation,
    s: Stamp,
    tag: str,
    progress: Callable[[int, int | None], None] | None = None,
) -> bytes:
    return Report(rec, s, tag, progress).build()

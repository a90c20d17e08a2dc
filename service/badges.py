"""Badge sheets (A4 PDF, 8 badges a page with cut marks) and phone passes (PNG).

Pure and CPU-bound: callers run these in an executor (a process pool for big batches),
with the codes already signed, so no key ever reaches a rendering process. Text is drawn
with the bundled Noto Sans (SIL OFL), which has every Vietnamese letter; names are NFC.
Each QR is one pixel a module, scaled up by the PDF viewer without smoothing, instead of
hundreds of rectangles: a page stays small and renders fast.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.rl_accel import asciiBase85Encode, fp_str
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from diemcau import qr

# Binary streams: ASCII85 only makes PDFs bigger and costs a pure-Python pass per image.
rl_config.useA85 = 0
FONTS = Path(__file__).with_name("fonts")
REGULAR, BOLD = "NotoSans", "NotoSans-Bold"
CATEGORY_LABELS = {"member": "Đảng viên", "non_member": "Quần chúng", "guest": "Khách mời"}

# The sheet: 2 x 4 badges of 95 x 68 mm, centred on A4 portrait, edge to edge so that one
# cut serves two badges.
COLUMNS, ROWS = 2, 4
PER_PAGE = COLUMNS * ROWS
BADGE_W, BADGE_H = 95 * mm, 68 * mm
PAGE_W, PAGE_H = A4
LEFT = (PAGE_W - COLUMNS * BADGE_W) / 2
BOTTOM = (PAGE_H - ROWS * BADGE_H) / 2
PAD = 4 * mm
# The code itself (41 modules) is 38 mm wide, 0.93 mm a module; with its quiet zone, 45 mm.
# It fills the height under the header (which ends about 51 mm up the badge), and leaves
# a text column of 43.6 mm, wide enough for a four-word name at 12 pt on one line.
QR_SYMBOL = 38 * mm
QR_SIZE = QR_SYMBOL * qr.SIDE / qr.SIZE  # quiet zone included
# The quiet zone reaches to 1 mm from the cut, so the badge keeps 4.7 mm of white round
# the code even when a cut strays by a millimetre.
QR_EDGE = 1 * mm
TEXT_W = BADGE_W - PAD - QR_SIZE - QR_EDGE - 1 * mm


@dataclass(frozen=True, slots=True)
class Sheet:
    """What is the same on every badge of one site's sheets."""

    conference_title: str
    conference_date: str  # already formatted, e.g. "Ngày 15/03/2025"
    site_name: str
    site_code: str


@dataclass(frozen=True, slots=True)
class Badge:
    full_name: str
    category: str
    unit_name: str
    code: str  # the signed credential text


@cache
def register_fonts() -> None:
    """Load the fonts once per process (a forked render pool inherits them)."""
    pdfmetrics.registerFont(TTFont(REGULAR, str(FONTS / "NotoSans-Regular.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(FONTS / "NotoSans-Bold.ttf")))


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text or "").strip()


@lru_cache(maxsize=4096)
def wrap(text: str, font: str, size: float, width: float, max_lines: int) -> tuple[str, ...]:
    """Greedy word wrap; a last line that still overflows is cut with an ellipsis.

    Cached: unit names, site names and titles repeat on every badge of a sheet.
    """
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and pdfmetrics.stringWidth(candidate, font, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] += " …"
    while lines and pdfmetrics.stringWidth(lines[-1], font, size) > width and len(lines[-1]) > 2:
        lines[-1] = lines[-1][:-3].rstrip() + "…"
    return tuple(lines)


def _name_lines(name: str) -> tuple[tuple[str, ...], float]:
    """The name on one line when it fits there at 12 pt or more (a name is not split
    while a smaller size keeps it whole); else as big as it fits in three lines."""
    for size in (15.0, 13.5, 12.0):
        if pdfmetrics.stringWidth(name, BOLD, size) <= TEXT_W:
            return (name,), size
    for size in (15.0, 13.5, 12.0, 10.5):
        lines = wrap(name, BOLD, size, TEXT_W, 99)
        if len(lines) <= 3 and all(pdfmetrics.stringWidth(x, BOLD, size) <= TEXT_W for x in lines):
            return lines, size
    return wrap(name, BOLD, 9.0, TEXT_W, 3), 9.0


def _draw_lines(
    c: Canvas, x: float, top: float, lines: Sequence[str], font: str, size: float
) -> float:
    """Draw lines downwards from `top` (their cap line); answer the y below the last one."""
    leading = size * 1.22
    c.setFont(font, size)
    y = top - size
    for line in lines:
        c.drawString(x, y, line)
        y -= leading
    return y + leading - size * 0.35


def _define_static(c: Canvas, sheet: Sheet) -> float:
    """What every badge of the sheet shares, drawn once as a form; answers where the
    delegate's own lines start (from the badge's bottom)."""
    c.beginForm(_FORM)
    top = BADGE_H - PAD
    width = BADGE_W - 2 * PAD
    y = _draw_lines(c, PAD, top, wrap(sheet.conference_title, BOLD, 8, width, 2), BOLD, 8)
    y = _draw_lines(c, PAD, y - 1, [sheet.conference_date], REGULAR, 7.5)
    c.setLineWidth(0.4)
    c.line(PAD, y - 1.2 * mm, BADGE_W - PAD, y - 1.2 * mm)
    site = wrap(f"Điểm cầu: {sheet.site_name}", REGULAR, 7.5, TEXT_W, 2)
    bottom = 3 * mm + (len(site) + 1) * 7.5 * 1.22
    y_site = _draw_lines(c, PAD, bottom, site, REGULAR, 7.5)
    _draw_lines(c, PAD, y_site - 0.6 * mm, [f"Mã điểm cầu: {sheet.site_code}"], REGULAR, 7.5)
    c.endForm()
    return y - 3 * mm


_FORM = "sheet"


def _draw_badge(c: Canvas, body_top: float, badge: Badge) -> None:
    c.doForm(_FORM)
    _draw_qr(c, badge.code, BADGE_W - QR_EDGE - QR_SIZE, QR_EDGE, QR_SIZE)
    lines, size = _name_lines(badge.full_name)
    y = _draw_lines(c, PAD, body_top, lines, BOLD, size)
    label = CATEGORY_LABELS.get(badge.category, badge.category)
    y = _draw_lines(c, PAD, y - 2 * mm, [label], BOLD, 9)
    if badge.unit_name:
        unit = wrap(badge.unit_name, REGULAR, 7.5, TEXT_W, 2)
        _draw_lines(c, PAD, y - 1.2 * mm, unit, REGULAR, 7.5)


def _draw_qr(c: Canvas, code: str, x: float, y: float, size: float) -> None:
    """The QR as a 1-bit inline image, one pixel a module (viewers scale images up without
    smoothing unless told to). Inline rather than an image object: 343 bytes, no object or
    cross-reference entry per badge, and no zlib run of its own (the page is compressed)."""
    side = qr.SIDE
    c.addLiteral(
        f"q {fp_str(size, 0, 0, size, x, y)} cm\n"
        f"BI /W {side} /H {side} /BPC 1 /CS /G /F /A85 ID\n"
        f"{asciiBase85Encode(qr.packed(code))}\nEI Q"
    )


def _cut_marks(c: Canvas) -> None:
    """Marks in the margins along every cut line, and small crosses where cuts meet."""
    c.setLineWidth(0.3)
    xs = [LEFT + i * BADGE_W for i in range(COLUMNS + 1)]
    ys = [BOTTOM + j * BADGE_H for j in range(ROWS + 1)]
    gap, arm = 1.5 * mm, 6 * mm
    for x in xs:
        c.line(x, BOTTOM - gap, x, BOTTOM - gap - arm)
        c.line(x, ys[-1] + gap, x, ys[-1] + gap + arm)
    for y in ys:
        c.line(LEFT - gap, y, LEFT - gap - arm, y)
        c.line(xs[-1] + gap, y, xs[-1] + gap + arm, y)
    cross = 2 * mm
    for x in xs[1:-1]:
        for y in ys[1:-1]:
            c.line(x - cross, y, x + cross, y)
            c.line(x, y - cross, x, y + cross)


def badges_pdf(sheet: Sheet, badges: Sequence[Badge], *, title: str = "") -> bytes:
    """A4 sheets of badges for one site, filled left to right, top to bottom."""
    register_fonts()
    out = io.BytesIO()
    c = Canvas(out, pagesize=A4, pageCompression=1)
    c.setTitle(title or f"Thẻ đại biểu - {sheet.site_name}")
    c.setCreator("diemcau")
    c.setAuthor("diemcau")
    body_top = _define_static(c, sheet)
    for start in range(0, max(len(badges), 1), PER_PAGE):
        _cut_marks(c)
        for i, badge in enumerate(badges[start : start + PER_PAGE]):
            col, row = i % COLUMNS, i // COLUMNS
            c.saveState()
            c.translate(LEFT + col * BADGE_W, BOTTOM + (ROWS - 1 - row) * BADGE_H)
            _draw_badge(c, body_top, badge)
            c.restoreState()
        c.showPage()
    c.save()
    return out.getvalue()


# Phone pass: a portrait PNG to send by Zalo or e-mail and show at the entrance.
PASS_W, PASS_H = 720, 1280
PASS_QR_SCALE = 12  # 49 modules * 12 = 588 px
PASS_FOOTER = PASS_H - 70
RED, GREY = "#b71c1c", "#333333"


@cache
def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    name = "NotoSans-Bold.ttf" if bold else "NotoSans-Regular.ttf"
    return ImageFont.truetype(str(FONTS / name), size)


def _pass_wrap(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int
) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and draw.textlength(candidate, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    return [*lines, current] if current else lines


def _pass_text(
    draw: ImageDraw.ImageDraw, y: int, text: str, bold: bool, size: int, max_lines: int, fill: str
) -> int:
    font = _font(bold, size)
    lines = _pass_wrap(draw, text, font, PASS_W - 80)[:max_lines]
    for line in lines:
        draw.text((PASS_W // 2, y), line, font=font, fill=fill, anchor="ma")
        y += int(size * 1.3)
    return y


@lru_cache(maxsize=32)
def _pass_template(sheet: Sheet) -> tuple[Image.Image, int]:
    """The parts of a pass that every delegate of a site shares (band, title, date,
    footer), drawn once; answers the image and where the delegate's lines start."""
    img = Image.new("RGB", (PASS_W, PASS_H), "white")
    draw = ImageDraw.Draw(img)
    title = _pass_wrap(draw, sheet.conference_title, _font(True, 32), PASS_W - 80)[:3]
    band = 36 + len(title) * 42 + 50
    draw.rectangle((0, 0, PASS_W, band), fill=RED)
    y = _pass_text(draw, 36, sheet.conference_title, True, 32, 3, "white")
    _pass_text(draw, y + 4, sheet.conference_date, False, 24, 1, "white")
    note = "Xuất trình mã này tại cửa vào · Show this code at the entrance"
    _pass_text(draw, PASS_FOOTER, note, False, 20, 1, GREY)
    return img, band + 30


def phone_pass(sheet: Sheet, badge: Badge) -> bytes:
    """The delegate's pass as a PNG: conference, name, category, unit, site, large QR."""
    template, y = _pass_template(sheet)
    img = template.copy()
    draw = ImageDraw.Draw(img)
    size = 52 if draw.textlength(badge.full_name, font=_font(True, 52)) <= PASS_W - 80 else 40
    y = _pass_text(draw, y, badge.full_name, True, size, 2, "black")
    label = CATEGORY_LABELS.get(badge.category, badge.category)
    y = _pass_text(draw, y + 6, label, True, 30, 1, RED)
    if badge.unit_name:
        y = _pass_text(draw, y + 4, badge.unit_name, False, 26, 2, GREY)
    site = f"Điểm cầu: {sheet.site_name} ({sheet.site_code})"
    y = _pass_text(draw, y + 4, site, False, 26, 2, GREY)
    code = qr.image(badge.code, PASS_QR_SCALE)
    top = max(y + 10, y + (PASS_FOOTER - y - code.height) // 2)
    img.paste(code, ((PASS_W - code.width) // 2, top))
    out = io.BytesIO()
    # 32 colours are plenty for red, black, greys and their anti-aliased edges: a third
    # of the size (messaging apps recompress big images) and half the encoding time.
    img.quantize(32, method=Image.Quantize.FASTOCTREE).save(out, "PNG")
    return out.getvalue()

"""QR images, badge sheets and phone passes decode (zxing-cpp) to codes that verify with
the JWK set alone; badges carry the Vietnamese text exactly."""

from __future__ import annotations

import io
import unicodedata

import pypdfium2 as pdfium
import pytest
import qrcode
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from diemcau import badges, credentials, qr
from diemcau.credentials import Claims
from tests.scanning import qr_texts

KID = "1234ABCD"
KEY = Ed25519PrivateKey.generate()
JWKS = {
    "keys": [
        credentials.jwk(KID, KEY.public_key().public_bytes_raw(), conference="HN1", conference_id=5)
    ]
}
NAMES = [
    "Nguyễn Thị Phương Thảo",
    "Trần Văn Ất",
    "Lê Hoàng Đức Hưởng",
    "Đặng Ỷ Lan",
    "Hoàng Nguyễn Thượng Nghị Quyết Thắng Lợi Vĩnh Phúc Trường Tồn",
    "Vũ Quốc Việt",
    "Bùi Thị Hồng Nhung",
    "Ngô Xuân Diệu",
    "Phạm Ngọc Ánh",
]
SHEET = badges.Sheet(
    "Hội nghị học tập, quán triệt Nghị quyết Đại hội đại biểu toàn quốc lần thứ XIV của Đảng",
    "Ngày 15/03/2026",
    "Hội trường UBND xã Bản Giang",
    "LC-TD-BG",
)


def code_for(delegate_id: int) -> str:
    return credentials.sign(Claims(KID, 5, delegate_id, 42, 1), KEY)


def make_badges(n: int) -> list[badges.Badge]:
    categories = ["member", "non_member", "guest"]
    return [
        badges.Badge(
            NAMES[(i - 1) % len(NAMES)],
            categories[(i - 1) % 3],
            "Đảng bộ xã Bản Giang",
            code_for(i),
        )
        for i in range(1, n + 1)
    ]


def decoded(image: Image.Image) -> list[str]:
    return qr_texts(image)


def test_matrix_equals_a_reference_encoder_with_the_same_mask() -> None:
    for text in [code_for(1), code_for(99), "HELLO WORLD", "A" + "0123456789" * 15, "A"]:
        ref = qrcode.QRCode(
            version=6,
            error_correction=qrcode.constants.ERROR_CORRECT_M,
            mask_pattern=qr.MASK,
            border=qr.QUIET,
        )
        ref.add_data(text, optimize=0)
        ref.make(fit=False)
        assert [[bool(m) for m in row] for row in ref.modules] == qr.modules(text), text


def test_text_outside_the_alphanumeric_set_or_capacity_is_refused() -> None:
    assert len(qr.modules("A" * 154)) == 41
    with pytest.raises(ValueError):
        qr.packed("A" * 155)
    with pytest.raises(ValueError):
        qr.packed("lower")


def test_png_decodes_to_a_code_that_verifies_offline() -> None:
    code = code_for(77)
    image = Image.open(io.BytesIO(qr.png(code)))
    assert image.size == (49 * 8, 49 * 8)
    texts = decoded(image)
    assert texts == [code]
    assert credentials.verify(texts[0], JWKS).delegate_id == 77


def test_many_codes_decode_with_the_fixed_mask() -> None:
    codes = [code_for(i) for i in range(1000, 1060)]
    assert [decoded(qr.image(c, 3)) for c in codes] == [[c] for c in codes]


def test_svg_draws_exactly_the_dark_modules() -> None:
    code = code_for(5)
    svg = qr.svg(code)
    assert svg.startswith("<?xml") and 'viewBox="0 0 49 49"' in svg
    runs = svg.split(' d="')[1].split('"')[0].split("z")[:-1]
    dark = sum(int(r.split("h")[1].split("v")[0]) for r in runs)
    assert dark == sum(sum(row) for row in qr.modules(code))


def test_badge_page_rasterised_decodes_to_eight_verifying_codes() -> None:
    items = make_badges(19)
    pdf = badges.badges_pdf(SHEET, items)
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) == 3  # 8 + 8 + 3
    page = doc[0].render(scale=150 / 72).to_pil()
    texts = decoded(page)
    assert sorted(texts) == sorted(b.code for b in items[:8])
    assert sorted(credentials.verify(t, JWKS).delegate_id for t in texts) == list(range(1, 9))
    last = decoded(doc[2].render(scale=150 / 72).to_pil())
    assert sorted(last) == sorted(b.code for b in items[16:])


def test_badge_text_keeps_vietnamese_letters() -> None:
    pdf = badges.badges_pdf(SHEET, make_badges(8))
    text = pdfium.PdfDocument(pdf)[0].get_textpage().get_text_bounded()
    flat = unicodedata.normalize("NFC", " ".join(text.split()))
    for name in ("Nguyễn Thị Phương Thảo", "Trần Văn Ất", "Đặng Ỷ Lan", "Lê Hoàng Đức Hưởng"):
        assert name in flat
    for label in ("Đảng viên", "Quần chúng", "Khách mời", "Ngày 15/03/2026", "LC-TD-BG"):
        assert label in flat
    assert "Hội trường UBND xã Bản" in flat


def test_fonts_are_embedded_noto() -> None:
    pdf = badges.badges_pdf(SHEET, make_badges(1))
    assert b"NotoSans" in pdf and b"FontFile2" in pdf


def test_empty_site_gives_one_page_of_cut_marks() -> None:
    assert len(pdfium.PdfDocument(badges.badges_pdf(SHEET, []))) == 1


def test_phone_pass_decodes_and_verifies() -> None:
    badge = make_badges(4)[3]
    image = Image.open(io.BytesIO(badges.phone_pass(SHEET, badge)))
    assert image.size == (badges.PASS_W, badges.PASS_H)
    texts = decoded(image)
    assert texts == [badge.code]
    assert credentials.verify(texts[0], JWKS).delegate_id == 4


def test_long_names_wrap_within_the_column() -> None:
    lines, size = badges._name_lines(NAMES[4])
    assert 1 < len(lines) <= 3
    assert " ".join(lines).replace(" …", "") in NAMES[4] or lines[-1].endswith("…")
    widths = [badges.pdfmetrics.stringWidth(x, badges.BOLD, size) for x in lines]
    assert max(widths) <= badges.TEXT_W


def test_badge_qr_is_at_least_36_mm_across() -> None:
    """Measured as a scanner sees it: the decoded symbol's corners on a 200 dpi page."""
    import zxingcpp

    page = pdfium.PdfDocument(badges.badges_pdf(SHEET, make_badges(8)))[0]
    image = page.render(scale=200 / 72).to_pil()
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 8
    for code in found:
        pos = code.position
        width_px = pos.top_right.x - pos.top_left.x  # the symbol's outer corners
        assert width_px / 200 * 25.4 >= 36.0


def test_short_names_stay_on_one_line() -> None:
    for name in ("Trần Văn Ất", "Vũ Quốc Việt", "Đặng Ỷ Lan", "Bùi Thị Hồng Nhung"):
        lines, size = badges._name_lines(name)
        assert lines == (name,) and size >= 12
    lines, _ = badges._name_lines("Nguyễn Thị Phương Thảo")
    assert lines == ("Nguyễn Thị", "Phương Thảo")

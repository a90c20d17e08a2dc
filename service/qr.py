"""QR codes for credentials: version 6, error correction M, alphanumeric mode, fixed mask.

A general QR library spends its time choosing a version and scoring eight masks, then
draws module by module (about 2 ms a code with `qrcode`, 15 ms with `fit=True` and an
image). Credentials always have the same shape, so everything that does not depend on the
text is computed once at import: the function patterns, the format bits, where each data
bit goes (block interleaving included) and the mask. Encoding a code is then the data
bits, Reed-Solomon as 27 table lookups per block (the correction bytes are linear in the
data), and XORing 344 precomputed masks into the 1-bit image as one integer (quiet zone
included): under 0.1 ms a code on an idle core. Any mask is valid for a decoder (the
format bits say which), so a fixed one is fine for random-looking signatures; tests check
the matrix against `qrcode` with the same mask and decode codes with zxing-cpp.
"""

from __future__ import annotations

import io
import operator
from collections.abc import Callable
from functools import reduce

from PIL import Image

VERSION = 6
SIZE = 4 * VERSION + 17  # 41 modules
QUIET = 4  # modules of light border the standard asks for
SIDE = SIZE + 2 * QUIET  # 49: the image is one pixel per module
MASK = 0
ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
CAPACITY = 154  # alphanumeric characters in a version-6 code at level M
_BLOCKS = 4
_DATA_PER_BLOCK = 27  # 6-M: four blocks of 43 codewords, 27 of data and 16 of correction
_EC_PER_BLOCK = 16
_DATA_CODEWORDS = _BLOCKS * _DATA_PER_BLOCK
_TOTAL_CODEWORDS = _DATA_CODEWORDS + _BLOCKS * _EC_PER_BLOCK
_VALUE = {ch: i for i, ch in enumerate(ALPHANUMERIC)}


def _gf_mul(x: int, y: int) -> int:
    z = 0
    for i in reversed(range(8)):
        z = (z << 1) ^ ((z >> 7) * 0x11D)
        z ^= ((y >> i) & 1) * x
    return z


def _rs_divisor(degree: int) -> list[int]:
    result = [0] * (degree - 1) + [1]
    root = 1
    for _ in range(degree):
        for j in range(degree):
            result[j] = _gf_mul(result[j], root)
            if j + 1 < degree:
                result[j] ^= result[j + 1]
        root = _gf_mul(root, 2)
    return result


_DIVISOR = _rs_divisor(_EC_PER_BLOCK)
# For each leading factor, the divisor times that factor as one 128-bit integer: polynomial
# long division becomes a shift and an XOR per data byte.
_RS_TABLE = [int.from_bytes(bytes(_gf_mul(c, f) for c in _DIVISOR), "big") for f in range(256)]
_RS_BITS = 8 * _EC_PER_BLOCK
_RS_MASK = (1 << _RS_BITS) - 1


def _position_tables() -> list[list[int]]:
    """Correction bytes are linear in the data: table[i][v] is the remainder for byte v at
    position i of a block (zeros elsewhere), so a block's remainder is 27 lookups XORed."""

    def step(rem: int) -> int:  # one round of long division, feeding a zero byte
        return ((rem << 8) & _RS_MASK) ^ _RS_TABLE[rem >> (_RS_BITS - 8)]

    tables = [_RS_TABLE]
    for _ in range(_DATA_PER_BLOCK - 1):
        tables.insert(0, [step(r) for r in tables[0]])
    return tables


_POSITION_TABLES = _position_tables()


def _ec_codewords(block: bytes) -> bytes:
    rem = reduce(operator.xor, map(operator.getitem, _POSITION_TABLES, block))
    return rem.to_bytes(_EC_PER_BLOCK, "big")


def _mask_bit(mask: int, x: int, y: int) -> bool:
    rules: list[Callable[[int, int], int]] = [
        lambda x, y: (x + y) % 2,
        lambda x, y: y % 2,
        lambda x, y: x % 3,
        lambda x, y: (x + y) % 3,
        lambda x, y: (x // 3 + y // 2) % 2,
        lambda x, y: x * y % 2 + x * y % 3,
        lambda x, y: (x * y % 2 + x * y % 3) % 2,
        lambda x, y: ((x + y) % 2 + x * y % 3) % 2,
    ]
    return rules[mask](x, y) == 0


def _function_modules() -> dict[tuple[int, int], bool]:
    """Every module that is not data, (x, y) -> dark, for version 6 at level M."""
    fixed: dict[tuple[int, int], bool] = {}
    for i in range(SIZE):
        fixed[(6, i)] = fixed[(i, 6)] = i % 2 == 0
    for cx, cy in ((3, 3), (SIZE - 4, 3), (3, SIZE - 4)):
        for dy in range(-4, 5):
            for dx in range(-4, 5):
                x, y = cx + dx, cy + dy
                if 0 <= x < SIZE and 0 <= y < SIZE:
                    fixed[(x, y)] = max(abs(dx), abs(dy)) not in (2, 4)
    for dy in range(-2, 3):  # version 6 has one alignment pattern clear of the finders
        for dx in range(-2, 3):
            fixed[(34 + dx, 34 + dy)] = max(abs(dx), abs(dy)) != 1
    data = (0 << 3) | MASK  # level M is 00 in the format bits
    rem = data
    for _ in range(10):
        rem = (rem << 1) ^ ((rem >> 9) * 0x537)
    bits = ((data << 10) | rem) ^ 0x5412

    def bit(i: int) -> bool:
        return (bits >> i) & 1 == 1

    for i in range(6):
        fixed[(8, i)] = bit(i)
    fixed[(8, 7)], fixed[(8, 8)], fixed[(7, 8)] = bit(6), bit(7), bit(8)
    for i in range(9, 15):
        fixed[(14 - i, 8)] = bit(i)
    for i in range(8):
        fixed[(SIZE - 1 - i, 8)] = bit(i)
    for i in range(8, 15):
        fixed[(8, SIZE - 15 + i)] = bit(i)
    fixed[(8, SIZE - 8)] = True  # the dark module
    return fixed


def _data_order(fixed: dict[tuple[int, int], bool]) -> list[tuple[int, int]]:
    """The modules data bits go to, in order: two-column zigzag from the bottom right."""
    order = []
    right = SIZE - 1
    while right >= 1:
        if right == 6:
            right = 5  # the vertical timing pattern is skipped whole
        upward = (right + 1) & 2 == 0
        for vert in range(SIZE):
            y = SIZE - 1 - vert if upward else vert
            for x in (right, right - 1):
                if (x, y) not in fixed:
                    order.append((x, y))
        right -= 2
    return order


_ROW_BITS = 56  # a row of 49 pixels padded to 7 bytes, as 1-bit images are packed
_IMAGE_BYTES = SIDE * _ROW_BITS // 8


def _bit(x: int, y: int) -> int:
    """The bit of module (x, y) in the image as one integer, first pixel most significant."""
    return 1 << (SIDE * _ROW_BITS - 1 - ((y + QUIET) * _ROW_BITS + x + QUIET))


def _natural_bit(m: int) -> int:
    """Where the m-th placed bit sits when codewords are kept block by block, so that the
    interleaving of the blocks is built into the tables instead of done per code."""
    k, bit = divmod(m, 8)
    if k < _DATA_CODEWORDS:
        i, b = divmod(k, _BLOCKS)
        natural = b * _DATA_PER_BLOCK + i
    else:
        j, b = divmod(k - _DATA_CODEWORDS, _BLOCKS)
        natural = _DATA_CODEWORDS + b * _EC_PER_BLOCK + j
    return natural * 8 + bit


def _plan() -> tuple[int, int, list[list[int]], list[list[int]]]:
    """The image of an all-zero code (dark = 1), every pixel of the image, and for each
    codeword its high and low nibble's 16 possible contributions, XORed in per code."""
    fixed = _function_modules()
    base = sum(_bit(x, y) for (x, y), dark in fixed.items() if dark)
    placed = [0] * (_TOTAL_CODEWORDS * 8)
    for m, (x, y) in enumerate(_data_order(fixed)):
        if _mask_bit(MASK, x, y):
            base |= _bit(x, y)  # a zero bit, masked (remainder bits included)
        if m < len(placed):
            placed[_natural_bit(m)] = _bit(x, y)
    every = sum(
        _bit(x, y) for y in range(-QUIET, SIZE + QUIET) for x in range(-QUIET, SIZE + QUIET)
    )

    def nibble_table(first: int) -> list[int]:
        return [sum(placed[first + i] for i in range(4) if (v >> (3 - i)) & 1) for v in range(16)]

    high = [nibble_table(k * 8) for k in range(_TOTAL_CODEWORDS)]
    low = [nibble_table(k * 8 + 4) for k in range(_TOTAL_CODEWORDS)]
    return base, every, high, low


_BASE, _EVERY, _HIGH, _LOW = _plan()
_HIGH_NIBBLE = bytes(v >> 4 for v in range(256))
_LOW_NIBBLE = bytes(v & 15 for v in range(256))


def _data_codewords(text: str) -> bytes:
    """Mode, count, pairs of characters in 11 bits, terminator, then the pad bytes."""
    try:
        values = [_VALUE[ch] for ch in text]
    except KeyError:
        raise ValueError("a credential QR holds only QR alphanumeric characters") from None
    if len(values) > CAPACITY:
        raise ValueError(f"{len(values)} characters do not fit a version-6 code at level M")
    acc, nbits = 0b0010, 4
    acc, nbits = (acc << 9) | len(values), nbits + 9
    for i in range(0, len(values) - 1, 2):
        acc, nbits = (acc << 11) | (values[i] * 45 + values[i + 1]), nbits + 11
    if len(values) % 2:
        acc, nbits = (acc << 6) | values[-1], nbits + 6
    capacity = _DATA_CODEWORDS * 8
    pad = min(4, capacity - nbits) + (-(nbits + min(4, capacity - nbits)) % 8)
    acc, nbits = acc << pad, nbits + pad
    head = acc.to_bytes(nbits // 8, "big")
    fill = (b"\xec\x11" * _DATA_CODEWORDS)[: _DATA_CODEWORDS - len(head)]
    return head + fill


def _codewords(text: str) -> bytes:
    """Data then correction codewords, block by block (the gather interleaves them)."""
    data = _data_codewords(text)
    step = _DATA_PER_BLOCK
    return data + b"".join([_ec_codewords(data[i : i + step]) for i in range(0, len(data), step)])


def packed(text: str) -> bytes:
    """The code as a 1-bit image of SIDE x SIDE pixels, quiet zone included: rows of 7
    bytes, most significant bit first, 1 for light (Pillow's mode "1" and PDF's 1-bit
    DeviceGray both read it as is)."""
    cw = _codewords(text)
    dark = reduce(operator.xor, map(operator.getitem, _HIGH, cw.translate(_HIGH_NIBBLE)), _BASE)
    dark = reduce(operator.xor, map(operator.getitem, _LOW, cw.translate(_LOW_NIBBLE)), dark)
    return (dark ^ _EVERY).to_bytes(_IMAGE_BYTES, "big")


def modules(text: str) -> list[list[bool]]:
    """The SIZE x SIZE module matrix, True for dark, without the quiet zone."""
    bits = int.from_bytes(packed(text), "big")
    top = SIDE * _ROW_BITS - 1
    return [
        [not (bits >> (top - (y + QUIET) * _ROW_BITS - x - QUIET)) & 1 for x in range(SIZE)]
        for y in range(SIZE)
    ]


def image(text: str, scale: int = 1) -> Image.Image:
    """A 1-bit PIL image; scaled with no smoothing so modules keep sharp edges."""
    img = Image.frombytes("1", (SIDE, SIDE), packed(text))
    if scale > 1:
        img = img.resize((SIDE * scale, SIDE * scale), Image.Resampling.NEAREST)
    return img


def png(text: str, scale: int = 8) -> bytes:
    """A 1-bit PNG, `scale` pixels a module (392 px square by default)."""
    out = io.BytesIO()
    image(text, scale).save(out, "PNG")
    return out.getvalue()


def svg(text: str, module_px: int = 8) -> str:
    """An SVG with one path: each run of dark modules in a row is one rectangle."""
    rows = modules(text)
    parts = []
    for y, row in enumerate(rows):
        x = 0
        while x < SIZE:
            if row[x]:
                start = x
                while x < SIZE and row[x]:
                    x += 1
                parts.append(f"M{start + QUIET} {y + QUIET}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    size = SIDE * module_px
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {SIDE} {SIDE}" shape-rendering="crispEdges">'
        f'<rect width="{SIDE}" height="{SIDE}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(parts)}"/></svg>\n'
    )

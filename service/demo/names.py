"""Vietnamese names as a province's roster has them: family, middle and given names drawn
by their frequencies, no download.

The family names' shares are those of the national surveys (Nguyễn about 38 %, Trần 11 %,
Lê 9.5 %, ...), blended with the family names of Lai Châu's Thái, Mông, Dao and Hà Nhì
people (Lò, Tòng, Lường, Vàng, Giàng, Sùng, Tẩn, Chang, Pờ), who make up most of the
province. Middle names follow the person's sex (Văn, Đức, Hữu, Quang for men; Thị, Ngọc,
Thu for women; Minh, Thanh, Xuân for both); given names too.
"""

from __future__ import annotations

import random

# (name, weight): weights are per-mille shares, roughly.
FAMILY = [
    ("Nguyễn", 300), ("Trần", 85), ("Lê", 75), ("Phạm", 55), ("Hoàng", 45), ("Vũ", 30),
    ("Phan", 30), ("Đặng", 17), ("Bùi", 16), ("Đỗ", 12), ("Hồ", 10), ("Ngô", 10),
    ("Dương", 8), ("Lý", 6), ("Đinh", 6), ("Trương", 5), ("Lò", 45), ("Tòng", 20),
    ("Lường", 18), ("Vàng", 22), ("Giàng", 20), ("Sùng", 16), ("Tẩn", 12), ("Lù", 10),
    ("Chang", 6), ("Pờ", 5), ("Quàng", 8), ("Cầm", 6), ("Hà", 8),
]  # fmt: skip
MIDDLE_MEN = [("Văn", 500), ("Đức", 90), ("Hữu", 60), ("Quang", 60), ("Minh", 70),
              ("Thanh", 50), ("Xuân", 40), ("Công", 40), ("A", 50), ("Seo", 20)]  # fmt: skip
MIDDLE_WOMEN = [("Thị", 650), ("Ngọc", 70), ("Thu", 50), ("Thanh", 60), ("Minh", 40),
                ("Kim", 40), ("Hồng", 40), ("Xuân", 30)]  # fmt: skip
GIVEN_MEN = [("Hùng", 50), ("Dũng", 45), ("Tuấn", 45), ("Nam", 40), ("Hải", 40),
             ("Sơn", 40), ("Thắng", 35), ("Cường", 35), ("Long", 30), ("Trung", 30),
             ("Quân", 28), ("Minh", 28), ("Đức", 25), ("Phong", 22), ("Bình", 22),
             ("Việt", 20), ("Khánh", 18), ("Thành", 25), ("Tùng", 20), ("Chiến", 15),
             ("Páo", 10), ("Chứ", 8), ("Sử", 8), ("Lả", 6), ("Khoa", 12), ("Huy", 18)]  # fmt: skip
GIVEN_WOMEN = [("Hương", 45), ("Lan", 40), ("Hoa", 35), ("Mai", 35), ("Hạnh", 30),
               ("Linh", 35), ("Trang", 35), ("Thảo", 30), ("Hà", 28), ("Nhung", 22),
               ("Phương", 25), ("Yến", 22), ("Huyền", 25), ("Ngọc", 18), ("Thủy", 22),
               ("Dung", 18), ("Loan", 15), ("Xuân", 12), ("Mỷ", 6), ("Dở", 5),
               ("Chi", 12), ("Vân", 15), ("Oanh", 10), ("Bích", 10)]  # fmt: skip


class Names:
    """Draws names from one seeded generator: the same seed, the same roster."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._tables = {
            key: ([n for n, _ in pairs], [w for _, w in pairs])
            for key, pairs in {
                "family": FAMILY,
                "middle_m": MIDDLE_MEN,
                "middle_f": MIDDLE_WOMEN,
                "given_m": GIVEN_MEN,
                "given_f": GIVEN_WOMEN,
            }.items()
        }

    def _pick(self, key: str) -> str:
        names, weights = self._tables[key]
        return self._rng.choices(names, weights)[0]

    def full_name(self) -> str:
        """A full name: family, middle (sometimes two for women), given."""
        sex = "f" if self._rng.random() < 0.45 else "m"
        middle = self._pick(f"middle_{sex}")
        if sex == "f" and middle == "Thị" and self._rng.random() < 0.15:
            middle += " " + self._pick("middle_f").replace("Thị", "Thu")
        return f"{self._pick('family')} {middle} {self._pick(f'given_{sex}')}"

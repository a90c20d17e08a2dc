"""Lai Châu by name: the province, its 8 districts with their communes (before the 2025
merger), and 30 provincial agencies; the 145 bridge points of the 2021 session are the
provincial hall, the 8 district halls, 106 commune halls and 30 agency rooms.
"""

from __future__ import annotations

import unicodedata

PROVINCE = ("LC", "Tỉnh Lai Châu")

DISTRICTS: list[tuple[str, str, str]] = [
    ("LC-TP", "Thành phố Lai Châu",
     "Tân Phong, Đông Phong, Quyết Thắng, Quyết Tiến, Đoàn Kết, Nậm Loỏng, San Thàng"),
    ("LC-TD", "Huyện Tam Đường",
     "Bình Lư, Bản Bo, Bản Giang, Bản Hon, Khun Há, Nà Tăm, Nùng Nàng, Sơn Bình, "
     "Sùng Phài, Thèn Sin, Tả Lèng, Hồ Thầu, Giang Ma, Tam Đường"),
    ("LC-PT", "Huyện Phong Thổ",
     "Phong Thổ, Dào San, Sì Lở Lầu, Mồ Sì San, Pa Vây Sử, Vàng Ma Chải, Tông Qua Lìn, "
     "Mù Sang, Ma Li Pho, Hoang Thèn, Bản Lang, Khổng Lào, Nậm Xe, Mường So, "
     "Sin Suối Hồ, Lản Nhì Thàng, Huổi Luông"),
    ("LC-SH", "Huyện Sìn Hồ",
     "Sìn Hồ, Chăn Nưa, Pa Tần, Phìn Hồ, Hồng Thu, Phăng Sô Lin, Ma Quai, Tả Phìn, "
     "Xà Dề Phìn, Nậm Tăm, Tả Ngảo, Pu Sam Cáp, Nậm Cha, Làng Mô, Noong Hẻo, Nậm Mạ, "
     "Căn Co, Tủa Sín Chải, Nậm Cuổi, Nậm Hăn, Lùng Thàng, Pa Khóa"),
    ("LC-MT", "Huyện Mường Tè",
     "Mường Tè, Thu Lũm, Ka Lăng, Pa Ủ, Pa Vệ Sử, Mù Cả, Bum Tở, Nậm Khao, Tà Tổng, "
     "Bum Nưa, Vàng San, Kan Hồ, Tá Bạ"),
    ("LC-TU", "Huyện Than Uyên",
     "Than Uyên, Phúc Than, Mường Mít, Pha Mu, Mường Than, Mường Cang, Hua Nà, Tà Hừa, "
     "Mường Kim, Tà Mung, Tà Gia, Khoen On"),
    ("LC-TN", "Huyện Tân Uyên",
     "Tân Uyên, Mường Khoa, Phúc Khoa, Thân Thuộc, Trung Đồng, Hố Mít, Nậm Cần, Nậm Sỏ, "
     "Pắc Ta, Tà Mít"),
    ("LC-NN", "Huyện Nậm Nhùn",
     "Nậm Nhùn, Mường Mô, Nậm Hàng, Hua Bum, Nậm Pì, Pú Đao, Nậm Chà, Nậm Manh, "
     "Trung Chải, Lê Lợi, Nậm Ban"),
]  # fmt: skip

AGENCIES = [
    "Văn phòng Tỉnh ủy", "Ban Tổ chức Tỉnh ủy", "Ban Tuyên giáo Tỉnh ủy",
    "Ủy ban Kiểm tra Tỉnh ủy", "Ban Dân vận Tỉnh ủy", "Ban Nội chính Tỉnh ủy",
    "Đảng ủy Khối các cơ quan tỉnh", "Đảng ủy Khối doanh nghiệp tỉnh",
    "Bộ Chỉ huy Quân sự tỉnh", "Công an tỉnh", "Bộ Chỉ huy Bộ đội Biên phòng tỉnh",
    "Sở Giáo dục và Đào tạo", "Sở Y tế", "Sở Tài chính", "Sở Kế hoạch và Đầu tư",
    "Sở Nông nghiệp và Phát triển nông thôn", "Sở Giao thông vận tải", "Sở Xây dựng",
    "Sở Tư pháp", "Sở Nội vụ", "Sở Công Thương", "Sở Tài nguyên và Môi trường",
    "Sở Lao động - Thương binh và Xã hội", "Sở Văn hóa, Thể thao và Du lịch",
    "Sở Thông tin và Truyền thông", "Sở Khoa học và Công nghệ", "Trường Chính trị tỉnh",
    "Báo Lai Châu", "Đài Phát thanh - Truyền hình tỉnh", "Bệnh viện Đa khoa tỉnh",
]  # fmt: skip

TOWNS = {"Tam Đường", "Phong Thổ", "Sìn Hồ", "Mường Tè", "Than Uyên", "Tân Uyên", "Nậm Nhùn"}
WARDS = {"Tân Phong", "Đông Phong", "Quyết Thắng", "Quyết Tiến", "Đoàn Kết"}


def initials(name: str) -> str:
    """`Bản Bo` -> `BB`, `Đông Phong` -> `DP`: a code from a name, ASCII upper case."""
    plain = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    words = "".join(c for c in plain if not unicodedata.combining(c)).split()
    return "".join(w[0] for w in words if w[0].isalnum()).upper()


def commune_title(name: str) -> str:
    """The commune's unit name as a roster writes it: Thị trấn, Phường or Xã."""
    if name in TOWNS:
        return f"Thị trấn {name}"
    return f"Phường {name}" if name in WARDS else f"Xã {name}"


def communes() -> list[tuple[str, str, str]]:
    """(code, name, district code) of every commune, codes made unique by a number."""
    seen: set[str] = set()
    out = []
    for district, _, names in DISTRICTS:
        for name in names.split(", "):
            code = f"{district}-{initials(name)}"
            base, n = code, 2
            while code in seen:
                code, n = f"{base}{n}", n + 1
            seen.add(code)
            out.append((code, commune_title(name), district))
    return out

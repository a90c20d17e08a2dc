"""One error shape for the whole API: RFC 9457 problem details with a stable `code`.

Every error the service answers is a `Problem`; `CODES` is the one table that maps a code
to its HTTP status and its human titles in Vietnamese and English.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Msg:
    """A message for people, in both languages; rendered in the one the client asked for."""

    vi: str
    en: str

    def text(self, language: str) -> str:
        return self.en if language == "en" else self.vi


@dataclass(frozen=True)
class Code:
    status: int
    vi: str
    en: str


CODES: dict[str, Code] = {
    "bad_request": Code(400, "Yêu cầu không hợp lệ", "Bad request"),
    "invalid_json": Code(400, "Nội dung không phải JSON hợp lệ", "The body is not valid JSON"),
    "invalid_cursor": Code(400, "Con trỏ phân trang không hợp lệ", "Invalid pagination cursor"),
    "authentication_required": Code(
        401, "Cần đăng nhập bằng mã truy cập", "A valid bearer token is required"
    ),
    "forbidden": Code(403, "Không có quyền thực hiện", "Not allowed for this token"),
    "origin_not_allowed": Code(403, "Nguồn yêu cầu không được phép", "Origin not allowed"),
    "not_found": Code(404, "Không tìm thấy", "Not found"),
    "method_not_allowed": Code(405, "Phương thức không được hỗ trợ", "Method not allowed"),
    "not_acceptable": Code(406, "Định dạng không được hỗ trợ", "Not acceptable"),
    "already_exists": Code(409, "Đã tồn tại", "Already exists"),
    "conflict": Code(409, "Xung đột dữ liệu", "Conflict"),
    "invalid_transition": Code(409, "Không thể chuyển trạng thái", "Status change not allowed"),
    "locked": Code(409, "Hội nghị đã khóa sổ", "The conference is signed off"),
    "flags_open": Code(409, "Còn cờ đối soát chưa xử lý", "Reconciliation flags are still open"),
    "scan_conflict": Code(
        409, "Mã lượt quét đã dùng cho lượt quét khác", "A scan_id was reused for another scan"
    ),
    "payload_too_large": Code(413, "Dữ liệu gửi lên quá lớn", "Request body too large"),
    "unsupported_media_type": Code(
        415, "Định dạng dữ liệu không được hỗ trợ", "Unsupported media type"
    ),
    "validation_failed": Code(422, "Dữ liệu không hợp lệ", "Validation failed"),
    "enrollment_code_refused": Code(
        422, "Mã ghép máy không dùng được", "The enrollment code cannot be used"
    ),
    "roster_too_large": Code(
        422, "Danh sách quá lớn để tải về máy", "The roster is too large for an offline copy"
    ),
    "rate_limited": Code(429, "Gửi quá nhanh, hãy thử lại sau", "Too many requests; retry later"),
    "import_failed": Code(
        422, "Tệp nhập có lỗi, không có dòng nào được lưu", "The file has errors; nothing was saved"
    ),
    "internal_error": Code(500, "Lỗi hệ thống", "Internal server error"),
    "service_unavailable": Code(503, "Dịch vụ tạm thời không sẵn sàng", "Service unavailable"),
    "secret_key_mismatch": Code(
        503, "Không mở được khóa ký (sai DIEMCAU_SECRET_KEY)", "Signing keys cannot be opened"
    ),
}


class Problem(Exception):
    """An error answered as problem+json; raise it anywhere below the handlers."""

    def __init__(
        self,
        code: str,
        detail: str | Msg | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        if code not in CODES:
            raise KeyError(f"unknown problem code {code!r}; add it to CODES")
        super().__init__(detail.en if isinstance(detail, Msg) else (detail or code))
        self.code = code
        self.status = CODES[code].status
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def __reduce__(self) -> Any:
        # Picklable as itself, so a problem found in a worker process (a roster file
        # being checked) reaches the handler intact.
        return (_rebuild_problem, (self.code, self.detail, self.errors, self.headers, self.extra))

    def body(self, language: str = "vi", instance: str | None = None) -> dict[str, Any]:
        """The problem document (RFC 9457) in the requested language."""
        meta = CODES[self.code]
        doc: dict[str, Any] = {
            "type": f"urn:diemcau:problem:{self.code}",
            "title": meta.en if language == "en" else meta.vi,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            doc["detail"] = _localise(self.detail, language)
        if instance:
            doc["instance"] = instance
        if self.errors is not None:
            doc["errors"] = [_localise(e, language) for e in self.errors]
        doc.update(self.extra)
        return doc


def _rebuild_problem(
    code: str, detail: Any, errors: Any, headers: dict[str, str], extra: dict[str, Any]
) -> Problem:
    return Problem(code, detail, errors=errors, headers=headers, **extra)


def _localise(value: Any, language: str) -> Any:
    if isinstance(value, Msg):
        return value.text(language)
    if isinstance(value, dict):
        return {k: _localise(v, language) for k, v in value.items()}
    return value


def field_error(field: str, message: str | Msg, **extra: Any) -> dict[str, Any]:
    return {"field": field, "message": message, **extra}


def validation_failed(field: str, message: str | Msg) -> Problem:
    """A 422 naming one field, for checks made after parsing (unknown parent, bad range...)."""
    return Problem("validation_failed", message, errors=[field_error(field, message)])


@dataclass(frozen=True)
class ConstraintRule:
    code: str
    field: str
    message: Msg


# Business rules live in named constraints; a violation is answered by its name.
CONSTRAINTS: dict[str, ConstraintRule] = {
    "units_code_key": ConstraintRule(
        "already_exists", "code", Msg("Mã đơn vị đã tồn tại", "a unit with this code exists")
    ),
    "sites_code_key": ConstraintRule(
        "already_exists", "code", Msg("Mã điểm cầu đã tồn tại", "a site with this code exists")
    ),
    "conferences_code_key": ConstraintRule(
        "already_exists",
        "code",
        Msg("Mã hội nghị đã tồn tại", "a conference with this code exists"),
    ),
    "delegates_external_id_key": ConstraintRule(
        "already_exists",
        "external_id",
        Msg("Mã đại biểu đã có trong hội nghị", "this external_id is already in the conference"),
    ),
    "delegates_version_fits_code": ConstraintRule(
        "conflict",
        "site_code",
        Msg(
            "Mã của đại biểu đã được cấp lại quá nhiều lần (tối đa 65.535 phiên bản); "
            "hãy xóa và thêm lại đại biểu",
            "the delegate's code was reissued or moved too often (65,535 versions at most); "
            "remove and add the delegate again",
        ),
    ),
    "delegates_site_in_conference": ConstraintRule(
        "conflict",
        "sites",
        Msg(
            "Điểm cầu còn đại biểu hoặc không thuộc hội nghị",
            "the site still has delegates, or does not take part in the conference",
        ),
    ),
}


def constraint_problem(constraint: str | None) -> Problem | None:
    """The problem for a violated named constraint, or None when it is not a known rule."""
    rule = CONSTRAINTS.get(constraint or "")
    if rule is None:
        return None
    return Problem(rule.code, rule.message, errors=[field_error(rule.field, rule.message)])

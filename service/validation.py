"""Turn pydantic's validation errors into our `{field, message}` list, in both languages."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from diemcau.errors import Msg, Problem, field_error

M = TypeVar("M", bound=BaseModel)

_MESSAGES: dict[str, Msg] = {
    "missing": Msg("Thiếu trường bắt buộc", "field required"),
    "extra_forbidden": Msg("Trường không được hỗ trợ", "unknown field"),
    "string_type": Msg("Phải là chuỗi ký tự", "must be a string"),
    "string_too_short": Msg("Không được để trống", "must not be empty"),
    "string_too_long": Msg("Quá dài", "too long"),
    "string_pattern_mismatch": Msg("Sai định dạng", "has the wrong format"),
    "int_type": Msg("Phải là số nguyên", "must be an integer"),
    "int_parsing": Msg("Phải là số nguyên", "must be an integer"),
    "int_from_float": Msg("Phải là số nguyên", "must be an integer"),
    "float_type": Msg("Phải là số", "must be a number"),
    "float_parsing": Msg("Phải là số", "must be a number"),
    "bool_type": Msg("Phải là true hoặc false", "must be true or false"),
    "bool_parsing": Msg("Phải là true hoặc false", "must be true or false"),
    "greater_than_equal": Msg("Giá trị quá nhỏ", "value too small"),
    "greater_than": Msg("Giá trị quá nhỏ", "value too small"),
    "less_than_equal": Msg("Giá trị quá lớn", "value too large"),
    "less_than": Msg("Giá trị quá lớn", "value too large"),
    "literal_error": Msg("Giá trị không được chấp nhận", "value not allowed"),
    "enum": Msg("Giá trị không được chấp nhận", "value not allowed"),
    "datetime_type": Msg("Phải là thời điểm ISO 8601", "must be an ISO 8601 date-time"),
    "datetime_parsing": Msg("Phải là thời điểm ISO 8601", "must be an ISO 8601 date-time"),
    "datetime_from_date_parsing": Msg(
        "Phải là thời điểm ISO 8601", "must be an ISO 8601 date-time"
    ),
    "timezone_aware": Msg("Thời điểm phải có múi giờ", "date-time must carry a time zone"),
    "list_type": Msg("Phải là danh sách", "must be a list"),
    "dict_type": Msg("Phải là đối tượng JSON", "must be an object"),
    "model_type": Msg("Phải là đối tượng JSON", "must be an object"),
    "too_short": Msg("Danh sách quá ngắn", "too few items"),
    "too_long": Msg("Danh sách quá dài", "too many items"),
}


def field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def problem_from(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> Problem:
    """A 422 problem listing every invalid field (`prefix` names where the data sat)."""
    errors = []
    for err in exc.errors(include_url=False):
        known = _MESSAGES.get(err["type"])
        if err["type"] == "value_error":
            # Our own validators raise ValueError("vi text|en text").
            text = str(err.get("ctx", {}).get("error", err["msg"]))
            vi, _, en = text.partition("|")
            known = Msg(vi, en or vi)
        message = known or Msg(err["msg"], err["msg"])
        errors.append(field_error(field_path(prefix + tuple(err["loc"])), message))
    return Problem("validation_failed", errors=errors)


def parse(model: type[M], data: Any) -> M:
    """Validate decoded data against a model, or raise a validation problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise problem_from(exc) from None


def parse_json(model: type[M], raw: bytes) -> M:
    """Decode a JSON body and validate it."""
    return parse(model, load_json(raw))


def load_json(raw: bytes) -> Any:
    """A JSON body decoded, or a 400 `invalid_json` saying what is wrong with it."""
    if not raw.strip():
        raise Problem(
            "invalid_json",
            Msg("Thiếu nội dung JSON", "the request needs a JSON body"),
            errors=[field_error("body", Msg("Thiếu nội dung", "missing body"))],
        )
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        message = Msg(f"JSON không hợp lệ: {exc}", f"invalid JSON: {exc}")
        raise Problem("invalid_json", message, errors=[field_error("body", message)]) from None
    return data

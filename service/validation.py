"""Turn pydantic's validation errors into our `{field, message}` list, in both languages;
and refuse, for every JSON body, what no field may carry (text.forbidden_character)."""

from __future__ import annotations

import functools
import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Strict, ValidationError
from pydantic_core import PydanticCustomError

from diemcau.errors import Msg, Problem, field_error
from diemcau.text import CONTROL_MESSAGE, forbidden_character, shown

M = TypeVar("M", bound=BaseModel)

_MESSAGES: dict[str, Msg] = {
    "missing": Msg("Thiếu trường bắt buộc", "field required"),
    "extra_forbidden": Msg("Trường không được hỗ trợ", "unknown field"),
    "string_type": Msg("Phải là chuỗi ký tự", "must be a string"),
    "string_too_short": Msg("Không được để trống", "must not be empty"),
    "string_too_long": Msg("Quá dài", "too long"),
    "string_unicode": CONTROL_MESSAGE,  # a lone surrogate ("\ud800")
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


# A JSON body takes each value in its own JSON type only: no "12" for 12, no true for 1,
# no false for 0.0, no epoch number for a time. Pydantic's strict mode says so for every
# field of a model; times are the one exception, being text in JSON (JSON_TIME below).
STRICT = ConfigDict(extra="forbid", strict=True)

# RFC 3339 (seconds optional, as ISO 8601 and the README's examples allow): pydantic's
# own parser also reads "1733390000" as epoch seconds, which no kiosk clock means.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})?"
)


def rfc3339_text(value: Any) -> Any:
    """A time as JSON carries it: an RFC 3339 string, nothing else."""
    if isinstance(value, str) and _RFC3339.fullmatch(value):
        return value
    raise PydanticCustomError("datetime_type", "Input should be an RFC 3339 date-time string")


# Metadata for a datetime field of a strict model: `Annotated[datetime, *JSON_TIME]`.
JSON_TIME = (Strict(False), BeforeValidator(rfc3339_text))


def field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _en(bound: Any) -> str:
    """A bound as English writes it: 1 rather than 1.0, 50,000 rather than 50000."""
    if isinstance(bound, float) and bound.is_integer():
        bound = int(bound)
    return f"{bound:,}" if isinstance(bound, int) else str(bound)


def _vi(bound: Any) -> str:
    """A bound as Vietnamese writes it: 50.000, 0,5."""
    return _en(bound).replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def _allowed(expected: str) -> str:
    """pydantic's "'a', 'b' or 'c'" as "a, b, c"."""
    return ", ".join(p.strip(" '") for p in expected.replace(" or ", ", ").split(","))


# Messages that name what would be right, built from pydantic's `ctx` for the error:
# the allowed values of a fixed set, the bound a number crossed, an example of a time.
_WITH_CONTEXT: dict[str, Any] = {
    "literal_error": lambda c: Msg(
        f"Giá trị không được chấp nhận; chọn một trong: {_allowed(c['expected'])}",
        f"value not allowed; use one of: {_allowed(c['expected'])}",
    ),
    "enum": lambda c: Msg(
        f"Giá trị không được chấp nhận; chọn một trong: {_allowed(c['expected'])}",
        f"value not allowed; use one of: {_allowed(c['expected'])}",
    ),
    "greater_than_equal": lambda c: Msg(
        f"Phải từ {c['ge']} trở lên", f"must be at least {c['ge']}"
    ),
    "greater_than": lambda c: Msg(f"Phải lớn hơn {c['gt']}", f"must be greater than {c['gt']}"),
    "less_than_equal": lambda c: Msg(f"Phải không quá {c['le']}", f"must be at most {c['le']}"),
    "less_than": lambda c: Msg(f"Phải nhỏ hơn {c['lt']}", f"must be less than {c['lt']}"),
}
_TIME_EXAMPLE = Msg(
    "Phải là ngày giờ ISO 8601, ví dụ 2026-12-15T08:00 hoặc 2026-12-15T08:00+07:00",
    "must be an ISO 8601 date and time, such as 2026-12-15T08:00 or 2026-12-15T08:00+07:00",
)
for _kind in ("datetime_type", "datetime_parsing", "datetime_from_date_parsing"):
    _WITH_CONTEXT[_kind] = lambda c: _TIME_EXAMPLE


def _message(err: Any) -> Msg:
    if err["type"] == "value_error":
        # Our own validators raise ValueError("vi text|en text").
        text = str(err.get("ctx", {}).get("error", err["msg"]))
        vi, _, en = text.partition("|")
        return Msg(vi, en or vi)
    build = _WITH_CONTEXT.get(err["type"])
    if build is not None:
        try:
            return build(err.get("ctx") or {})
        except KeyError:
            pass  # no context to name: the plain message below
    return _MESSAGES.get(err["type"]) or Msg(err["msg"], err["msg"])


def problem_from(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> Problem:
    """A 422 problem listing every invalid field (`prefix` names where the data sat)."""
    errors = [
        field_error(field_path(prefix + tuple(err["loc"])), _message(err))
        for err in exc.errors(include_url=False)
    ]
    return Problem("validation_failed", errors=errors)


def parse(model: type[M], data: Any) -> M:
    """Validate decoded data against a model, or raise a validation problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise problem_from(exc) from None


# Mark a string field that may carry tab and newline (a note): `Field(json_schema_extra=
# FREE_TEXT)`. The mark is in the OpenAPI document too; every other string refuses them.
FREE_TEXT = {"x-free-text": True}

# Only these bytes of a JSON text can decode to a forbidden character: an escape (a raw
# control character inside a string is already invalid JSON), DEL, or UTF-8 for
# U+0080-U+009F. A body without any needs no walk (most of them: names, codes, scans).
_SUSPECT = re.compile(rb"\\|\x7f|\xc2[\x80-\x9f]")


@functools.cache
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _branches(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema with its `$ref` followed, and every anyOf/oneOf/allOf branch of it."""
    while "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    found = [schema]
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, ()):
            found.extend(_branches(branch, defs))
    return found


def _child(schema: dict[str, Any], defs: dict[str, Any], key: str | int) -> dict[str, Any]:
    """The schema of a member (a key of an object, an index of an array); {} if unknown."""
    for branch in _branches(schema, defs):
        if isinstance(key, int) and isinstance(branch.get("items"), dict):
            return branch["items"]
        if isinstance(key, str):
            if key in branch.get("properties", {}):
                return branch["properties"][key]
            if isinstance(branch.get("additionalProperties"), dict):
                return branch["additionalProperties"]
    return {}


def _free_text(schema: dict[str, Any], defs: dict[str, Any]) -> bool:
    return any(b.get("x-free-text") for b in _branches(schema, defs))


def text_errors(model: type[BaseModel], data: Any) -> list[dict[str, Any]]:
    """A `{field, message}` for every string (value or key) carrying a forbidden character.

    Walked with a stack, not recursion: the depth is whatever the client sent. A string
    with a tab or newline is looked up in the model's schema, where only free text allows
    them.
    """
    root = _schema(model)
    defs = root.get("$defs", {})
    errors: list[dict[str, Any]] = []
    stack: list[tuple[Any, dict[str, Any], tuple[Any, ...]]] = [(data, root, ())]
    while stack:
        value, schema, loc = stack.pop()
        if isinstance(value, str):
            bad = forbidden_character(value)
            if bad is not None and value[bad] in "\t\n":
                bad = forbidden_character(value, allow_newlines=_free_text(schema, defs))
            if bad is not None:
                errors.append(field_error(shown(field_path(loc)), CONTROL_MESSAGE))
        elif isinstance(value, dict):
            for key, member in value.items():
                if forbidden_character(key) is not None:  # no key is free text
                    errors.append(field_error(shown(field_path((*loc, key))), CONTROL_MESSAGE))
                else:
                    stack.append((member, _child(schema, defs, key), (*loc, key)))
        elif isinstance(value, list):
            for index, member in enumerate(value):
                stack.append((member, _child(schema, defs, index), (*loc, index)))
    return sorted(errors, key=lambda e: e["field"])


def _not_json(vi: str, en: str) -> Problem:
    message = Msg(vi, en)
    return Problem("invalid_json", message, errors=[field_error("body", message)])


class _Refused(ValueError):
    """A JSON text Python reads but we do not, with our own words for why."""

    def __init__(self, message: Msg) -> None:
        super().__init__(message.en)
        self.message = message


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are Python's extension of JSON; no field means them.
    raise _Refused(Msg(f"{name} không phải số JSON", f"{name} is not a JSON number"))


# Python refuses to read an integer of more than 4,300 digits (a guard against quadratic
# conversion), in words about sys.set_int_max_str_digits() that mean nothing to a client.
_LONG_NUMBER = Msg(
    "JSON không hợp lệ: một số quá dài (tối đa 4.300 chữ số)",
    "invalid JSON: a number is too long (at most 4,300 digits)",
)


def parse_json(model: type[M], raw: bytes) -> M:
    """Decode a JSON body, refuse what no field may carry in it, and validate it."""
    data = load_json(raw)
    if _SUSPECT.search(raw):
        errors = text_errors(model, data)
        if errors:
            raise Problem("validation_failed", CONTROL_MESSAGE, errors=errors)
    return parse(model, data)


def load_json(raw: bytes) -> Any:
    """A JSON body decoded, or a 400 `invalid_json` saying what is wrong with it."""
    if not raw.strip():
        raise Problem(
            "invalid_json",
            Msg("Thiếu nội dung JSON", "the request needs a JSON body"),
            errors=[field_error("body", Msg("Thiếu nội dung", "missing body"))],
        )
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        # The decoder recurses once per level: [[[[... a megabyte deep ends here.
        raise _not_json("JSON lồng nhau quá sâu", "JSON nested too deeply") from None
    except _Refused as exc:
        raise _not_json(f"JSON không hợp lệ: {exc.message.vi}", f"invalid JSON: {exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _not_json(f"JSON không hợp lệ: {exc}", f"invalid JSON: {exc}") from None
    except ValueError:
        raise _not_json(_LONG_NUMBER.vi, _LONG_NUMBER.en) from None
    return data

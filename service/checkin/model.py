"""The scan a kiosk sends and the result it gets back (DESIGN, Contract: scan, result)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from diemcau.checkin.rules import EARLIEST, LATEST
from diemcau.delegates import Category
from diemcau.errors import Msg, Problem, field_error
from diemcau.units import Name
from diemcau.validation import JSON_TIME, STRICT, problem_from

T = TypeVar("T")
MAX_BATCH = 500  # DESIGN: a batch holds at most 500 scans (more: 413)
MAX_DELEGATE_ID = 2**63 - 1
# A kiosk's clock may be wildly wrong (reset to 1970, years ahead): such scans are judged
# by the rules. Only a time no calendar holds once in UTC, give or take a day of the
# rules' arithmetic, is malformed (stored as such it overflowed: a 500).
_FIRST_DAY, _LAST_DAY = EARLIEST, LATEST


def check_scan_time(value: datetime) -> datetime:
    if 1 < value.year < 9999:  # every real clock: only the calendar's edges can overflow
        return value
    try:
        inside = _FIRST_DAY <= value.astimezone(UTC) <= _LAST_DAY
    except OverflowError:
        inside = False
    if not inside:
        raise ValueError("Thời điểm nằm ngoài lịch|a time outside the calendar")
    return value


# A moment on a kiosk's clock, as JSON carries it (RFC 3339 text only): a scan's
# `scanned_at`, and the `sent_at` of a batch or heartbeat (its clock is measured by it,
# diemcau.checkin.clocks).
KioskTime = Annotated[AwareDatetime, *JSON_TIME, AfterValidator(check_scan_time)]

# What names the person of a scan, by method: a scan carries its own method's fields only.
_FIELDS = {"qr": ("qr",), "manual": ("delegate_id",), "walk_in": ("full_name", "category")}
_IDENTIFIES = ("qr", "delegate_id", "full_name", "category")


class ScanIn(BaseModel):
    """One scan. `method` is inferred when left out: `qr` with a code, `walk_in` with a
    name, `manual` with a delegate id."""

    model_config = STRICT
    scan_id: Annotated[UUID, Strict(False)] = Field(
        description="made once by the kiosk, kept across retries"
    )
    scanned_at: KioskTime = Field(description="kiosk clock, RFC 3339 with an offset")
    qr: str | None = Field(None, description="the scanned text, exactly as read")
    method: Literal["qr", "manual", "walk_in"] | None = None
    direction: Literal["in", "out"] = "in"
    delegate_id: int | None = Field(None, ge=1, le=MAX_DELEGATE_ID, description="for manual")
    full_name: Name | None = Field(None, description="for walk_in")
    category: Category | None = Field(None, description="for walk_in")

    @model_validator(mode="after")
    def _identified(self) -> ScanIn:
        if (
            self.qr is not None
            and self.method in (None, "qr")
            and self.delegate_id is None
            and self.full_name is None
            and self.category is None
        ):
            # Nearly every scan: a code and nothing else (the checks below, answered at
            # once; they cost a worker a sixth of a batch's Python time).
            self.method = "qr"
            return self
        if self.method is None:
            if self.qr is not None:
                self.method = "qr"
            elif self.full_name is not None:
                self.method = "walk_in"
            elif self.delegate_id is not None:
                self.method = "manual"
        needs = {
            "qr": (self.qr is not None, "qr"),
            "manual": (self.delegate_id is not None, "delegate_id"),
            "walk_in": (self.full_name is not None and self.category is not None, "full_name"),
        }
        if self.method is None:
            raise ValueError(
                "Cần qr, hoặc delegate_id, hoặc full_name và category|"
                "a scan needs qr, or delegate_id, or full_name and category"
            )
        present, field = needs[self.method]
        if not present:
            raise ValueError(
                f"Cách điểm danh {self.method} cần trường {field}"
                f"|method {self.method} needs {field}"
                + (" and category" if self.method == "walk_in" else "")
            )
        foreign = [f for f in _IDENTIFIES if f not in _FIELDS[self.method]]
        carried = [f for f in foreign if getattr(self, f) is not None]
        if carried:
            # One scan names one person one way: a manual scan with a code would be
            # judged by one and stored with the other.
            raise ValueError(
                f"Cách điểm danh {self.method} không mang trường {', '.join(carried)}"
                f"|method {self.method} carries no {', '.join(carried)}"
            )
        if self.method == "walk_in" and self.direction == "out":
            raise ValueError("Khách vãng lai chỉ ghi lượt vào|a walk-in is an entry only")
        return self


SENT_AT = TypeAdapter(KioskTime)
SENT_AT_HELP = "the kiosk's clock when it sent this, RFC 3339 with an offset"


class ScanBatch(BaseModel):
    model_config = STRICT
    sent_at: KioskTime | None = Field(None, description=SENT_AT_HELP)
    scans: list[ScanIn] = Field(min_length=1, max_length=MAX_BATCH)


SCANS = TypeAdapter(list[ScanIn])


def sent_at_from(data: dict[str, Any]) -> datetime | None:
    """A message's `sent_at` (None when it has none); 422 naming `sent_at` if it is not
    a time with an offset."""
    raw = data.get("sent_at")
    return None if raw is None else _validated(SENT_AT, raw, "sent_at")


def _validated(adapter: TypeAdapter[T], raw: Any, field: str) -> T:
    """`raw` as `adapter` reads it, or 422 naming each bad part under `field`."""
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        raise problem_from(exc, (field,)) from None


def scans_from(data: Any, allowed: tuple[str, ...] = ("sent_at", "scans")) -> list[ScanIn]:
    """The scans of a batch (`{scans: [...]}` plus the `allowed` keys), validated whole:
    422 naming every bad field as `scans.N.field`, 413 past MAX_BATCH scans."""
    if not isinstance(data, dict) or not isinstance(data.get("scans"), list):
        message = Msg("Cần {scans: [...]}", "expected {scans: [...]}")
        raise Problem("validation_failed", message, errors=[field_error("scans", message)])
    extra = sorted(set(data) - set(allowed))
    if extra:
        message = Msg("Trường không được hỗ trợ", "unknown field")
        raise Problem("validation_failed", errors=[field_error(k, message) for k in extra])
    scans = data["scans"]
    if len(scans) > MAX_BATCH:
        raise Problem(
            "payload_too_large",
            Msg(
                f"Một lần gửi tối đa {MAX_BATCH} lượt quét (có {len(scans)})",
                f"at most {MAX_BATCH} scans a batch (got {len(scans)})",
            ),
        )
    if not scans:
        message = Msg("Cần ít nhất một lượt quét", "at least one scan")
        raise Problem("validation_failed", message, errors=[field_error("scans", message)])
    return _validated(SCANS, scans, "scans")


class DelegateBrief(BaseModel):
    id: int
    full_name: str
    category: str
    unit_code: str | None
    unit_name: str | None = None
    site_code: str
    site_name: str | None = None


class FirstEntry(BaseModel):
    scanned_at: datetime
    site_code: str


class WalkIn(BaseModel):
    full_name: str
    category: str


class Message(BaseModel):
    vi: str
    en: str


class ScanResult(BaseModel):
    scan_id: UUID
    result: Literal[
        "accepted", "duplicate", "wrong_site", "revoked", "invalid", "not_open", "closed"
    ]
    direction: Literal["in", "out"]
    moved: bool
    reentry: bool
    skewed: bool
    checked_in: bool | None = Field(
        None, description="on exits only: false when the delegate has no entry yet"
    )
    delegate: DelegateBrief | None
    first: FirstEntry | None
    walk_in: WalkIn | None = None
    message: Message


class ScanResults(BaseModel):
    results: list[ScanResult]

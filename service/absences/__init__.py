"""Absences: a delegate who did not come, with the reason and whether a make-up session
is owed; one by one (`records`), from a CSV/XLSX file (`importing`), and the make-up
list as CSV/XLSX (`export`). Reconciliation counts them per site by reason."""

from diemcau.absences.export import makeup_csv, makeup_xlsx
from diemcau.absences.importing import Parsed, parse_absences, write_absences
from diemcau.absences.records import (
    AbsenceFilter,
    AbsenceIn,
    absence_out,
    list_absences,
    read_absence,
    record_absence,
    remove_absence,
)

__all__ = [
    "AbsenceFilter",
    "AbsenceIn",
    "Parsed",
    "absence_out",
    "list_absences",
    "makeup_csv",
    "makeup_xlsx",
    "parse_absences",
    "read_absence",
    "record_absence",
    "remove_absence",
    "write_absences",
]

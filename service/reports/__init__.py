"""The report files provinces send upward, and the scan log behind them.

- `common`: the stamp (signed or draft, SHA-256, time), the site columns, the headline
  lines in the provinces' words;
- `csvfile`, `xlsxfile`, `pdffile`: `report.csv`, `report.xlsx`, `report.pdf`;
- `render`: what a report shows (`report_of`) and the file in a format (`render`);
- `verify`: a report file checked against the database (`diemcau report --verify`);
- `scanlog`: every scan as CSV or XLSX, streamed.

docs/reconciliation.md (Report files) says what each file holds.
"""

from diemcau.reports.common import Stamp, stamp
from diemcau.reports.render import FORMATS, MEDIA, render, report_of
from diemcau.reports.verify import Verdict, verify

__all__ = ["FORMATS", "MEDIA", "Stamp", "Verdict", "render", "report_of", "stamp", "verify"]

"""Reconciliation: what the scans, the headcounts and the roster say per site, rolled up
the unit tree, the flags raised on the differences, their resolutions, and the sign-off.

- `model`: the typed result (`Reconciliation`, `SiteRow`, `UnitRow`, `Flag`, ...) that the
  API, the CLI and the reports render;
- `rows`: the figures computed in SQL (queries/reconcile.py) and put together;
- `flags`: the eight rules of DESIGN, with their thresholds, and fingerprints;
- `canonical`: the report's canonical content and its SHA-256 (docs/reconciliation.md);
- `document`: the API's JSON shape;
- `resolve`: an organiser settles a flag;
- `signoff`: reading the reconciliation (as signed, once signed) and signing off;
- `verify`: the running counters checked against the scans.
"""

from diemcau.reconcile.canonical import content, sha256
from diemcau.reconcile.model import Flag, Reconciliation, SiteRow, UnitRow
from diemcau.reconcile.resolve import ResolveIn, resolve
from diemcau.reconcile.signoff import reconciliation, sign_off
from diemcau.reconcile.verify import Difference, verify

__all__ = [
    "Difference",
    "Flag",
    "Reconciliation",
    "ResolveIn",
    "SiteRow",
    "UnitRow",
    "content",
    "reconciliation",
    "resolve",
    "sha256",
    "sign_off",
    "verify",
]

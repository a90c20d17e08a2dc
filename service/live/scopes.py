"""What one client sees of the board, and the messages made for it.

A scope is the whole conference (`None`) or one unit's subtree (`?unit=CODE`, or the
subtree an organiser's token is limited to): the participating sites below that unit,
the units from it down, and the totals of that subtree. Messages are assembled from the
view's cached fragments, so a snapshot of 40,000 sites is one join of bytes, and the
snapshot of a scope is made once per `seq` whoever asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from diemcau.live.model import Dirty
from diemcau.live.view import View


class Scope:
    """The members of one scope in code order, as of the view's `membership`."""

    def __init__(self, unit_id: int | None) -> None:
        self.unit_id = unit_id
        self.membership = -1
        self.site_ids: list[int] = []
        self.unit_ids: list[int] = []

    def covers(self, chain: tuple[int, ...]) -> bool:
        return self.unit_id is None or self.unit_id in chain

    def members(self, view: View) -> Scope:
        """Brought up to date with the view (recomputed only when members may change)."""
        if self.membership != view.membership:
            sites = [s for s in view.sites.values() if self.covers(s.chain)]
            units = [u for u in view.units.values() if u.visible and self.covers(view.chain(u.id))]
            self.site_ids = [s.id for s in sorted(sites, key=lambda s: s.code)]
            self.unit_ids = [u.id for u in sorted(units, key=lambda u: u.code)]
            self.membership = view.membership
        return self


@dataclass
class Change:
    """What a scope's next delta carries."""

    sites: set[int] = field(default_factory=set)
    units: set[int] = field(default_factory=set)
    gone_sites: dict[int, str] = field(default_factory=dict)
    gone_units: dict[int, str] = field(default_factory=dict)
    totals: bool = False
    conference: bool = False

    def __bool__(self) -> bool:
        return self.totals or self.conference or bool(self.gone_sites or self.gone_units)

    def merge(self, other: Change) -> None:
        self.sites |= other.sites
        self.units |= other.units
        for ident, code in other.gone_sites.items():
            self.gone_sites[ident] = code
        for ident, code in other.gone_units.items():
            self.gone_units[ident] = code
        self.sites -= other.gone_sites.keys()
        self.units -= other.gone_units.keys()
        for ident in other.sites:
            self.gone_sites.pop(ident, None)
        for ident in other.units:
            self.gone_units.pop(ident, None)
        self.totals |= other.totals
        self.conference |= other.conference


def split(view: View, dirty: Dirty, scopes: set[int | None]) -> dict[int | None, Change]:
    """Each scope's share of what changed (walking each change's chain once)."""
    out = {key: Change(conference=dirty.conference) for key in scopes}
    units = {key for key in scopes if key is not None}
    if None in out:
        everything = out[None]
        everything.sites = set(dirty.sites)
        everything.units = set(dirty.units)
        everything.gone_sites = {i: code for i, (code, _) in dirty.gone_sites.items()}
        everything.gone_units = {i: code for i, (code, _) in dirty.gone_units.items()}
        everything.totals = dirty.any
    if not units:
        return out
    for site_id in dirty.sites:
        for key in units.intersection(view.sites[site_id].chain):
            out[key].sites.add(site_id)
    for unit_id in dirty.units | dirty.totals:
        for key in units.intersection(view.chain(unit_id)):
            out[key].totals = True
            if unit_id in dirty.units:
                out[key].units.add(unit_id)
    for gone, into in ((dirty.gone_sites, "gone_sites"), (dirty.gone_units, "gone_units")):
        for ident, (code, chain) in gone.items():
            for key in units.intersection(chain):
                getattr(out[key], into)[ident] = code
                out[key].totals = True
    for key in units:
        change = out[key]
        change.totals = change.totals or bool(change.sites)
    return out


def _object(parts: list[bytes]) -> bytes:
    return b"{" + b",".join(parts) + b"}"


def _null(code: str) -> bytes:
    return orjson.dumps(code) + b":null"


def snapshot_body(view: View, scope: Scope) -> bytes:
    """The live view of a scope (GET .../live), made once per `seq`."""
    key = ("snapshot", scope.unit_id)
    found = view.cached(key)
    if found is not None:
        return found
    scope.members(view)
    sites = _object([view.site_fragment(view.sites[s]) for s in scope.site_ids])
    units = _object([view.unit_fragment(view.units[u]) for u in scope.unit_ids])
    unit = view.units.get(scope.unit_id) if scope.unit_id is not None else None
    head = orjson.dumps({"unit": unit.code if unit is not None else None})
    body = b"".join(
        [
            b'{"seq":%d,"conference":' % view.seq,
            view.conference_out(),
            b',"scope":',
            head,
            b',"totals":',
            view.totals(scope.unit_id),
            b',"sites":',
            sites,
            b',"units":',
            units,
            b"}",
        ]
    )
    return view.remember(key, body)


def snapshot_message(view: View, scope: Scope) -> bytes:
    """The websocket's first message: the live view with `type: snapshot`."""
    return b'{"type":"snapshot",' + snapshot_body(view, scope)[1:]


def delta_message(view: View, scope: Scope, change: Change, seq: int) -> bytes:
    """`{type: delta, seq, sites, units, totals}`: whole entries of what changed (null for
    a site or unit that left the scope), the scope's totals, and the conference when it
    changed. `seq` is the last one whose changes have all been handed out (entries may be
    newer: whole entries, sent again with their next change)."""
    sites = [view.site_fragment(view.sites[s]) for s in change.sites if s in view.sites]
    sites += [_null(code) for code in change.gone_sites.values()]
    units = [
        view.unit_fragment(view.units[u])
        for u in change.units
        if u in view.units and view.units[u].visible
    ]
    units += [_null(code) for code in change.gone_units.values()]
    parts = [
        b'{"type":"delta","seq":%d,"sites":' % seq,
        _object(sites),
        b',"units":',
        _object(units),
        b',"totals":',
        view.totals(scope.unit_id),
    ]
    if change.conference:
        parts += [b',"conference":', view.conference_out()]
    return b"".join([*parts, b"}"])


def resume(
    view: View, scope: Scope, since: int, site_ids: list[int], unit_ids: list[int]
) -> Change | None:
    """What a client that holds the view at `since` lacks, from the sites and units that
    changed after it (read from the database); None when a snapshot is the answer: too
    much changed (more than half the scope's sites), or the board was reshaped."""
    if since > view.seq or since < view.reshaped_at:
        return None
    scope.members(view)
    change = Change(totals=True, conference=True)
    for ident in site_ids:
        site = view.sites.get(ident)
        if site is not None and scope.covers(site.chain):
            change.sites.add(ident)
            change.units.update(u for u in site.chain if scope.covers(view.chain(u)))
        elif ident in view.departed and scope.covers(view.departed[ident][1]):
            change.gone_sites[ident] = view.departed[ident][0]
    for ident in unit_ids:
        if ident in view.units and scope.covers(view.chain(ident)):
            change.units.add(ident)
    for ident, at in view.unit_gone_at.items():
        if at > since and scope.covers(view.chain(ident)):
            change.gone_units[ident] = view.units[ident].code
    if 2 * (len(change.sites) + len(change.gone_sites)) > max(1, len(scope.site_ids)):
        return None
    return change

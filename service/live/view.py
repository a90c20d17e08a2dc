"""A conference's live view as one worker holds it (DESIGN, Contract: live view).

Sites, units and totals at one `seq`, built from what the database holds at that `seq`
(queries.live) and moved forward by the rows that changed since. Each site's and unit's
entry is serialised once per change (`fragment`), so a snapshot of 40,000 sites is a join
of cached bytes and a delta costs what changed. Units roll up their subtree: a site's
change is added to every unit on its `chain` (the root down to its own unit).

What changed since the last `take_dirty()` is kept as ids; the hub turns it into each
scope's delta (diemcau.live.scopes).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from diemcau.live.model import (
    CATEGORIES,
    NO_TALLY,
    SITE_TEMPLATE,
    SITES,
    WIDTH,
    Dirty,
    Site,
    T,
    Unit,
    site_of,
    tally_of,
)
from diemcau.live.series import Series, minute_number


class View:
    """One conference's board at `seq`."""

    def __init__(self, conference_id: int, seq: int, conference: dict[str, Any] | None) -> None:
        self.conference_id = conference_id
        self.seq = seq
        self.conference: dict[str, Any] = conference or {}
        self.zone = ZoneInfo(self.conference.get("timezone") or "Asia/Ho_Chi_Minh")
        self.sites: dict[int, Site] = {}
        self.units: dict[int, Unit] = {}
        self.tallies: dict[int, tuple[Any, ...]] = {}
        self.total = [0] * WIDTH
        self.arrivals = Series()
        self.departed: dict[int, tuple[str, tuple[int, ...]]] = {}
        self.unit_gone_at: dict[int, int] = {}
        self.reshaped_at = 0  # the last `seq` at which a site moved between units
        self.membership = 0  # moves whenever a scope's members may have changed
        self.dirty = Dirty()
        self._cache: dict[Any, bytes] = {}
        self._chains: dict[int, tuple[int, ...]] = {}

    # --- moving forward -------------------------------------------------------------

    def apply(
        self,
        seq: int,
        conference: dict[str, Any] | None,
        units: Iterable[Any],
        sites: Iterable[Any],
        tallies: Iterable[Any],
        arrivals: Iterable[Any],
    ) -> None:
        """Rows read at `seq` (each kind: all of them, or those changed since `self.seq`)."""
        self.seq = seq
        if conference is not None:
            self.conference = conference
            self.zone = ZoneInfo(conference.get("timezone") or "Asia/Ho_Chi_Minh")
            self.dirty.conference = True
            for s in self.sites.values():
                s.fragment = None  # last_scan_at is shown in the conference's zone
        for row in units:
            self._put_unit(row)
        for row in tallies:
            self._put_tally(row["site_id"], tally_of(row))
        for row in sites:
            if row["taking_part"]:
                self._put_site(row)
            else:
                self._drop_site(row["site_id"])
        for row in arrivals:
            self._put_arrivals(row["unit_id"], minute_number(row["minute"]), row["arrivals"])
        self._cache.clear()

    def load(self, units: Iterable[Any], sites: Iterable[Any], arrivals: Iterable[Any]) -> None:
        """The whole board at `seq` into an empty view: the units' roll-ups summed by
        unit and then up the tree, not site by site (40,000 sites, a few levels)."""
        for row in units:
            self._put_unit(row)
        own: dict[int, list[int]] = {}
        for row in sites:
            site = site_of(row, self.chain(row["unit_id"]))
            self.sites[site.id] = site
            if row["checked_in_member"] is not None:
                self.tallies[site.id] = tally_of(row)
            sums = own.setdefault(site.unit_id, [0] * WIDTH)
            for i, n in enumerate(self.rollup(site)):
                sums[i] += n
        for unit_id, sums in own.items():
            self._spread(self.chain(unit_id), sums)
        for row in arrivals:
            self._put_arrivals(row["unit_id"], minute_number(row["minute"]), row["arrivals"])
        self.membership += 1
        self.take_dirty()

    def _put_unit(self, row: Any) -> None:
        unit = self.units.get(row["id"])
        if unit is None:
            self.units[row["id"]] = Unit(
                row["id"], row["code"], row["name"], row["level"], row["parent_id"], row["path"]
            )
            self._chains.clear()  # a chain that stopped short of this unit is longer now
            self.membership += 1
            return
        unit.code, unit.name, unit.level = row["code"], row["name"], row["level"]
        unit.fragment = None
        if unit.visible:
            self.dirty.units.add(unit.id)
            self.dirty.any = True

    def _put_tally(self, site_id: int, tally: tuple[Any, ...]) -> None:
        site = self.sites.get(site_id)
        if site is None:
            self.tallies[site_id] = tally
            return
        before = self.rollup(site)
        self.tallies[site_id] = tally
        self._changed(site, before)

    def _put_site(self, row: Any) -> None:
        site = self.sites.get(row["site_id"])
        tally = tally_of(row) if row["checked_in_member"] is not None else None
        if tally is not None:
            self.tallies[row["site_id"]] = tally
        fresh = site_of(row, self.chain(row["unit_id"]))
        if site is None or site.chain != fresh.chain:
            if site is not None:  # moved to another unit: scopes change shape
                self._drop_site(site.id, departing=False)
                self.reshaped_at = self.seq
                self.dirty.reshaped = True
            self.sites[fresh.id] = fresh
            self.departed.pop(fresh.id, None)
            self._changed(fresh, [0] * WIDTH)
            self.membership += 1
            return
        before = self.rollup(site)
        self.sites[fresh.id] = fresh
        self._changed(fresh, before)

    def _drop_site(self, site_id: int, departing: bool = True) -> None:
        site = self.sites.pop(site_id, None)
        if site is None:
            return
        self._spread(site.chain, [-n for n in self.rollup(site)])
        self.dirty.units.update(site.chain)
        self.dirty.any = True
        self.dirty.sites.discard(site_id)
        self.membership += 1
        if departing:
            self.departed[site_id] = (site.code, site.chain)
            self.dirty.gone_sites[site_id] = (site.code, site.chain)

    def _changed(self, site: Site, before: list[int]) -> None:
        site.fragment = None
        self.dirty.sites.add(site.id)
        self.dirty.gone_sites.pop(site.id, None)
        after = self.rollup(site)
        diff = [a - b for a, b in zip(after, before, strict=True)]
        self._spread(site.chain, diff)
        self.dirty.units.update(site.chain)
        self.dirty.any = True

    def _spread(self, chain: tuple[int, ...], diff: list[int]) -> None:
        """Add a site's change to the conference and to every unit above the site."""
        if not any(diff):
            return
        self.total = [t + d for t, d in zip(self.total, diff, strict=True)]
        for unit_id in chain:
            unit = self.units[unit_id]
            was = unit.visible
            unit.rollup = [r + d for r, d in zip(unit.rollup, diff, strict=True)]
            unit.fragment = None
            if was and not unit.visible:
                self.dirty.gone_units[unit_id] = (unit.code, self.chain(unit_id))
                self.unit_gone_at[unit_id] = self.seq
                self.membership += 1
            elif unit.visible and not was:
                self.dirty.gone_units.pop(unit_id, None)
                self.unit_gone_at.pop(unit_id, None)
                self.membership += 1

    def _put_arrivals(self, unit_id: int, minute: int, count: int) -> None:
        unit = self.units.get(unit_id)
        if unit is None:
            return
        diff = count - unit.own.get(minute)
        if not diff:
            return
        unit.own.add(minute, diff)
        self.arrivals.add(minute, diff)
        chain = self.chain(unit_id)
        for ancestor in chain:
            self.units[ancestor].arrivals.add(minute, diff)
        # The totals of every scope above change (a unit entry itself holds no arrivals).
        self.dirty.totals.update(chain)
        self.dirty.any = True

    def chain(self, unit_id: int) -> tuple[int, ...]:
        """The unit ids from the root of the tree down to this one (units never move, and
        a unit's ancestors are published with it, so each is worked out once)."""
        found = self._chains.get(unit_id)
        if found is None:
            out: list[int] = []
            unit = self.units.get(unit_id)
            while unit is not None and len(out) < 64:
                out.append(unit.id)
                unit = self.units.get(unit.parent_id) if unit.parent_id is not None else None
            found = self._chains[unit_id] = tuple(reversed(out))
        return found

    def take_dirty(self) -> Dirty:
        dirty, self.dirty = self.dirty, Dirty()
        return dirty

    # --- entries --------------------------------------------------------------------

    def rollup(self, site: Site) -> list[int]:
        t = self.tallies.get(site.id, NO_TALLY)
        walk = t[T["walk_ins_member"]] + t[T["walk_ins_non_member"]] + t[T["walk_ins_guest"]]
        return [
            *site.expected,
            t[T["checked_in_member"]],
            t[T["checked_in_non_member"]],
            t[T["checked_in_guest"]],
            walk,
            t[T["present"]],
            1,
        ]

    def site_fragment(self, site: Site) -> bytes:
        """`"CODE":{entry}`, made once per change: the site's record as cached JSON, its
        counts by a bytes template (a national board has 40,000 of them to make)."""
        if site.fragment is None:
            if site.static is None:
                site.static = orjson.dumps(
                    {
                        "expected": dict(zip(CATEGORIES, site.expected, strict=True)),
                        "capacity": site.capacity,
                        "kiosk_online": site.kiosk_online,
                        "link": site.link,
                        "headcount": site.headcount,
                        "name": site.name,
                        "unit_code": self.units[site.unit_id].code
                        if site.unit_id in self.units
                        else None,
                        "status": site.status,
                    }
                )[1:-1]
            t = self.tallies.get(site.id, NO_TALLY)
            checked = t[0] + t[1] + t[2]
            walk = t[3] + t[4] + t[5]
            over = site.capacity is not None and checked + walk > site.capacity
            last = t[-1]
            shown = b"null" if last is None else orjson.dumps(last.astimezone(self.zone))
            site.fragment = SITE_TEMPLATE % (
                orjson.dumps(site.code),
                site.static,
                t[0],
                t[1],
                t[2],
                walk,
                t[T["moved_in"]],
                t[T["moved_out"]],
                t[T["present"]],
                b"true" if over else b"false",
                shown,
            )
        return site.fragment

    def unit_entry(self, unit: Unit | None) -> dict[str, Any]:
        r = unit.rollup if unit is not None else self.total
        out: dict[str, Any] = {
            "expected": dict(zip(CATEGORIES, r[0:3], strict=True)),
            "checked_in": dict(zip(CATEGORIES, r[3:6], strict=True)),
            "walk_ins": r[6],
            "present": r[7],
            "sites": r[SITES],
        }
        if unit is not None:
            parent = self.units.get(unit.parent_id) if unit.parent_id is not None else None
            out |= {
                "name": unit.name,
                "level": unit.level,
                "parent_code": parent.code if parent is not None else None,
            }
        return out

    def unit_fragment(self, unit: Unit) -> bytes:
        if unit.fragment is None:
            unit.fragment = orjson.dumps({unit.code: self.unit_entry(unit)})[1:-1]
        return unit.fragment

    def totals(self, scope: int | None) -> bytes:
        """The totals of a scope (a unit id, or None for the whole conference), made once
        per `seq`."""
        key = ("totals", scope)
        if key not in self._cache:
            unit = self.units.get(scope) if scope is not None else None
            if scope is not None and unit is None:  # a unit with no site of the board
                unit = Unit(scope, "", "", "", None, "")
            out = self.unit_entry(unit)
            if unit is not None:
                for name in ("name", "level", "parent_code"):
                    out.pop(name)
            checked, expected = out["checked_in"], out["expected"]
            out["rates"] = {
                c: (checked[c] / expected[c] if expected[c] else None)
                for c in ("member", "non_member")
            }
            out["targets"] = self.conference.get("targets") or {}
            series = unit.arrivals if unit is not None else self.arrivals
            out["arrivals"] = series.out(self.zone)
            self._cache[key] = orjson.dumps(out)
        return self._cache[key]

    def conference_out(self) -> bytes:
        key = "conference"
        if key not in self._cache:
            c = dict(self.conference)
            for name in ("starts_at", "ends_at", "checkin_opens_at"):
                if c.get(name):
                    c[name] = datetime.fromisoformat(c[name]).astimezone(self.zone)
            self._cache[key] = orjson.dumps(c)
        return self._cache[key]

    def cached(self, key: Any) -> bytes | None:
        return self._cache.get(key)

    def remember(self, key: Any, value: bytes) -> bytes:
        self._cache[key] = value
        return value

"""The demo's morning, decided before it starts: who is on the roster, who comes, where,
when, who leaves at the break, what each technician counts, and which sites carry the
morning's troubles. Everything follows from one seed; the simulation only plays it, and
the ground truth (what the API must end up saying) is worked out here from the plan.

Times are fractions of the morning (0 = check-in opens, 1 = the conference closes).
Sites' rates are kept at their targets (98 % of members, 90 % of non-members) except at
the sites chosen to raise a flag, so the reconciliation's open flags are the few made
on purpose: a miscounted hall, a hall emptied at the break, a site that reported no
headcount, a commune whose delegates went to their district hall (under target there,
many moved in at the hall).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from diemcau.demo import places
from diemcau.demo.names import Names

CATEGORIES = ("member", "non_member", "guest")
OPENS, STARTS, ENDS = 0.0, 0.30, 1.0
HEADCOUNT_AT = {"start": 0.36, "after_break": 0.66, "end": 0.92}
BREAK_OUT, BREAK_BACK = (0.50, 0.54), (0.57, 0.62)
OFFLINE = (0.06, 0.45)  # the link-lost sites' kiosks queue scans in between
SKEW_MINUTES = -10  # one kiosk's clock is 10 minutes slow
TARGETS = {"member": 0.98, "non_member": 0.9}
ROLES = ("offline", "offline", "offline", "skewed", "miscounted", "emptied", "silent_count")


Unit = tuple[str, str, str, str | None]  # code, name, level, parent code


@dataclass(slots=True)
class Site:
    code: str
    name: str
    unit_code: str
    level: str
    district: str | None
    technician: str = ""
    phone: str = ""
    capacity: int = 0
    roles: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Person:
    external_id: str
    full_name: str
    category: str
    site: int  # roster site (index)
    at: int | None = None  # where they scan in; None: absent
    arrive: float = 0.0
    again: float | None = None  # a second scan at the door (answers duplicate)
    out: float | None = None  # exit scan at the break
    back: float | None = None  # re-entry after it
    absence: str | None = None  # a reason recorded for an absent delegate


@dataclass(slots=True)
class WalkIn:
    full_name: str
    category: str
    site: int
    arrive: float


@dataclass
class Plan:
    seed: int
    sites: list[Site]
    people: list[Person]
    walk_ins: list[WalkIn]
    units: list[Unit]
    headcounts: dict[int, dict[str, dict[str, int]]] = field(default_factory=dict)

    def site_index(self) -> dict[str, int]:
        return {s.code: i for i, s in enumerate(self.sites)}


def build_sites(count: int, rng: random.Random) -> tuple[list[Site], list[Unit]]:
    """The host hall, the district halls, the communes, the agencies; more sites than
    Lai Châu has are further commune points, fewer leave out the last communes and the
    agencies."""
    units: list[Unit] = [(*places.PROVINCE, "province", None)]
    sites = [Site("LC-HT", "Hội trường Tỉnh ủy Lai Châu", "LC", "province", None)]
    for code, name, _ in places.DISTRICTS:
        units.append((code, name, "district", "LC"))
        sites.append(Site(f"{code}-HTH", f"Hội trường {name}", code, "district", code))
    kinds: list[tuple[str, tuple[str, str, str | None]]]
    kinds = [("commune", c) for c in places.communes()]
    kinds += [("agency", (f"LC-CQ{i + 1:02d}", a, None)) for i, a in enumerate(places.AGENCIES)]
    extra = 0
    while len(sites) + len(kinds) < count:
        extra += 1
        home = places.DISTRICTS[extra % len(places.DISTRICTS)][0]
        kinds.append(("commune", (f"{home}-X{extra}", f"Điểm cầu cơ sở số {extra}", home)))
    for level, (code, name, district) in kinds[: max(0, count - len(sites))]:
        units.append((code, name, level, district or "LC"))
        hall = f"Hội trường UBND {name}" if level == "commune" else f"Phòng họp {name}"
        sites.append(Site(code, hall, code, level, district))
    sites = sites[:count]
    names = Names(rng)
    for s in sites:
        s.technician = names.full_name()
        s.phone = f"09{rng.randrange(10**8):08d}"
    used = {s.unit_code for s in sites}
    return sites, [u for u in units if u[0] in used or u[2] in ("province", "district")]


def spread(total: int, weights: list[float], rng: random.Random) -> list[int]:
    """`total` people over sites by weight (with some noise), summing exactly."""
    noisy = [w * rng.uniform(0.8, 1.2) for w in weights]
    scale = total / sum(noisy)
    counts = [math.floor(w * scale) for w in noisy]
    order = sorted(range(len(noisy)), key=lambda i: noisy[i] * scale - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


WEIGHT = {"province": 4.0, "district": 2.0, "agency": 0.75, "commune": 1.0}
SHARES = {"province": (0.80, 0.08), "district": (0.78, 0.18), "agency": (0.85, 0.13)}


def roster(sites: list[Site], delegates: int, rng: random.Random) -> list[Person]:
    names = Names(rng)
    people: list[Person] = []
    for i, n in enumerate(spread(delegates, [WEIGHT[s.level] for s in sites], rng)):
        members, non_members = SHARES.get(sites[i].level, (0.72, 0.25))
        for _ in range(n):
            r = rng.random()
            cat = (
                "member" if r < members else "non_member" if r < members + non_members else "guest"
            )
            people.append(Person(f"LC-{len(people) + 1:07d}", names.full_name(), cat, i))
    return people


def assign_roles(sites: list[Site], rng: random.Random) -> None:
    """The troubled sites: communes (or agencies) first, one role each; the commune whose
    people went to a district hall is paired with that hall."""
    pool = [i for i, s in enumerate(sites) if s.level in ("commune", "agency")]
    rng.shuffle(pool)
    halls = [i for i, s in enumerate(sites) if s.level == "district"]
    if pool and halls:
        source = pool.pop()
        hall = next((h for h in halls if sites[h].unit_code == sites[source].district), halls[0])
        sites[source].roles.add("went_to_hall")
        sites[hall].roles.add("many_moved")
    for role, i in zip(ROLES, pool, strict=False):
        sites[i].roles.add(role)
    # The site whose badges are printed for the person at the terminal.
    calm = [i for i, s in enumerate(sites) if i and not s.roles and s.level == "commune"]
    sites[(calm or [i for i, s in enumerate(sites) if not s.roles] or [0])[0]].roles.add("yours")


def arrival(rng: random.Random) -> float:
    """Most come in the hour before the opening, a few just after it."""
    if rng.random() < 0.03:
        return rng.uniform(STARTS, STARTS + 0.04)
    return 0.02 + (STARTS - 0.03) * rng.betavariate(3, 2)


def attend(plan: Plan, rng: random.Random) -> None:
    """Who comes (each site within its targets' slack, except the troubled ones), who
    scans twice, who leaves at the break and comes back."""
    by_site: dict[int, list[Person]] = {}
    for p in plan.people:
        by_site.setdefault(p.site, []).append(p)
    hall = next((i for i, s in enumerate(plan.sites) if "many_moved" in s.roles), None)
    for i, members in by_site.items():
        site = plan.sites[i]
        slack = {
            "member": math.floor(0.02 * sum(p.category == "member" for p in members) + 1e-9),
            "non_member": math.floor(
                0.10 * sum(p.category == "non_member" for p in members) + 1e-9
            ),
        }
        rng.shuffle(members)
        leavers = len(members) // 20  # at most one in twenty leaves at the break for good
        movers = 0
        if "went_to_hall" in site.roles and hall is not None:
            # Members first: their going elsewhere is what puts the commune under target.
            members.sort(key=lambda p: p.category != "member")
            hall_size = sum(1 for p in plan.people if p.site == hall)
            movers = min(len(members) // 2, hall_size // 6 + 3)
        for n, p in enumerate(members):
            p.arrive = arrival(rng)
            p.at = p.site
            if n < movers:
                p.at = hall
            elif p.category == "guest":
                p.at = None if rng.random() < 0.1 else p.site
            elif slack.get(p.category, 0) and ("yours" in site.roles or rng.random() < 0.5):
                slack[p.category] -= 1
                p.at = None
            if p.at is None:
                # At the printed site, the ones who did not come are left for the person
                # at the terminal to scan (no absence is recorded for them).
                if "yours" not in site.roles:
                    p.absence = rng.choice(["sick", "on_duty", "on_duty", "travel", "other"])
                continue
            if rng.random() < 0.02:
                p.again = min(p.arrive + rng.uniform(0.01, 0.05), ENDS - 0.05)
            if "emptied" in site.roles:
                # Two in five leave at the break and do not come back.
                p.out = rng.uniform(*BREAK_OUT) if n % 5 < 2 else None
            elif rng.random() < 0.15:
                p.out = rng.uniform(*BREAK_OUT)
                gone = leavers > 0 and rng.random() < 0.1
                leavers -= gone
                p.back = None if gone else rng.uniform(*BREAK_BACK)


def walk_ins(plan: Plan, rng: random.Random) -> None:
    names = Names(rng)
    for i, _ in enumerate(plan.sites):
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            cat = "guest" if rng.random() < 0.3 else "non_member"
            plan.walk_ins.append(WalkIn(names.full_name(), cat, i, arrival(rng)))


def present_at(plan: Plan, moment: float) -> dict[int, Counter[str]]:
    """Who is in each hall at a moment, by category, by the plan."""
    out: dict[int, Counter[str]] = {}
    for p in plan.people:
        if p.at is None or p.arrive > moment:
            continue
        inside = not (p.out is not None and p.out <= moment and (p.back is None or p.back > moment))
        if inside:
            out.setdefault(p.at, Counter())[p.category] += 1
    for w in plan.walk_ins:
        if w.arrive <= moment:
            out.setdefault(w.site, Counter())[w.category] += 1
    return out


def count_heads(plan: Plan, rng: random.Random) -> None:
    """What each technician counts: the room as it is, give or take one person; the
    miscounted hall adds a row of chairs, the silent one reports nothing."""
    for moment, at in HEADCOUNT_AT.items():
        present = present_at(plan, at)
        for i, site in enumerate(plan.sites):
            if "silent_count" in site.roles:
                continue
            room = present.get(i, Counter())
            counts = {c: room[c] for c in CATEGORIES}
            if sum(counts.values()) >= 40:  # a big hall's count may be one out
                counts["member"] = max(0, counts["member"] + rng.choice([-1, 0, 0, 0, 1]))
            if "miscounted" in site.roles:
                # Chairs counted, not people: every count of the morning is too high.
                counts["member"] += max(6, math.ceil(0.1 * sum(room.values())) + 4)
            plan.headcounts.setdefault(i, {})[moment] = counts


def set_capacities(plan: Plan, rng: random.Random) -> None:
    """Seats enough for everyone counted or scanned, with room to spare."""
    seen: Counter[int] = Counter(p.at for p in plan.people if p.at is not None)
    seen.update(w.site for w in plan.walk_ins)
    for i, site in enumerate(plan.sites):
        counted = max((sum(c.values()) for c in plan.headcounts.get(i, {}).values()), default=0)
        most = max(seen[i], counted, sum(1 for p in plan.people if p.site == i))
        site.capacity = int(math.ceil((most * 1.25 + 10) / 10) * 10)


def make_plan(sites: int, delegates: int, seed: int) -> Plan:
    rng = random.Random(seed)
    site_list, units = build_sites(sites, rng)
    assign_roles(site_list, rng)
    plan = Plan(seed, site_list, roster(site_list, delegates, rng), [], units)
    attend(plan, rng)
    walk_ins(plan, rng)
    count_heads(plan, rng)
    set_capacities(plan, rng)
    return plan


def truth(plan: Plan) -> dict[str, Any]:
    """What the API must say at the end: per site and in total, checked in by category,
    walk-ins, moved in and out, present; and the flags made on purpose."""
    sites: dict[str, dict[str, Any]] = {}
    for s in plan.sites:
        sites[s.code] = {
            "expected": dict.fromkeys(CATEGORIES, 0),
            "checked_in": dict.fromkeys(CATEGORIES, 0),
            "walk_ins": 0,
            "moved_in": 0,
            "moved_out": 0,
            "present": 0,
        }
    for p in plan.people:
        home = sites[plan.sites[p.site].code]
        home["expected"][p.category] += 1
        if p.at is None:
            continue
        there = sites[plan.sites[p.at].code]
        there["checked_in"][p.category] += 1
        if p.at != p.site:
            there["moved_in"] += 1
            home["moved_out"] += 1
    for w in plan.walk_ins:
        sites[plan.sites[w.site].code]["walk_ins"] += 1
    for i, room in present_at(plan, ENDS).items():
        sites[plan.sites[i].code]["present"] = sum(room.values())
    totals: dict[str, Any] = {
        "expected": dict.fromkeys(CATEGORIES, 0),
        "checked_in": dict.fromkeys(CATEGORIES, 0),
    }
    for entry in sites.values():
        for key in ("expected", "checked_in"):
            for c in CATEGORIES:
                totals[key][c] += entry[key][c]
        for key in ("walk_ins", "present"):
            totals[key] = totals.get(key, 0) + entry[key]
    return {"sites": sites, "totals": totals, "flags": designed_flags(plan)}


DESIGNED = {
    "miscounted": "headcount_mismatch",
    "emptied": "hall_emptied",
    "silent_count": "no_headcount",
    "went_to_hall": "under_target",
    "many_moved": "many_moved",
}


def designed_flags(plan: Plan) -> list[str]:
    return sorted(f"{s.code}.{DESIGNED[r]}" for s in plan.sites for r in s.roles if r in DESIGNED)

"""The demo's registry and conference, made through the service's own API as an
organiser would: units and sites imported from CSV (upserted, so a second run reuses
them), a conference over every site, the roster imported from CSV; then the codes the
badges carry, one site's badge PDF written to a file, and a kiosk for every site.

Kiosks enroll as a device does (a code from the site's page, then
`POST /api/v1/kiosks/enroll`; only a wrong code spends one of the address's tries).
Beyond ENROLLED_UP_TO sites, to spare the building minutes, the others get their kiosk
tokens the way `diemcau token create --role kiosk` makes them. Either way a kiosk is a
token of role `kiosk` for one site.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from diemcau import audit, auth, issuance, keystore
from diemcau.auth import CLI
from diemcau.cli.say import language
from diemcau.config import Config
from diemcau.demo.plan import TARGETS, Plan
from diemcau.figures import number
from diemcau.keystore import Keystore
from diemcau.kiosk.api import enroll
from diemcau.queries import credentials as qc
from diemcau.sites.client import ApiError, Client

ENROLLED_UP_TO = 2_000
TITLE = "Hội nghị trực tuyến học tập, quán triệt Nghị quyết (trình diễn)"


def csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


async def post_csv(api: Client, path: str, header: list[str], rows: list[list[Any]]) -> Any:
    return await api.request(
        "POST", path, data=csv_bytes(header, rows), headers={"Content-Type": "text/csv"}
    )


async def registry(api: Client, plan: Plan) -> None:
    """Units, then sites with their technicians and video endpoints (both upserts)."""
    units = [[code, name, level, parent or ""] for code, name, level, parent in plan.units]
    await post_csv(api, "/api/v1/units/import", ["code", "name", "level", "parent_code"], units)
    header = ["code", "name", "unit_code", "level", "address", "capacity", "technician_name",
              "technician_phone", "endpoint_protocol", "endpoint_uri", "endpoint_provider"]  # fmt: skip
    rows = [
        [s.code, s.name, s.unit_code, s.level, f"{s.name}, tỉnh Lai Châu", s.capacity,
         s.technician, s.phone, "sip", f"sip:{s.code.lower()}@cau.laichau.gov.vn", "VNPT"]
        for s in plan.sites
    ]  # fmt: skip
    await post_csv(api, "/api/v1/sites/import", header, rows)


async def free_code(api: Client, base: str) -> str:
    """`base`, or `base-2`, `-3` ... : the first conference code not taken by an earlier run."""
    n = 1
    while True:
        code = base if n == 1 else f"{base}-{n}"
        try:
            await api.get(f"/api/v1/conferences/{code}")
        except ApiError as err:
            if err.status == 404:
                return code
            raise
        n += 1


async def conference(api: Client, plan: Plan, code: str) -> dict[str, Any]:
    """A conference over every site, its schedule hours ahead: the morning moves it
    open, live and closed by `POST .../status`, so its status follows the simulation."""
    now = datetime.now(UTC).replace(microsecond=0)
    body = {
        "code": code,
        "title": TITLE,
        "checkin_opens_at": (now + timedelta(hours=1)).isoformat(),
        "starts_at": (now + timedelta(hours=2)).isoformat(),
        "ends_at": (now + timedelta(hours=6)).isoformat(),
        "host_site": plan.sites[0].code,
        "sites": [s.code for s in plan.sites],
        "policy": {"other_site": "accept"},
        "targets": TARGETS,
        "unit_code": "LC",
    }
    answer: dict[str, Any] = await api.request("POST", "/api/v1/conferences", json=body)
    return answer


async def roster(api: Client, plan: Plan, code: str) -> Any:
    header = ["external_id", "full_name", "category", "site_code", "unit_code"]
    rows = [
        [
            p.external_id,
            p.full_name,
            p.category,
            plan.sites[p.site].code,
            plan.sites[p.site].unit_code,
        ]
        for p in plan.people
    ]
    return await post_csv(api, f"/api/v1/conferences/{code}/delegates/import", header, rows)


async def codes(conn: asyncpg.Connection, store: Keystore, conference_id: int) -> dict[str, str]:
    """external_id -> the code its badge carries, made and recorded as `diemcau codes`
    makes and records them (issuance.signed_codes, issuance.record_codes)."""
    key = await keystore.signing_key(conn, store, conference_id, CLI)
    delegates = list(await qc.fetch_badge_delegates(conn, conference_id, None))
    signed = await asyncio.to_thread(issuance.signed_codes, key, conference_id, delegates)
    await issuance.record_codes(conn, [(claims, code) for _, claims, code in signed])
    return {row["external_id"]: code for row, _, code in signed}


async def badge_pdf(api: Client, conference: str, site: str, path: Path) -> Path:
    """The site's badges as printed (`GET .../badges.pdf`), written to `path`."""
    url = api.url(f"/api/v1/conferences/{conference}/sites/{site}/badges.pdf")
    async with api.session.get(url) as resp:
        if resp.status >= 400:
            raise ApiError(resp.status, {"code": "badges", "title": await resp.text()})
        body = await resp.read()
    await asyncio.to_thread(_write, path, body)
    return path


def _write(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


async def kiosk_code(api: Client, conference: str, site: str) -> dict[str, Any]:
    """A single-use enrollment code for one kiosk of the site (`enroll_url` opens the
    web kiosk with it filled in)."""
    answer: dict[str, Any] = await api.request(
        "POST", f"/api/v1/conferences/{conference}/sites/{site}/kiosk-codes"
    )
    return answer


def device_name(site: str) -> str:
    return f"Máy điểm danh {site}"


async def kiosks(
    api: Client, conn: asyncpg.Connection, conference: str, sites: list[str], enrolled: set[str]
) -> dict[str, str]:
    """site code -> kiosk token: the sites in `enrolled` by code and enrollment (as a
    device), the others by token (as `diemcau token create --role kiosk` makes one)."""
    tokens: dict[str, str] = {}
    gate = asyncio.Semaphore(4)

    async def by_code(site: str) -> None:
        async with gate:
            made = await kiosk_code(api, conference, site)
            answer = await enroll(api.base_url, made["code"], device_name(site), "vi")
        tokens[site] = answer["token"]

    await asyncio.gather(*(by_code(site) for site in sites if site in enrolled))
    for site in sites:
        if site in enrolled:
            continue
        async with conn.transaction():
            secret, token_id = await auth.create_token(
                conn, "kiosk", label=device_name(site), conference=conference, site=site
            )
            scope = {"role": "kiosk", "conference": conference, "site": site}
            await audit.record(conn, CLI, "create", "token", str(token_id), after=scope)
        tokens[site] = secret
    return tokens


async def organiser_token(conn: asyncpg.Connection, conference: str | None = None) -> str:
    """The demo's own organiser token (and, with a conference, a viewer's)."""
    role = "viewer" if conference else "organiser"
    async with conn.transaction():
        secret, token_id = await auth.create_token(
            conn, role, label=f"diemcau demo ({role})", conference=conference
        )
        after = {"role": role, "conference": conference, "label": "diemcau demo"}
        await audit.record(conn, CLI, "create", "token", str(token_id), after=after)
    return secret


@dataclass
class Ready:
    """What the morning and the person at the terminal need once everything is built."""

    conference: str
    codes: dict[str, str]
    tokens: dict[str, str]
    viewer: str
    dashboard: str
    site: str
    enroll: dict[str, Any]
    badges: Path
    waiting: list[tuple[str, str]]  # (external id, name) of badges the morning leaves


async def everything(
    api: Client, conn: asyncpg.Connection, config: Config, plan: Plan, base_code: str,
    say: Callable[[str], None], dashboard_url: Callable[[Config, str], str],
) -> Ready:  # fmt: skip
    """Registry, conference, roster, codes, one site's badges, kiosks: with a line each."""
    started = time.perf_counter()

    def step(vi: str, en: str) -> None:
        say(f"  [{time.perf_counter() - started:5.1f} s] " + (vi if language() == "vi" else en))

    await registry(api, plan)
    step(f"{number(len(plan.units))} đơn vị, {number(len(plan.sites))} điểm cầu (kỹ thuật viên, thiết bị cầu)",
         f"{len(plan.units):,} units, {len(plan.sites):,} sites (technicians, video endpoints)")  # fmt: skip
    code = await free_code(api, base_code)
    await conference(api, plan, code)
    step(f"hội nghị {code}, chỉ tiêu đảng viên 98%, quần chúng 90%",
         f"conference {code}, targets: members 98%, non-members 90%")  # fmt: skip
    await roster(api, plan, code)
    cats = Counter(p.category for p in plan.people)
    step(f"danh sách {number(len(plan.people))} đại biểu: {number(cats['member'])} đảng viên, "
         f"{number(cats['non_member'])} quần chúng, {number(cats['guest'])} khách mời",
         f"roster of {len(plan.people):,}: {cats['member']:,} members, "
         f"{cats['non_member']:,} non-members, {cats['guest']:,} guests")  # fmt: skip
    codes_by_id = await codes(conn, Keystore.from_config(config), await _conference_id(conn, code))
    step(f"{number(len(codes_by_id))} mã QR đã ký", f"{len(codes_by_id):,} QR codes signed")
    i = next(i for i, s in enumerate(plan.sites) if "yours" in s.roles)
    site = plan.sites[i].code
    pdf = await badge_pdf(
        api, code, site, Path(config.data_dir) / "demo" / f"badges-{code}-{site}.pdf"
    )
    step(f"thẻ đại biểu của {site}: {pdf}", f"badges of {site}: {pdf}")
    by_code = [s.code for s in plan.sites][:ENROLLED_UP_TO]
    tokens = await kiosks(api, conn, code, [s.code for s in plan.sites], set(by_code))
    enroll_code = await kiosk_code(api, code, site)
    step(f"{number(len(tokens))} máy điểm danh ({number(len(by_code))} ghép bằng mã)",
         f"{len(tokens):,} kiosks ({len(by_code):,} enrolled with a code)")  # fmt: skip
    viewer = await organiser_token(conn, code)
    waiting = [(p.external_id, p.full_name) for p in plan.people if p.site == i and p.at is None]
    return Ready(code, codes_by_id, tokens, viewer, dashboard_url(config, code), site,
                 enroll_code, pdf, waiting)  # fmt: skip


async def _conference_id(conn: asyncpg.Connection, code: str) -> int:
    found: int = await conn.fetchval("SELECT id FROM conferences WHERE code = $1", code)
    return found

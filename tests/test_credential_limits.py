"""What a code can carry: the credential version is a u16 and ids are u32 (DESIGN, QR
credential). A move past the last version is refused (409), not stored; a delegate whose
code cannot be made answers 409 on its own, and never takes a whole badge sheet down."""

from __future__ import annotations

from typing import Any

import asyncpg
import pypdfium2 as pdfium

from diemcau import credentials
from tests.factory import Factory, bearer
from tests.problems import assert_problem
from tests.scanning import qr_texts

BASE = "/api/v1/conferences/HN"


async def _world(factory: Factory) -> dict[str, Any]:
    await factory.unit("VN", level="national")
    await factory.site("S1", unit="VN")
    await factory.site("S2", unit="VN")
    conference = await factory.conference("HN", sites=["S1", "S2"])
    worn = await factory.delegate(conference["id"], site="S1", external_id="A1")
    fresh = await factory.delegate(conference["id"], site="S1", external_id="A2")
    await factory.conn.execute(
        "UPDATE delegates SET credential_version = $1 WHERE id = $2", credentials.U16, worn["id"]
    )
    return {"worn": worn, "fresh": fresh, "org": bearer(await factory.token("organiser"))}


async def test_a_move_past_the_last_version_is_refused(
    client: Any, factory: Factory, db: asyncpg.Connection
) -> None:
    w = await _world(factory)
    url = f"{BASE}/delegates/{w['worn']['id']}"
    resp = await client.patch(url, json={"site_code": "S2"}, headers=w["org"])
    body = await assert_problem(resp, 409, "conflict")
    assert [e["field"] for e in body["errors"]] == ["site_code"]
    row = await db.fetchrow("SELECT * FROM delegates WHERE id = $1", w["worn"]["id"])
    assert row["credential_version"] == credentials.U16
    resp = await client.patch(url, json={"full_name": "Lò Văn Đức"}, headers=w["org"])
    assert resp.status == 200, await resp.text()  # no move, no new version: fine
    csv = "external_id,full_name,category,site_code\nA1,Lò Văn Đức,member,S2\n"
    resp = await client.post(
        f"{BASE}/delegates/import",
        data=csv.encode(),
        headers={**w["org"], "Content-Type": "text/csv"},
    )
    await assert_problem(resp, 409, "conflict")
    assert (
        await db.fetchval("SELECT site_id FROM delegates WHERE id = $1", w["worn"]["id"])
        == (w["worn"]["site_id"])
    )


async def test_no_write_can_store_a_version_the_code_cannot_carry(
    factory: Factory, db: asyncpg.Connection
) -> None:
    w = await _world(factory)
    try:
        await db.execute(
            "UPDATE delegates SET credential_version = credential_version + 1 WHERE id = $1",
            w["worn"]["id"],
        )
    except asyncpg.CheckViolationError as exc:
        assert exc.constraint_name == "delegates_version_fits_code"
    else:
        raise AssertionError("a version past 65535 was stored")


async def test_one_delegate_that_cannot_be_coded_leaves_the_sheet_printable(
    client: Any, factory: Factory, db: asyncpg.Connection
) -> None:
    w = await _world(factory)
    conference_id = w["fresh"]["conference_id"]
    # An id past the code's u32 (ids are bigint): the one way left to an unfit code.
    huge = await db.fetchrow(
        """INSERT INTO delegates (id, conference_id, external_id, full_name, category, site_id)
           OVERRIDING SYSTEM VALUE VALUES ($1, $2, 'A3', 'Quá Hạn', 'member', $3) RETURNING *""",
        credentials.U32 + 1,
        conference_id,
        w["fresh"]["site_id"],
    )
    resp = await client.get(f"{BASE}/delegates/{huge['id']}/qr.png", headers=w["org"])
    await assert_problem(resp, 409, "conflict")
    resp = await client.get(f"{BASE}/sites/S1/badges.pdf", headers=w["org"])
    assert resp.status == 200, await resp.text()
    page = pdfium.PdfDocument(await resp.read())[0].render(scale=150 / 72).to_pil()
    keys = await (await client.get(f"{BASE}/keys", headers=w["org"])).json()
    found = sorted(credentials.verify(t, keys).delegate_id for t in qr_texts(page))
    assert found == sorted([w["worn"]["id"], w["fresh"]["id"]])


async def test_the_cli_import_says_so_too(
    factory: Factory, database_url: str, tmp_path: Any, monkeypatch: Any, capsys: Any
) -> None:
    import asyncio

    from diemcau.cli import main

    await _world(factory)
    path = tmp_path / "r.csv"
    path.write_text("external_id,full_name,category,site_code\nA1,Lò Văn Đức,member,S2\n")
    monkeypatch.setenv("DATABASE_URL", database_url)
    args = ["roster", "import", str(path), "--conference", "HN", "--quiet"]
    assert await asyncio.to_thread(main, args) == 1
    err = capsys.readouterr().err
    assert "65.535 phiên bản" in err and "Traceback" not in err, err  # Vietnamese by default


async def test_the_cli_prints_the_others_passes(
    factory: Factory, db: asyncpg.Connection, database_url: str, tmp_path: Any, monkeypatch: Any
) -> None:
    import asyncio

    from diemcau.cli import main

    w = await _world(factory)
    await db.execute(
        """INSERT INTO delegates (id, conference_id, external_id, full_name, category, site_id)
           OVERRIDING SYSTEM VALUE VALUES ($1, $2, 'A3', 'Quá Hạn', 'member', $3)""",
        credentials.U32 + 1,
        w["fresh"]["conference_id"],
        w["fresh"]["site_id"],
    )
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DIEMCAU_SECRET_KEY", "t" * 32)
    out = tmp_path / "passes"
    args = ["passes", "--conference", "HN", "--site", "S1", "-o", str(out)]
    assert await asyncio.to_thread(main, args) == 0
    assert sorted(p.name for p in (out / "S1").iterdir()) == ["A1.png", "A2.png"]

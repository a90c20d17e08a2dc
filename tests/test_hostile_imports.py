"""Hostile spreadsheets, over HTTP, on all three imports: each is refused in seconds with
bounded memory, naming the limit, while the service keeps serving; imports run in their
own threads, so busy imports never keep a QR code waiting; an import whose client went
away stops reading."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from diemcau import tabular, units
from diemcau.tabular import limits
from tests.factory import bearer
from tests.problems import assert_problem
from tests.sheets import MAIN, inline_row, row, sheet_xml, xlsx

XLSX = tabular.XLSX_MEDIA
IMPORTS = (
    ("/api/v1/units/import", ("code", "name", "level", "parent_code")),
    ("/api/v1/sites/import", ("code", "name", "unit_code", "level")),
    (
        "/api/v1/conferences/HN/delegates/import",
        ("external_id", "full_name", "category", "site_code"),
    ),
)
# Generous, never reached by a working service: the old reader took nine minutes.
PATIENCE = 60


def declared_grid(header: tuple[str, ...]) -> bytes:
    """2 KB: a sheet declaring A1:XFD1048576, a header, and one value in the far corner."""
    far = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    return xlsx(sheet_xml(inline_row(1, *header) + far, "A1:XFD1048576"))


def huge_string() -> bytes:
    """A few hundred KB holding a shared string past the shared strings' limit."""

    def strings() -> Any:
        yield f'<?xml version="1.0"?><sst xmlns="{MAIN}"><si><t>'.encode()
        for _ in range((limits.MAX_SHARED_STRINGS_BYTES >> 20) + 1):
            yield b"A" * (1 << 20)
        yield b"</t></si></sst>"

    return xlsx(sheet_xml(row(1, "A:0")), strings())


def expanding_strings(
    header: tuple[str, ...], rows: int = 20_000, strings: int = 3_800, chars: int = 32_000
) -> bytes:
    """Under every size limit, yet billions of characters once read: `strings` shared
    strings of `chars` characters (122 MB, under the 128 MiB of shared strings), each
    cell of `rows` rows referencing one (a row as wide as the header, so each row is
    read and checked). Rows repeat every 64, so the file stays under two megabytes."""

    def parts() -> Any:
        yield f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}">'.encode()
        for i in range(strings):
            yield f"<si><t>{i:05d}{'A' * (chars - 5)}</t></si>".encode()
        yield b"</sst>"

    width = len(header)
    shapes = [
        "<row>"
        + "".join(f'<c t="s"><v>{(k * width + n) % strings}</v></c>' for n in range(width))
        + "</row>"
        for k in range(64)
    ]
    body = inline_row(1, *header) + "".join(shapes[r % 64] for r in range(rows))
    return xlsx(sheet_xml(body), parts(), level=1)


async def _world(factory: Any) -> tuple[dict[str, str], str]:
    await factory.unit("VN", level="national")
    await factory.site("S1", unit="VN")
    conference = await factory.conference("HN", sites=["S1"])
    delegate = await factory.delegate(conference["id"], site="S1")
    qr = f"/api/v1/conferences/HN/delegates/{delegate['id']}/qr.png"
    return bearer(await factory.token("organiser")), qr


async def test_hostile_files_are_refused_quickly_while_qr_codes_keep_coming(
    client: Any, factory: Any
) -> None:
    headers, qr = await _world(factory)
    upload = headers | {"Content-Type": XLSX}
    bomb = huge_string()
    started = time.monotonic()

    async def post(url: str, data: bytes) -> Any:
        return await client.post(url, data=data, headers=upload)

    calls = [post(url, declared_grid(header)) for url, header in IMPORTS]
    calls += [post(url, bomb) for url, _ in IMPORTS]
    tracemalloc.start()
    try:
        *answers, image = await asyncio.wait_for(
            asyncio.gather(*calls, client.get(qr, headers=headers)), PATIENCE
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert image.status == 200 and image.content_type == "image/png"
    # Units and sites hold at most 100,000 rows: row 1,048,576 is past that already. A
    # roster may be longer: there the far value is past the 64 columns read.
    for resp in answers[:2]:
        body = await assert_problem(resp, 413, "payload_too_large")
        assert (body["limit"], body["max"]) == ("rows", 100_000)
    body = await assert_problem(answers[2], 422, "import_failed")
    assert body["errors"][0]["field"] == "XFD" and "64" in body["errors"][0]["message"]
    for resp in answers[3:]:
        body = await assert_problem(resp, 413, "payload_too_large")
        assert body["limit"] == "shared_strings_bytes" and "128 MiB" in body["detail"]
    # Three 129 MiB strings were never decompressed: the whole exchange stayed small.
    assert peak < 64 << 20, f"peak {peak >> 20} MiB"
    assert time.monotonic() - started < PATIENCE
    assert (await client.get("/healthz")).status == 200


async def test_busy_imports_never_keep_a_qr_code_waiting(
    client: Any, factory: Any, monkeypatch: Any
) -> None:
    """Imports have threads of their own: with more imports in flight than the default
    executor has threads, a QR code (rendered there) still answers at once."""
    headers, qr = await _world(factory)
    release = threading.Event()

    def stuck(sheet: tabular.Sheet) -> Any:
        release.wait(PATIENCE)
        return [], []

    monkeypatch.setattr(units, "parse_units", stuck)
    text = b"code,name,level\nX,Y,commune\n"
    imports = [
        asyncio.ensure_future(
            client.post(
                "/api/v1/units/import", data=text, headers=headers | {"Content-Type": "text/csv"}
            )
        )
        for _ in range(12)
    ]
    try:
        image = await asyncio.wait_for(client.get(qr, headers=headers), 20)
        assert image.status == 200
    finally:
        release.set()
    for resp in await asyncio.gather(*imports):
        assert resp.status == 200, await resp.text()


def _units_csv(path: Path, rows: int) -> None:
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["code", "name", "level", "parent_code"])
        out.writerows([f"U{i}", f"Xã {i}", "commune", "VN"] for i in range(rows))


async def test_an_import_stops_reading_when_its_client_goes_away(
    client: Any, factory: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    headers, _ = await _world(factory)
    rows = 40_000
    path = tmp_path / "units.csv"
    await asyncio.to_thread(_units_csv, path, rows)
    loop = asyncio.get_running_loop()
    started = asyncio.Event()
    read = []
    outcome: list[str] = []
    finished = threading.Event()

    def slow(sheet: tabular.Sheet) -> Any:
        try:
            for number, _ in tabular.read_rows(sheet, units.UNIT_COLUMNS, ()):
                if not read:
                    loop.call_soon_threadsafe(started.set)
                read.append(number)
                time.sleep(0.0005)  # 20 s or more for the whole file
            outcome.append("read to the end")
        except tabular.Stopped:
            outcome.append("stopped")
        finally:
            finished.set()
        return [], []

    monkeypatch.setattr(units, "parse_units", slow)
    call = asyncio.ensure_future(
        client.post(
            "/api/v1/units/import",
            data=io.BytesIO(path.read_bytes()),  # big bytes would warn
            headers=headers | {"Content-Type": "text/csv"},
        )
    )
    await asyncio.wait_for(started.wait(), PATIENCE)
    call.cancel()  # the client hangs up
    assert await asyncio.to_thread(finished.wait, PATIENCE)
    assert outcome == ["stopped"]
    assert len(read) < rows / 2
    # Counted as the client's doing, not as a failure of ours.
    metrics = await (await client.get("/metrics")).text()
    imports = [m for m in metrics.splitlines() if "/api/v1/units/import" in m and "_total" in m]
    assert any('status="499"' in m for m in imports), imports
    assert not any('status="500"' in m for m in imports), imports


async def test_a_sheet_expanding_past_its_text_budget_is_refused_early(
    client: Any, factory: Any
) -> None:
    """Issue 20, point 11: such a file took 32.5 s and 313 MiB before its 422; its text
    is now counted as it is read, and the sheet refused once past its budget."""
    headers, _ = await _world(factory)
    for url, header in IMPORTS:
        bomb = expanding_strings(header)
        assert len(bomb) < 2 << 20
        budget = limits.sheet_text_budget(len(bomb))
        assert budget < 128 << 20  # 4,000 of its 32,000-character cells, of 80,000
        upload = io.BytesIO(bomb)  # aiohttp wants a stream for a body this size
        resp = await client.post(url, data=upload, headers=headers | {"Content-Type": XLSX})
        body = await assert_problem(resp, 413, "payload_too_large")
        assert (body["limit"], body["max"]) == ("sheet_text", budget), body
    resp = await client.post(
        IMPORTS[2][0] + "?lang=en",
        data=io.BytesIO(bomb),
        headers=headers | {"Content-Type": XLSX},
    )
    body = await assert_problem(resp, 413, "payload_too_large")
    assert f"more than {budget:,} characters" in body["detail"], body
    assert (await client.get("/healthz")).status == 200


def test_the_text_budget_grows_with_the_file() -> None:
    assert limits.sheet_text_budget(0) == 64 << 20
    assert limits.sheet_text_budget(10 << 20) == 640 << 20  # a 10 MiB file: 640 Mi characters
    assert limits.sheet_text_budget(1 << 30) == 2 << 30  # never past 2 Gi

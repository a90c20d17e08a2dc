"""Text from outside is stored the same way whether it comes as JSON or in a file: NFC,
invisible characters stripped, invisible-only text and control characters refused, and
lengths counted after NFC."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from diemcau import text
from tests.factory import bearer
from tests.problems import assert_problem

# What makes a name print as a blank badge: zero-width space, joiner, non-joiner, a
# right-to-left override, a word joiner, a BOM, a Hangul filler.
INVISIBLE = "\u200b\u200d\u200c\u202e\u2060\ufeff\u3164"


def test_checked_text_strips_invisible_and_counts_after_nfc() -> None:
    assert text.checked_text(" \u200bLê\u202e Văn\u200d \u200b", 300) == "Lê Văn"
    decomposed = unicodedata.normalize("NFD", "ê" * 299)
    assert len(decomposed) == 598
    assert text.checked_text(decomposed, 300) == "ê" * 299
    with pytest.raises(ValueError, match="too long"):
        text.checked_text("ê" * 301, 300)
    with pytest.raises(ValueError, match="invisible"):
        text.required_text(INVISIBLE, 300)
    with pytest.raises(ValueError, match="control"):
        text.checked_text("A\x00B", 300)
    with pytest.raises(ValueError, match="control"):
        text.checked_text("A\nB", 300)
    assert text.checked_text("A\nB\tC", 300, allow_newlines=True) == "A\nB\tC"
    assert text.checked_text("   ", 300) == ""


def test_spreadsheet_safe_neutralises_formula_starts() -> None:
    for cell in ("=HYPERLINK(1)", "+1", "-1", "@SUM(A1)", "\t=1"):
        assert text.spreadsheet_safe(cell) == "'" + cell
    assert text.spreadsheet_safe("Nguyễn Văn An") == "Nguyễn Văn An"


async def test_invisible_only_names_are_refused(client: Any, organiser: Any, tree: Any) -> None:
    for name in (INVISIBLE, " \u200b ", "\u202e\u202d"):
        resp = await client.post(
            "/api/v1/units",
            json={"code": "X1", "name": name, "level": "commune", "parent_code": "LC"},
            headers=organiser,
        )
        body = await assert_problem(resp, 422, "validation_failed")
        assert [e["field"] for e in body["errors"]] == ["name"]


async def test_invisible_characters_are_stripped_from_names(
    client: Any, organiser: Any, tree: Any
) -> None:
    resp = await client.post(
        "/api/v1/units",
        json={"code": "X1", "name": "\u200bBản\u200d Bo\u202e", "level": "commune"}
        | {"parent_code": "LC"},
        headers=organiser,
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["name"] == "Bản Bo"


async def test_name_length_is_counted_after_nfc(client: Any, organiser: Any, tree: Any) -> None:
    decomposed = unicodedata.normalize("NFD", "ê" * 299)
    resp = await client.post(
        "/api/v1/units",
        json={"code": "X1", "name": decomposed, "level": "commune", "parent_code": "LC"},
        headers=organiser,
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["name"] == "ê" * 299
    resp = await client.post(
        "/api/v1/units",
        json={"code": "X2", "name": "ê" * 301, "level": "commune", "parent_code": "LC"},
        headers=organiser,
    )
    body = await assert_problem(resp, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["name"]


async def test_line_breaks_belong_in_addresses_only(client: Any, factory: Any, tree: Any) -> None:
    headers = bearer(await factory.token("organiser"))
    site = {"code": "S1", "name": "Hội trường", "unit_code": "LC", "level": "commune"}
    resp = await client.post(
        "/api/v1/sites",
        json=site | {"address": "Số 1\nBản Bo", "technician": {"name": "A\nB"}},
        headers=headers,
    )
    body = await assert_problem(resp, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["technician.name"]
    resp = await client.post(
        "/api/v1/sites", json=site | {"address": "Số 1\nBản Bo"}, headers=headers
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["address"] == "Số 1\nBản Bo"


async def test_delegate_names_and_ids_follow_the_same_rules(
    client: Any, factory: Any, tree: Any
) -> None:
    await factory.site("S1", unit="LC")
    await factory.conference("HN", sites=["S1"])
    headers = bearer(await factory.token("organiser"))
    url = "/api/v1/conferences/HN/delegates"
    person = {"category": "member", "site_code": "S1"}
    resp = await client.post(
        url, json=person | {"external_id": "\u200b", "full_name": INVISIBLE}, headers=headers
    )
    body = await assert_problem(resp, 422, "validation_failed")
    assert sorted(e["field"] for e in body["errors"]) == ["external_id", "full_name"]
    resp = await client.post(
        url,
        json=person | {"external_id": "A1\u200b", "full_name": "Lò\u200b Thị Mai"},
        headers=headers,
    )
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert (created["external_id"], created["full_name"]) == ("A1", "Lò Thị Mai")


async def _import(client: Any, headers: dict[str, str], url: str, text_: str) -> Any:
    media = {"Content-Type": "text/csv"}
    return await client.post(url, data=text_.encode(), headers=headers | media)


async def test_files_follow_the_same_rules(client: Any, factory: Any, tree: Any, db: Any) -> None:
    """A NUL in a cell answered 500; a file and a form now agree on every value."""
    headers = bearer(await factory.token("organiser"))
    resp = await _import(
        client,
        headers,
        "/api/v1/units/import",
        "code,name,level,parent_code\nX1,Bản\x00Bo,commune,LC\n",
    )
    body = await assert_problem(resp, 422, "import_failed")
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(1, "name")]
    sites = "code,name,unit_code,level,address\n"
    resp = await _import(
        client,
        headers,
        "/api/v1/sites/import",
        sites + 'S1,"Hội\ntrường",LC,commune,\nS2,' + INVISIBLE + ",LC,commune,\n",
    )
    body = await assert_problem(resp, 422, "import_failed")
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(1, "name"), (2, "name")]
    resp = await _import(
        client, headers, "/api/v1/sites/import", sites + 'S1,Hội trường,LC,commune,"Số 1\nBản Bo"\n'
    )
    assert resp.status == 200, await resp.text()
    conference = await factory.conference("HN", sites=["S1"])
    decomposed = unicodedata.normalize("NFD", "ê" * 299)
    roster = "external_id,full_name,category,site_code\n"
    resp = await _import(
        client,
        headers,
        "/api/v1/conferences/HN/delegates/import",
        roster
        + f"A1,{INVISIBLE},member,S1\n"
        + f"A2,{'ê' * 301},member,S1\n"
        + "A3\u200b,Lò\u200b Thị\u202e Mai,member,S1\n"
        + f"A4,{decomposed},member,S1\n",
    )
    body = await assert_problem(resp, 422, "import_failed")
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(1, "full_name"), (2, "full_name")]
    assert "vô hình" in body["errors"][0]["message"]
    resp = await _import(
        client,
        headers,
        "/api/v1/conferences/HN/delegates/import",
        roster + f"A3\u200b,Lò\u200b Thị\u202e Mai,member,S1\nA4,{decomposed},member,S1\n",
    )
    assert resp.status == 200, await resp.text()
    stored = await db.fetch(
        "SELECT external_id, full_name FROM delegates WHERE conference_id = $1 ORDER BY 1",
        conference["id"],
    )
    assert [tuple(r) for r in stored] == [("A3", "Lò Thị Mai"), ("A4", "ê" * 299)]

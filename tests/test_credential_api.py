"""Credentials over HTTP and the database-side check: JWK sets for every role of the
conference, QR images and badges that verify with those keys alone, reissue (the old code
answers `revoked`), revoke, key rotation and retirement, the sign-off lock, the secret."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import stat
from dataclasses import replace
from typing import Any

import asyncpg
import pypdfium2 as pdfium
import pytest
from PIL import Image

from diemcau import credentials, keystore
from diemcau.app import create_app
from diemcau.auth import CLI
from diemcau.cli import main
from diemcau.config import Config
from diemcau.db import connect
from diemcau.issuance import CredentialRefused, check_credential
from diemcau.keystore import Keystore
from tests.factory import Factory, bearer
from tests.problems import assert_problem
from tests.scanning import qr_texts

BASE = "/api/v1/conferences/HN1"


async def world(factory: Factory) -> dict[str, Any]:
    """Two districts with a site each, one conference over both, three delegates."""
    await factory.unit("LC", level="province")
    await factory.unit("TD", parent="LC", level="district", name="Huyện Tam Đường")
    await factory.unit("SP", parent="LC", level="district")
    await factory.site("S-TD", unit="TD", name="Hội trường UBND xã Bản Giang")
    await factory.site("S-SP", unit="SP")
    await factory.site("S-OUT", unit="SP")
    conf = await factory.conference("HN1", sites=["S-TD", "S-SP"], title="Hội nghị quán triệt")
    other = await factory.conference("HN2", sites=["S-SP"])
    d1 = await factory.delegate(conf["id"], site="S-TD", unit="TD", full_name="Nguyễn Thị Thảo")
    d2 = await factory.delegate(conf["id"], site="S-TD", unit="TD", full_name="Trần Văn Ất")
    d3 = await factory.delegate(conf["id"], site="S-SP", unit="SP", category="guest")
    return {
        "conf": conf,
        "other": other,
        "d1": d1,
        "d2": d2,
        "d3": d3,
        "org": bearer(await factory.token("organiser")),
    }


async def jwks(client: Any, headers: dict[str, str], code: str = "HN1") -> dict[str, Any]:
    resp = await client.get(f"/api/v1/conferences/{code}/keys", headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def qr_code(client: Any, w: dict[str, Any], delegate_id: int) -> str:
    resp = await client.get(f"{BASE}/delegates/{delegate_id}/qr.png", headers=w["org"])
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "image/png"
    found = qr_texts(Image.open(io.BytesIO(await resp.read())))
    assert len(found) == 1
    return found[0]


async def refusal(db: asyncpg.Connection, conference_id: int, text: str) -> tuple[str, str]:
    with pytest.raises(CredentialRefused) as info:
        await check_credential(db, conference_id, text)
    return info.value.code, info.value.reason


async def test_keys_answer_a_jwk_set_to_every_role_of_the_conference(
    client: Any, factory: Factory, db: asyncpg.Connection
) -> None:
    w = await world(factory)
    assert await jwks(client, w["org"]) == {"keys": []}  # a read makes no key
    await qr_code(client, w, w["d1"]["id"])  # signing the first code makes one
    first = await jwks(client, w["org"])
    assert len(first["keys"]) == 1
    key = first["keys"][0]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["alg"] == "EdDSA"
    assert key["conference"] == "HN1" and key["conference_id"] == w["conf"]["id"]
    assert key["signing"] is True
    tokens = [
        await factory.token("technician", unit="TD"),
        await factory.token("kiosk", conference="HN1", site="S-TD"),
        await factory.token("viewer", conference="HN1"),
    ]
    for token in tokens:
        assert await jwks(client, bearer(token)) == first
    foreign = bearer(await factory.token("kiosk", conference="HN2", site="S-SP"))
    await assert_problem(await client.get(f"{BASE}/keys", headers=foreign), 404, "not_found")
    await assert_problem(await client.get(f"{BASE}/keys"), 401, "authentication_required")
    created = await db.fetch("SELECT * FROM audit_log WHERE entity = 'conference_key'")
    assert [(r["action"], r["entity_key"]) for r in created] == [("create", key["kid"])]
    assert created[0]["actor"].startswith("organiser#")


async def test_qr_png_decodes_to_a_code_that_verifies_with_the_jwk_set_alone(
    client: Any, factory: Factory, db: asyncpg.Connection
) -> None:
    w = await world(factory)
    text = await qr_code(client, w, w["d1"]["id"])
    claims = credentials.verify(text, await jwks(client, w["org"]), conference_id=w["conf"]["id"])
    assert claims.delegate_id == w["d1"]["id"]
    site_id = await db.fetchval("SELECT id FROM sites WHERE code = 'S-TD'")
    assert (claims.site_id, claims.version, claims.conference_id) == (site_id, 1, w["conf"]["id"])
    svg = await client.get(f"{BASE}/delegates/{w['d1']['id']}/qr.svg", headers=w["org"])
    assert svg.content_type == "image/svg+xml" and "<path" in await svg.text()
    again, delegate = await check_credential(db, w["conf"]["id"], text)
    assert again == claims and delegate["full_name"] == "Nguyễn Thị Thảo"


async def test_qr_is_for_organisers_and_unknown_delegates_are_404(
    client: Any, factory: Factory
) -> None:
    w = await world(factory)
    tech = bearer(await factory.token("technician", unit="TD"))
    url = f"{BASE}/delegates/{w['d1']['id']}/qr.png"
    await assert_problem(await client.get(url, headers=tech), 403, "forbidden")
    for bad in ("999999", "abc", "-1"):
        resp = await client.get(f"{BASE}/delegates/{bad}/qr.png", headers=w["org"])
        await assert_problem(resp, 404, "not_found")
    resp = await client.get(
        f"/api/v1/conferences/HN2/delegates/{w['d1']['id']}/qr.png", headers=w["org"]
    )
    await assert_problem(resp, 404, "not_found")


async def test_reissue_makes_the_old_code_revoked(
    client: Any, factory: Factory, db: asyncpg.Connection
) -> None:
    w = await world(factory)
    old = await qr_code(client, w, w["d1"]["id"])
    resp = await client.post(f"{BASE}/delegates/{w['d1']['id']}/reissue", headers=w["org"])
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["delegate_id"] == w["d1"]["id"]
    assert body["credential_version"] == 2 and body["revoked"] is False
    assert await refusal(db, w["conf"]["id"], old) == ("revoked", "superseded")
    claims, _ = await check_credential(db, w["conf"]["id"], body["qr"])
    assert claims.version == 2
    assert await qr_code(client, w, w["d1"]["id"]) == body["qr"]  # same key, same claims
    entry = await db.fetchrow("SELECT * FROM audit_log WHERE action = 'reissue'")
    assert entry["entity_key"] == str(w["d1"]["id"])
    assert entry["before"]["credential_version"] == 1 and entry["after"]["credential_version"] == 2


async def test_revoke_without_reissue(
    client: Any, factory: Factory, db: asyncpg.Connection
) -> None:
    w = await world(factory)
    code = await qr_code(client, w, w["d2"]["id"])
    resp = await client.post(f"{BASE}/delegates/{w['d2']['id']}/revoke", headers=w["org"])
    body = await resp.json()
    assert body == {
        "delegate_id": w["d2"]["id"],
        "credential_version": 1,
        "revoked": True,
        "qr": None,
    }
    assert await refusal(db, w["conf"]["id"], code) == ("revoked", "revoked")
    resp = await client.get(f"{BASE}/delegates/{w['d2']['id']}/qr.png", headers=w["org"])
    await assert_problem(resp, 409, "conflict")
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'revoke'") == 1
    resp = await client.post(f"{BASE}/delegates/{w['d2']['id']}/reissue", headers=w["org"])
    fresh = (await resp.json())["qr"]
    assert (await check_credential(db, w["conf"]["id"], fresh))[0].version == 2
    assert await refusal(db, w["conf"]["id"], code) == ("revoked", "superseded")


async def test_database_check_refuses_forgeries_with_stable_codes(
    client: Any, factory: Factory, db: asyncpg.Connection
) -> None:
    w = await world(factory)
    conf_id = w["conf"]["id"]
    code = await qr_code(client, w, w["d1"]["id"])
    other = await client.get("/api/v1/conferences/HN2/keys", headers=w["org"])
    assert other.status == 200
    signature = code.rsplit(".", 1)[1]
    forged = credentials.payload(
        credentials.Claims(credentials.parse(code).claims.kid, conf_id, w["d2"]["id"], 1, 1)
    )
    assert await refusal(db, conf_id, forged + "." + signature) == ("invalid", "bad_signature")
    assert await refusal(db, conf_id, code.lower()) == ("invalid", "lowercase")
    assert await refusal(db, conf_id, code[:100]) == ("invalid", "malformed")
    assert await refusal(db, conf_id, code + "\n") == ("invalid", "malformed")
    assert await refusal(db, w["other"]["id"], code) == ("invalid", "wrong_conference")
    moved = await db.fetchval("SELECT id FROM sites WHERE code = 'S-SP'")
    await db.execute("UPDATE delegates SET site_id = $1 WHERE id = $2", moved, w["d1"]["id"])
    assert await refusal(db, conf_id, code) == ("revoked", "superseded")


async def test_rotation_keeps_old_codes_valid_until_the_key_is_retired(
    client: Any, factory: Factory, db: asyncpg.Connection
) -> None:
    w = await world(factory)
    conf_id = w["conf"]["id"]
    old_code = await qr_code(client, w, w["d1"]["id"])
    old_kid = credentials.parse(old_code).claims.kid
    resp = await client.post(f"{BASE}/keys/rotate", headers=w["org"])
    assert resp.status == 201, await resp.text()
    rotated = await resp.json()
    new_kid = rotated["signing_kid"]
    assert new_kid != old_kid
    assert {k["kid"]: k["signing"] for k in rotated["keys"]} == {old_kid: False, new_kid: True}
    both = await jwks(client, w["org"])
    assert credentials.verify(old_code, both).kid == old_kid
    await check_credential(db, conf_id, old_code)
    new_code = await qr_code(client, w, w["d3"]["id"])
    assert credentials.verify(new_code, both).kid == new_kid

    resp = await client.post(f"{BASE}/keys/{new_kid}/retire", headers=w["org"])
    await assert_problem(resp, 409, "conflict")
    resp = await client.post(f"{BASE}/keys/{old_kid}/retire", headers=w["org"])
    assert resp.status == 200
    assert [k["kid"] for k in (await resp.json())["keys"]] == [new_kid]
    assert await refusal(db, conf_id, old_code) == ("invalid", "unknown_key")
    with pytest.raises(credentials.InvalidCredential, match="unknown_key"):
        credentials.verify(old_code, await jwks(client, w["org"]))
    await check_credential(db, conf_id, new_code)
    resp = await client.post(f"{BASE}/keys/{old_kid}/retire", headers=w["org"])
    await assert_problem(resp, 404, "not_found")
    actions = await db.fetch(
        "SELECT action FROM audit_log WHERE entity = 'conference_key' ORDER BY id"
    )
    assert [r["action"] for r in actions] == ["create", "rotate", "retire"]


async def test_signed_off_conference_refuses_every_write(
    client: Any, factory: Factory, db: asyncpg.Connection
) -> None:
    w = await world(factory)
    await qr_code(client, w, w["d1"]["id"])
    keys = await jwks(client, w["org"])
    await db.execute(
        "UPDATE conferences SET status = 'signed_off', signed_off_at = now() WHERE code = 'HN1'"
    )
    d = w["d1"]["id"]
    for path in (
        f"/delegates/{d}/reissue",
        f"/delegates/{d}/revoke",
        "/keys/rotate",
        f"/keys/{keys['keys'][0]['kid']}/retire",
    ):
        await assert_problem(await client.post(BASE + path, headers=w["org"]), 409, "locked")
    assert await db.fetchval("SELECT credential_version FROM delegates WHERE id = $1", d) == 1
    assert await jwks(client, w["org"]) == keys


async def test_badges_pdf_scans_and_respects_the_technician_scope(
    client: Any, factory: Factory, db: asyncpg.Connection
) -> None:
    w = await world(factory)
    await client.post(f"{BASE}/delegates/{w['d2']['id']}/revoke", headers=w["org"])
    resp = await client.get(f"{BASE}/sites/S-TD/badges.pdf", headers=w["org"])
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/pdf"
    assert "badges-HN1-S-TD.pdf" in resp.headers["Content-Disposition"]
    page = pdfium.PdfDocument(await resp.read())[0].render(scale=150 / 72).to_pil()
    keys = await jwks(client, w["org"])
    found = [credentials.verify(t, keys) for t in qr_texts(page)]
    assert [c.delegate_id for c in found] == [w["d1"]["id"]]  # the revoked one is left out

    tech_td = bearer(await factory.token("technician", unit="TD"))
    tech_sp = bearer(await factory.token("technician", unit="SP"))
    resp = await client.get(f"{BASE}/sites/S-TD/badges.pdf", headers=tech_td)
    assert resp.status == 200
    resp = await client.get(f"{BASE}/sites/S-TD/badges.pdf", headers=tech_sp)
    await assert_problem(resp, 404, "not_found")  # outside the subtree: as if missing
    resp = await client.get(f"{BASE}/sites/S-OUT/badges.pdf", headers=w["org"])
    await assert_problem(resp, 404, "not_found")
    viewer = bearer(await factory.token("viewer", conference="HN1"))
    resp = await client.get(f"{BASE}/sites/S-TD/badges.pdf", headers=viewer)
    await assert_problem(resp, 403, "forbidden")


async def test_phone_pass_scans(client: Any, factory: Factory) -> None:
    w = await world(factory)
    tech = bearer(await factory.token("technician", unit="SP"))
    resp = await client.get(f"{BASE}/delegates/{w['d3']['id']}/pass.png", headers=tech)
    assert resp.status == 200 and resp.content_type == "image/png"
    texts = qr_texts(Image.open(io.BytesIO(await resp.read())))
    assert credentials.verify(texts[0], await jwks(client, w["org"])).delegate_id == w["d3"]["id"]
    resp = await client.get(f"{BASE}/delegates/{w['d1']['id']}/pass.png", headers=tech)
    await assert_problem(resp, 404, "not_found")  # outside the subtree: as if missing


async def test_wrong_secret_is_a_clear_503_and_keys_stay_readable(
    aiohttp_client: Any, config: Config, factory: Factory, caplog: Any
) -> None:
    w = await world(factory)
    first = await aiohttp_client(create_app(config))
    await first.get(f"{BASE}/delegates/{w['d1']['id']}/qr.png", headers=w["org"])
    keys = await jwks(first, w["org"])
    assert len(keys["keys"]) == 1
    caplog.set_level(logging.ERROR, logger="diemcau.credentials")
    other = await aiohttp_client(create_app(replace(config, secret_key="x" * 40)))
    assert any("DIEMCAU_SECRET_KEY" in r.getMessage() and not r.exc_info for r in caplog.records)
    resp = await other.get(f"{BASE}/delegates/{w['d1']['id']}/qr.png", headers=w["org"])
    body = await assert_problem(resp, 503, "secret_key_mismatch")
    assert "DIEMCAU_SECRET_KEY" in body["detail"]
    assert await jwks(other, w["org"]) == keys


def test_unwritable_data_dir_is_a_clear_error(tmp_path: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    config = Config(database_url="postgresql://unused", data_dir=blocker / "data")
    with pytest.raises(keystore.KeystoreError, match="DIEMCAU_SECRET_KEY"):
        keystore.load_secret(config)


def test_secret_file_is_created_once_private_and_shared(tmp_path: Any) -> None:
    config = Config(database_url="postgresql://unused", data_dir=tmp_path / "data")
    secrets = {keystore.load_secret(config) for _ in range(3)}
    assert len(secrets) == 1
    path = tmp_path / "data" / keystore.SECRET_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [keystore.SECRET_FILE]
    sealed = Keystore(secrets.pop()).seal(b"k" * 32, 1, "0A0B0C0D")
    assert Keystore.from_config(config).open(
        {"private_key_enc": sealed, "conference_id": 1, "kid": "0A0B0C0D"}
    )
    with pytest.raises(keystore.KeystoreError):
        Keystore(b"y" * 32).open({"private_key_enc": sealed, "conference_id": 1, "kid": "0A0B0C0D"})
    with pytest.raises(keystore.KeystoreError):  # bound to its row
        Keystore.from_config(config).open(
            {"private_key_enc": sealed, "conference_id": 2, "kid": "0A0B0C0D"}
        )


async def test_secret_file_race_gives_everyone_the_same_secret(tmp_path: Any) -> None:
    config = Config(database_url="postgresql://unused", data_dir=tmp_path)
    found = await asyncio.gather(
        *[asyncio.to_thread(keystore.load_secret, config) for _ in range(8)]
    )
    assert len(set(found)) == 1


async def test_concurrent_first_use_creates_one_signing_key(
    factory: Factory, db: asyncpg.Connection, database_url: str
) -> None:
    w = await world(factory)
    store = Keystore(b"s" * 32)
    conns = [await connect(database_url) for _ in range(4)]
    try:
        keys = await asyncio.gather(
            *[keystore.signing_key(c, store, w["conf"]["id"], CLI) for c in conns]
        )
    finally:
        for c in conns:
            await c.close()
    assert len({k.kid for k in keys}) == 1
    assert await db.fetchval("SELECT count(*) FROM conference_keys") == 1


def cli_env(monkeypatch: Any, config: Config) -> None:
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    monkeypatch.setenv("DIEMCAU_SECRET_KEY", config.secret_key)
    monkeypatch.setenv("DIEMCAU_DATA_DIR", str(config.data_dir))


async def test_cli_prints_one_pdf_per_site_that_scans(
    client: Any, factory: Factory, config: Config, monkeypatch: Any, capsys: Any
) -> None:
    w = await world(factory)
    cli_env(monkeypatch, config)
    out = config.data_dir / "badges"
    code = await asyncio.to_thread(
        main, ["badges", "--conference", "HN1", "-o", str(out), "--workers", "1"]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["badges-HN1-S-SP.pdf", "badges-HN1-S-TD.pdf"]
    assert "3/3 thẻ" in capsys.readouterr().err.replace("\r", "\n")
    keys = await jwks(client, w["org"])
    page = pdfium.PdfDocument(out / "badges-HN1-S-TD.pdf")[0].render(scale=150 / 72).to_pil()
    ids = sorted(credentials.verify(t, keys).delegate_id for t in qr_texts(page))
    assert ids == sorted([w["d1"]["id"], w["d2"]["id"]])

    one = config.data_dir / "one.pdf"
    argv = ["badges", "--conference", "HN1", "--site", "S-SP", "-o", str(one)]
    assert await asyncio.to_thread(main, argv) == 0
    assert len(pdfium.PdfDocument(one)) == 1
    argv = ["badges", "--conference", "HN1", "--site", "S-OUT", "-o", str(one)]
    assert await asyncio.to_thread(main, argv) == 1
    assert "S-OUT" in capsys.readouterr().err

    passes = config.data_dir / "passes"
    assert await asyncio.to_thread(main, ["passes", "--conference", "HN1", "-o", str(passes)]) == 0
    files = sorted(passes.glob("*/*.png"))
    assert [f.parent.name for f in files] == ["S-SP", "S-TD", "S-TD"]
    for f in files:
        (found,) = qr_texts(Image.open(f))
        assert credentials.verify(found, keys).delegate_id in (
            w["d1"]["id"],
            w["d2"]["id"],
            w["d3"]["id"],
        )


async def test_cli_rotates_lists_and_retires_keys(
    factory: Factory, db: asyncpg.Connection, config: Config, monkeypatch: Any, capsys: Any
) -> None:
    await world(factory)
    cli_env(monkeypatch, config)
    assert await asyncio.to_thread(main, ["keys", "rotate", "--conference", "HN1"]) == 0
    assert await asyncio.to_thread(main, ["keys", "rotate", "--conference", "HN1"]) == 0
    listed = capsys.readouterr().out.splitlines()[-2:]
    first, second = (line.split()[0] for line in listed)
    assert "chỉ xác minh" in listed[0] and "đang ký" in listed[1]
    assert await asyncio.to_thread(main, ["keys", "retire", "--conference", "HN1", first]) == 0
    live = await db.fetch("SELECT kid FROM conference_keys WHERE retired_at IS NULL")
    assert [r["kid"] for r in live] == [second]
    assert await asyncio.to_thread(main, ["keys", "retire", "--conference", "HN1", second]) == 1
    actors = await db.fetch("SELECT DISTINCT actor FROM audit_log WHERE entity = 'conference_key'")
    assert [r["actor"] for r in actors] == ["organiser cli"]


async def test_big_site_badges_render_in_a_separate_process(
    client: Any, factory: Factory, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big site's PDF is rendered by the worker's render process, and still scans."""
    from diemcau.handlers import credentials as handlers

    monkeypatch.setattr(handlers, "PROCESS_RENDER_MIN", 1)
    w = await world(factory)
    resp = await client.get(f"{BASE}/sites/S-TD/badges.pdf", headers=w["org"])
    assert resp.status == 200, await resp.text()
    pool = client.server.app[handlers.RENDER_POOL]
    assert pool.started  # the process pool was used, not a thread
    page = pdfium.PdfDocument(await resp.read())[0].render(scale=150 / 72).to_pil()
    keys = await jwks(client, w["org"])
    ids = sorted(credentials.verify(t, keys).delegate_id for t in qr_texts(page))
    assert ids == sorted([w["d1"]["id"], w["d2"]["id"]])

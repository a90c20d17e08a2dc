"""The organiser's first hour with the CLI alone, read back from its output: the unit tree,
a conference, a roster, codes; one language per run, local times, messages that say what
to do."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from diemcau import credentials
from diemcau.cli import main
from diemcau.config import Config
from tests.conftest import Run
from tests.factory import Factory


async def test_unit_tree_from_the_cli(cli: Run, tmp_path: Path) -> None:
    code, out, err = await cli(
        "unit", "create", "--code", "VN", "--name", "Việt Nam", "--level", "national"
    )
    assert (code, out.strip()) == (0, "VN") and "Đã tạo đơn vị VN" in err
    file = tmp_path / "units.csv"
    file.write_text(
        "code,name,level,parent_code\nLC,Tỉnh Lai Châu,Tỉnh,VN\n"
        "LC-TD,Huyện Tam Đường,district,LC\nLC-SH,Huyện Sìn Hồ,district,LC\n",
        encoding="utf-8-sig",
    )
    code, _, err = await cli("unit", "import", str(file))
    assert code == 0 and "3 mới, 0 cập nhật" in err
    code, out, err = await cli("unit", "list", "--under", "LC")
    lines = out.splitlines()
    assert lines[0].split() == ["mã", "cấp", "cấp", "trên", "tên"]
    assert [line.split()[0] for line in lines[1:]] == ["LC", "LC-SH", "LC-TD"]
    assert lines[1].split()[1] == "tỉnh" and lines[2].split()[1] == "huyện"
    assert err.strip() == "(3 đơn vị)"
    code, out, _ = await cli("unit", "list", "--format", "csv", "--level", "district")
    assert out.startswith("\ufeffcode,")  # a BOM, as `codes` writes, for Excel
    rows = list(csv.DictReader(io.StringIO(out.removeprefix("\ufeff"))))
    assert [(r["code"], r["parent_code"]) for r in rows] == [("LC-SH", "LC"), ("LC-TD", "LC")]
    code, out, _ = await cli("unit", "list", "--format", "json", "--parent", "VN")
    assert [json.loads(line)["name"] for line in out.splitlines()] == ["Tỉnh Lai Châu"]
    code, out, _ = await cli("unit", "show", "LC")
    assert "trực thuộc:" in out and "2" in out and "+07:00" in out


async def test_one_language_per_run_with_plurals(
    cli: Run, factory: Factory, monkeypatch: Any
) -> None:
    await factory.unit("LC")
    code, _, err = await cli("--lang", "en", "unit", "list")
    assert code == 0 and err.strip() == "(1 unit)"
    await factory.unit("HG")
    monkeypatch.setenv("DIEMCAU_LANGUAGE", "en")
    code, out, err = await cli("unit", "list")
    assert out.splitlines()[0].split() == ["code", "level", "parent", "name"]
    assert err.strip() == "(2 units)"
    code, _, err = await cli("unit", "list", "--lang", "vi")  # the flag wins over the variable
    assert err.strip() == "(2 đơn vị)"


async def test_unknown_codes_suggest_the_nearest(cli: Run, factory: Factory) -> None:
    await factory.unit("LC")
    await factory.unit("LC-TD", parent="LC")
    await factory.site("BHAN-01", unit="LC-TD")
    await factory.conference("HN-2026", sites=["BHAN-01"])
    code, _, err = await cli("unit", "show", "lc-td")
    assert code == 1 and "có phải 'LC-TD'?" in err
    code, _, err = await cli("--lang", "en", "conference", "show", "HN-2062")
    assert code == 1 and "no conference 'HN-2062'; did you mean 'HN-2026'?" in err
    code, _, err = await cli(
        "--lang", "en", "badges", "--conference", "HN-2026", "--site", "bhan-01", "-o", "x.pdf"
    )
    assert code == 1 and "did you mean 'BHAN-01'?" in err
    code, _, err = await cli("--lang", "en", "unit", "show", "NOTHING-LIKE-IT")
    assert code == 1 and "no unit 'NOTHING-LIKE-IT'" in err and "did you mean" not in err


async def test_import_errors_about_the_file_name_no_row(
    cli: Run, factory: Factory, tmp_path: Path
) -> None:
    bad_header = tmp_path / "units.csv"
    bad_header.write_text("code,name,colour\nLC,Lai Châu,red\n")
    code, _, err = await cli("--lang", "en", "unit", "import", str(bad_header))
    assert code == 1 and "header, colour: unknown column" in err and "header, level" in err
    assert "row 0" not in err and ", :" not in err
    blank = tmp_path / "blank.csv"
    blank.write_text("\n   \n")  # bytes, but no header: an error about the whole file
    code, _, err = await cli("--lang", "en", "unit", "import", str(blank))
    assert code == 1 and "file: the file is empty" in err
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    code, _, err = await cli("unit", "import", str(empty))
    assert code == 2 and "trống" in err
    code, _, err = await cli("roster", "import", str(tmp_path / "nope.csv"), "--conference", "X")
    assert code == 2 and "không có tệp" in err
    rows = tmp_path / "rows.csv"
    rows.write_text("code,name,level,parent_code\nLC,Lai Châu,tỉnh thành,\n")
    code, _, err = await cli("unit", "import", str(rows))
    assert code == 1 and "dòng 1, level:" in err


async def test_conference_messages_say_what_to_do(cli: Run, factory: Factory) -> None:
    await factory.unit("LC")
    await factory.site("S1", unit="LC")
    base = ["--lang", "en", "conference", "create", "--code", "HN", "--title", "Hội nghị"]
    code, _, err = await cli(*base, "--starts-at", "2026-12-15", "--ends-at", "2026-12-15T11:00")
    assert code == 1 and "starts_at: no time given: 2026-12-15 would mean midnight" in err
    code, _, err = await cli(*base, "--starts-at", "15/12/2026 8h", "--ends-at", "2026-12-15T11:00")
    assert code == 1 and "such as 2026-12-15T08:00" in err
    times = ["--starts-at", "2026-12-15T08:00", "--ends-at", "2026-12-15T11:00"]
    code, _, err = await cli(*base, *times, "--target", "member=98")
    assert code == 1 and "targets.member: a target is a fraction from 0 to 1, such as 0.98" in err
    code, _, err = await cli(*base, *times, "--target", "members=0.9")
    assert code == 1 and "CATEGORY one of member, non_member, guest" in err
    code, _, err = await cli(*base, *times, "--policy", "maybe")
    assert code == 2 and "invalid choice: 'maybe' (choose from 'accept', 'reject')" in err
    code, out, err = await cli(*base, *times, "--sites", "S1")
    assert code == 0 and out.strip() == "HN"
    assert "1 site)" in err and "starts 2026-12-15 08:00 +07:00" in err


async def test_conference_show_in_its_own_zone(cli: Run, factory: Factory) -> None:
    await factory.unit("LC")
    await factory.site("S1", unit="LC", name="Hội trường tỉnh")
    await factory.site("S2", unit="LC")
    times = ["--starts-at", "2026-12-15T08:00", "--ends-at", "2026-12-15T11:30"]
    argv = ["conference", "create", "--code", "HN", "--title", "Hội nghị", *times]
    assert (
        await cli(*argv, "--timezone", "Asia/Tokyo", "--sites", "S1,S2", "--target", "member=0.98")
    )[0] == 0
    conference_id = await factory.conn.fetchval("SELECT id FROM conferences")
    for category in ("member", "member", "guest"):
        await factory.delegate(conference_id, site="S1", category=category)
    code, out, _ = await cli("conference", "show", "HN")
    assert code == 0
    assert "khai mạc:" in out and "2026-12-15 08:00 +09:00" in out and "Asia/Tokyo" in out
    assert "mở điểm danh:" in out and "2026-12-15 07:00 +09:00" in out
    assert "3 (đảng viên 2, quần chúng 0, khách mời 1)" in out
    assert "đảng viên 98,00%" in out and "trạng thái:" in out and "nháp" in out
    assert "Hội trường tỉnh" in out
    code, out, _ = await cli("conference", "show", "HN", "--format", "json")
    shown = json.loads(out)
    assert shown["delegates_by_category"] == {"member": 2, "non_member": 0, "guest": 1}
    assert shown["sites"] == ["S1", "S2"] and shown["starts_at"].endswith("+09:00")
    code, out, _ = await cli("--lang", "en", "conference", "list")
    assert "2026-12-15 08:00 +09:00" in out and "draft" in out


async def _roster_world(factory: Factory) -> Any:
    await factory.unit("LC")
    await factory.unit("LC-TD", parent="LC", level="district")
    await factory.site("S1", unit="LC-TD")
    await factory.site("S2", unit="LC")
    conf = await factory.conference("HN", sites=["S1", "S2"])
    names = ["Nguyễn Thị Phương Thảo", '=HYPERLINK("http://x")', "Trần Văn Ất"]
    for i, (name, site) in enumerate(zip(names, ["S1", "S1", "S2"], strict=True), start=1):
        await factory.delegate(
            conf["id"], site=site, unit="LC-TD", external_id=f"D{i}", full_name=name
        )
    return conf


async def test_roster_list_and_show(cli: Run, factory: Factory) -> None:
    await _roster_world(factory)
    code, out, err = await cli("roster", "list", "--conference", "HN", "--site", "S1")
    assert code == 0 and [line.split()[0] for line in out.splitlines()[1:]] == ["D1", "D2"]
    assert "đảng viên" in out and err.strip() == "(2 đại biểu)"
    code, out, _ = await cli(
        "roster", "list", "--conference", "HN", "-q", "phuong thao", "--format", "json"
    )
    assert [json.loads(line)["external_id"] for line in out.splitlines()] == ["D1"]
    code, out, _ = await cli("roster", "list", "--conference", "HN", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.removeprefix("\ufeff"))))
    assert rows[1]["full_name"].startswith("'=HYPERLINK")  # a name never becomes a formula
    code, out, _ = await cli("--lang", "en", "roster", "show", "--conference", "HN", "D3")
    assert "Trần Văn Ất" in out and "version 1, valid" in out and "+07:00" in out
    code, _, err = await cli("--lang", "en", "roster", "show", "--conference", "HN", "D9")
    assert code == 1 and "conference HN has no delegate 'D9'" in err


async def test_codes_for_mail_merge(
    cli: Run, factory: Factory, tmp_path: Path, client: Any
) -> None:
    conf = await _roster_world(factory)
    await factory.conn.execute("UPDATE delegates SET revoked = true WHERE external_id = 'D3'")
    await factory.delegate(conf["id"], site="S2", external_id="D4", full_name="Lò Thị Mai")
    out = tmp_path / "codes.csv"
    code, _, err = await cli("codes", "--conference", "HN", "-o", str(out))
    assert code == 0 and "3 đại biểu" in err
    text = out.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["external_id", "full_name", "site_code", "code"]
    assert [(r["external_id"], r["site_code"]) for r in rows] == [
        ("D1", "S1"),
        ("D2", "S1"),
        ("D4", "S2"),
    ]
    assert rows[1]["full_name"] == '\'=HYPERLINK("http://x")'
    token = await factory.token("organiser")
    resp = await client.get(
        "/api/v1/conferences/HN/keys", headers={"Authorization": f"Bearer {token}"}
    )
    keys = await resp.json()
    ids = {r["external_id"]: credentials.verify(r["code"], keys).delegate_id for r in rows}
    stored = await factory.conn.fetch("SELECT external_id, id FROM delegates WHERE NOT revoked")
    assert ids == {r["external_id"]: r["id"] for r in stored}
    one = tmp_path / "one.csv"
    assert (await cli("codes", "--conference", "HN", "--site", "S2", "-o", str(one)))[0] == 0
    assert [r["external_id"] for r in csv.DictReader(io.StringIO(one.read_text("utf-8-sig")))] == [
        "D4"
    ]


async def test_workers_zero_is_refused(cli: Run, capsys: Any) -> None:
    for argv in (
        ["serve", "--workers", "0"],
        ["badges", "--conference", "HN", "-o", "x", "--workers", "0"],
    ):
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        assert stopped.value.code == 2
        assert "--workers: phải từ 1 trở lên, không phải 0" in capsys.readouterr().err


async def test_times_are_local_with_their_offset(
    cli: Run, factory: Factory, monkeypatch: Any
) -> None:
    await factory.token("organiser", label="Văn phòng Tỉnh ủy")
    code, out, _ = await cli("token", "list")
    assert "Văn phòng Tỉnh ủy" in out and "+07:00" in out and "+00:00" not in out
    monkeypatch.setenv("DIEMCAU_TIMEZONE", "Asia/Tokyo")
    code, out, _ = await cli("token", "list")
    assert "+09:00" in out
    await factory.unit("LC")
    await factory.site("S1", unit="LC")
    await factory.conference("HN", sites=["S1"])
    assert (await cli("keys", "rotate", "--conference", "HN"))[0] == 0
    code, out, _ = await cli("--lang", "en", "keys", "list", "--conference", "HN")
    assert code == 0 and "signing" in out and "+07:00" in out  # the conference's own zone


def test_progress_rates_read_right_in_each_language(monkeypatch: Any) -> None:
    from diemcau.cli import say
    from diemcau.cli.roster import ProgressBar

    bar = ProgressBar(enabled=False)
    bar("parsed", 1129, None)
    bar.started -= 1.0  # one second in: 1,129 rows a second
    monkeypatch.setenv("DIEMCAU_LANGUAGE", "en")
    assert "1,129 parsed" in bar.line() and "(1,12" in bar.line() and "rows/s" in bar.line()
    say.set_language("vi")
    try:
        assert "1.129 đã đọc" in bar.line() and "dòng/giây" in bar.line()
    finally:
        say.set_language(None)


async def test_piping_into_head_prints_no_traceback(config: Config, db: Any) -> None:
    """Enough rows to fill the pipe after `head` has gone: the writes then fail."""
    import os
    import subprocess
    import sys

    await db.execute(
        """INSERT INTO units (code, name, level, path)
           SELECT 'U' || i, 'Đơn vị số ' || i, 'province', '/U' || i || '/'
             FROM generate_series(1, 5000) AS i"""
    )
    env = {**os.environ, "DATABASE_URL": config.database_url or "", "DIEMCAU_LANGUAGE": "en"}
    done = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", f"'{sys.executable}' -m diemcau unit list | head -2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.splitlines()[0].split() == ["code", "level", "parent", "name"]
    assert len(done.stdout.splitlines()) == 2
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_a_bad_setting_is_told_in_the_command_line_s_language(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DIEMCAU_POOL_SIZE", "nhiều")
    assert main(["token", "list"]) == 2
    assert "DIEMCAU_POOL_SIZE phải là số nguyên" in capsys.readouterr().err
    assert main(["--lang", "en", "token", "list"]) == 2
    assert "DIEMCAU_POOL_SIZE must be a whole number" in capsys.readouterr().err

"""`diemcau site ...` against a real server (the test app, over real HTTP and websockets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from diemcau.cli import build_parser
from diemcau.cli.say import number
from diemcau.sites import cli as site_cli
from diemcau.sites.linktest import Measurement


@pytest.fixture
async def server(client: Any, factory: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    await factory.unit("LC", name="Lai Châu")
    await factory.unit("LC-TD", parent="LC", level="district", name="Tam Đường")
    token = await factory.token("technician", unit="LC")
    monkeypatch.setenv("DIEMCAU_URL", str(client.make_url("/")))
    monkeypatch.setenv("DIEMCAU_TOKEN", token)
    return token


async def site(*argv: str) -> int:
    return await site_cli.run(build_parser().parse_args(["site", *argv]))


async def test_register_show_and_list(server: str, db: Any, capsys: Any) -> None:
    code = await site(
        "register", "--code", "LC-TD-01", "--name", "Hội trường Tam Đường", "--unit", "LC-TD",
        "--level", "district", "--capacity", "120", "--technician-phone", "0912 345 678",
        "--protocol", "sip", "--uri", "sip:td@vnpt.vn",
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    row = await db.fetchrow("SELECT * FROM sites WHERE code = 'LC-TD-01'")
    assert row["capacity"] == 120 and row["technician_phone"] == "0912345678"
    capsys.readouterr()
    assert await site("show", "LC-TD-01") == 0
    assert "Hội trường Tam Đường" in capsys.readouterr().out
    assert await site("list", "-q", "tam duong") == 0
    out = capsys.readouterr()
    assert "LC-TD-01" in out.out and "(1 " in out.err


async def test_problems_are_printed_readably_without_the_token(server: str, capsys: Any) -> None:
    code = await site(
        "register", "--code", "X1", "--name", "A", "--unit", "NOPE", "--level", "district",
        "--technician-phone", "123",
    )  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "422" in err and "validation_failed" in err and "technician.phone" in err
    assert server not in err
    assert await site("show", "NOPE") == 1
    err = capsys.readouterr().err
    assert "404" in err and server not in err


async def test_import_shows_progress_and_row_errors(
    server: str, db: Any, tmp_path: Path, capsys: Any
) -> None:
    good = tmp_path / "sites.csv"
    good.write_text(
        "code,name,unit_code,level\nA1,Điểm A,LC-TD,district\nA2,Điểm B,LC,province\n",
        encoding="utf-8-sig",
    )
    assert await site("import", str(good)) == 0
    out = capsys.readouterr()
    # Not a terminal: whole lines, no \r frames.
    assert "2 mới" in out.out and "100%" in out.err and "\r" not in out.err
    assert await db.fetchval("SELECT count(*) FROM sites") == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,unit_code,level\nA3,X,NOPE,district\nA 4,Y,LC,district\n")
    assert await site("import", str(bad), "--quiet") == 1
    err = capsys.readouterr().err
    assert "import_failed" in err
    assert "dòng 1, unit_code" in err and "dòng 2, code" in err
    assert await site("import", str(tmp_path / "missing.csv")) == 2


async def test_link_test_measures_over_the_websocket_and_records(
    server: str, factory: Any, db: Any, capsys: Any
) -> None:
    await factory.site("S1", unit="LC-TD")
    code = await site(
        "link-test", "S1", "--count", "10", "--interval", "0.01", "--audio-ok", "--video-ok",
        "--note", "thử từ hội trường",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "10" in out and "ĐẠT" in out and "đã đo đạt" in out
    test = await db.fetchrow("SELECT * FROM link_tests")
    assert test["passed"] and test["loss_pct"] == 0.0 and test["rtt_ms"] > 0
    assert test["note"] == "thử từ hội trường"
    assert await db.fetchval("SELECT status FROM sites WHERE code = 'S1'") == "tested"
    code = await site(
        "link-test",
        "S1",
        "--count",
        "3",
        "--interval",
        "0",
        "--audio-ok",
        "--no-video-ok",
        "--rehearsal",
    )
    assert code == 3 and "KHÔNG ĐẠT" in capsys.readouterr().out
    assert await db.fetchval("SELECT count(*) FROM link_tests WHERE kind = 'rehearsal'") == 1


async def test_link_test_without_verdicts_and_no_terminal_records_nothing(
    server: str, factory: Any, db: Any, capsys: Any
) -> None:
    await factory.site("S1", unit="LC-TD")
    assert await site("link-test", "S1", "--count", "2", "--interval", "0") == 2
    assert await db.fetchval("SELECT count(*) FROM link_tests") == 0


async def test_missing_token_is_explained(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.delenv("DIEMCAU_TOKEN", raising=False)
    assert await site("show", "S1") == 1
    assert "DIEMCAU_TOKEN" in capsys.readouterr().err


def test_measurement_arithmetic() -> None:
    m = Measurement(sent=5, rtts={1: 10.0, 2: 14.0, 3: 12.0, 5: 20.0})
    assert m.loss_pct == 20.0
    assert m.rtt_ms == 14.0
    assert m.jitter_ms == pytest.approx((4 + 2 + 8) / 3)
    assert number(11873.456, 2) == "11.873,46"


async def test_link_test_of_an_unknown_site_is_a_readable_404(server: str, capsys: Any) -> None:
    assert await site("link-test", "NOPE", "--count", "2", "--audio-ok", "--video-ok") == 1
    err = capsys.readouterr().err
    assert "404" in err and "not_found" in err and server not in err


async def test_a_value_outside_a_fixed_set_lists_the_allowed_ones(server: str, capsys: Any) -> None:
    assert await site("list", "--status", "redy") == 1
    err = capsys.readouterr().err
    assert "status: Giá trị không được chấp nhận; chọn một trong: registered, tested, ready" in err
    code = await site(
        "register", "--code", "X1", "--name", "A", "--unit", "LC-TD", "--level", "huyen lon",
    )  # fmt: skip
    assert code == 1 and "level: Cấp phải là một trong" in capsys.readouterr().err


async def test_an_unknown_site_suggests_the_nearest(
    server: str, factory: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await factory.site("BHAN-01", unit="LC-TD")
    await factory.unit("HG", name="Hà Giang")  # outside the technician's subtree
    await factory.site("BHAN-02", unit="HG")
    monkeypatch.setenv("DIEMCAU_LANGUAGE", "en")
    assert await site("show", "bhan-01") == 1
    err = capsys.readouterr().err
    assert "no site 'bhan-01'; did you mean 'BHAN-01'?" in err and "(404 not_found)" in err
    assert await site("show", "bhan-02") == 1  # the near code out of scope is not revealed
    assert "BHAN-02" not in capsys.readouterr().err.replace("bhan-02", "")


async def test_an_empty_import_file_is_called_empty(
    server: str, tmp_path: Path, capsys: Any
) -> None:
    empty = tmp_path / "sites.csv"
    empty.write_bytes(b"")
    assert await site("import", str(empty)) == 2
    err = capsys.readouterr().err
    assert "trống" in err and "Chưa gửi tệp" not in err


async def test_link_test_checks_its_flags_before_measuring(
    server: str, factory: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from diemcau.sites import linktest

    async def must_not_measure(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("measured before the flags were checked")

    monkeypatch.setattr(linktest, "measure", must_not_measure)
    await factory.site("S1", unit="LC-TD")
    assert await site("link-test", "S1", "--count", "2", "--audio-ok") == 2
    err = capsys.readouterr().err
    assert "--video-ok" in err and "--no-record" in err
    with pytest.raises(SystemExit):  # --count 0 is refused before anything runs
        build_parser().parse_args(["site", "link-test", "S1", "--count", "0"])


async def test_site_times_are_local_and_lists_count_in_english(
    server: str, factory: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await factory.site("S1", unit="LC-TD")
    assert (
        await site("link-test", "S1", "--count", "2", "--interval", "0", "--audio-ok", "--video-ok")
        == 0
    )
    capsys.readouterr()
    assert await site("show", "S1") == 0
    out = capsys.readouterr().out
    assert "lần đo cuối:" in out and "+07:00" in out and "+00:00" not in out
    monkeypatch.setenv("DIEMCAU_LANGUAGE", "en")
    assert await site("list") == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == "(1 site)" and "tested" in captured.out
    assert await site("list", "--format", "csv") == 0
    assert capsys.readouterr().out.splitlines()[0] == "\ufeffcode,status,unit_code,level,name"

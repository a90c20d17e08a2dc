"""Processes the service starts die with it: a kill -9 of `diemcau serve` in the middle of
a big roster import leaves neither the checking process nor multiprocessing's resource
tracker behind (they kept running, holding the upload, before)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.test_serve import _free_port, _get

PATIENCE = 60


def _children(pid: int) -> dict[int, str]:
    """The live child processes of `pid`: their command lines, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def _upload(port: int, token: str, path: Path) -> None:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/conferences/HN/delegates/import",
        data=path.read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
        method="POST",
    )
    try:
        urllib.request.urlopen(req, timeout=PATIENCE)
    except OSError:
        pass  # the server is killed under it


def _roster(path: Path) -> None:
    with open(path, "w") as fh:  # well over the 4 MB that get a process of their own
        fh.write("external_id,full_name,category,site_code\n")
        fh.writelines(f"D{i:07d},Nguyễn Văn Số {i},member,S1\n" for i in range(300_000))


def _serve(database_url: str, port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"DATABASE_URL": database_url, "DIEMCAU_LOG_LEVEL": "WARNING"}
    env["DIEMCAU_DATA_DIR"] = str(data_dir)
    server = subprocess.Popen(
        [sys.executable, "-m", "diemcau", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + PATIENCE
    while not _ready(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    return server


def _ready(port: int) -> bool:
    try:
        return _get(port, "/healthz") == 200
    except OSError:
        return False


def _workers_during_import(server: subprocess.Popen[bytes], upload: threading.Thread) -> dict:
    """The server's multiprocessing children once its checking process has started."""
    deadline = time.monotonic() + PATIENCE
    workers: dict[int, str] = {}
    while time.monotonic() < deadline and upload.is_alive():
        workers = {
            pid: cmd for pid, cmd in _children(server.pid).items() if "multiprocessing" in cmd
        }
        if any("spawn_main" in cmd for cmd in workers.values()):
            break
        time.sleep(0.02)
    return workers


def _kill_9_during_import(database_url: str, token: str, tmp_path: Path) -> dict[int, str]:
    """Kill -9 the service while it checks a roster; what of its workers is left after."""
    path = tmp_path / "roster.csv"
    _roster(path)
    port = _free_port()
    server = _serve(database_url, port, tmp_path / "var")
    upload = threading.Thread(target=_upload, args=(port, token, path))
    try:
        upload.start()
        workers = _workers_during_import(server, upload)
        assert any("spawn_main" in cmd for cmd in workers.values()), "no worker seen"
        assert any("resource_tracker" in cmd for cmd in workers.values())
        server.send_signal(signal.SIGKILL)
        server.wait(PATIENCE)
        gone_by = time.monotonic() + 15
        while any(_alive(pid) for pid in workers) and time.monotonic() < gone_by:
            time.sleep(0.1)
        left = {pid: cmd for pid, cmd in workers.items() if _alive(pid)}
        for pid in left:
            os.kill(pid, signal.SIGKILL)  # never leave them to the next test
        return left
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        upload.join(PATIENCE)


async def test_kill_9_of_the_service_ends_its_import_worker(
    factory: Any, database_url: str, tmp_path: Path
) -> None:
    await factory.unit("VN", level="national")
    await factory.site("S1", unit="VN")
    await factory.conference("HN", sites=["S1"])
    token = await factory.token("organiser")
    left = await asyncio.to_thread(_kill_9_during_import, database_url, token, tmp_path)
    assert not left, f"still running after the service died: {left}"

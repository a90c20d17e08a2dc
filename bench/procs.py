"""Processes a bench starts and watches: start, wait for, stop, and the CPU they used.

CPU comes from /proc (utime + stime of a process and all its descendants), so a figure
can be split into what the load generator, the service, PostgreSQL and everything else
on the machine spent while it was measured.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    return text[text.rindex(")") + 2 :].split()


def children() -> dict[int, list[int]]:
    """Every process's children, from one pass over /proc."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                kids.setdefault(int(fields[1]), []).append(int(entry))
    return kids


def tree(pid: int, kids: dict[int, list[int]] | None = None) -> list[int]:
    """pid and all its descendants."""
    kids = children() if kids is None else kids
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def cpu_seconds(pids: Sequence[int]) -> float:
    """CPU time (user + system) of these processes so far."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def memory(pids: Sequence[int]) -> dict[str, int]:
    """Resident and proportional set sizes (bytes) of these processes, summed: RSS counts
    pages that forked processes share once in each, PSS splits them between them."""
    out = {"rss": 0, "pss": 0}
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name in ("Rss", "Pss"):
                out[name.lower()] += int(value.split()[0]) * 1024
    return out


def established(port: int) -> int:
    """TCP connections established to a local listening port (IPv4 and IPv6), from the
    kernel's tables: what the server holds, whatever its processes think."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local address is HEX_IP:HEX_PORT; state 01 is ESTABLISHED
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores, /proc/stat)."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / TICK


def start(
    argv: Sequence[str], env: dict[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """A child in a session of its own, so it and its workers are stopped together."""
    out = open(log, "wb") if log else subprocess.DEVNULL
    return subprocess.Popen(
        list(argv), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_http(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Until `url` answers 200; raises if the process dies or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def stop(proc: subprocess.Popen[bytes], seconds: float = 20) -> None:
    """SIGTERM to the child's process group (it and its workers), then SIGKILL."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

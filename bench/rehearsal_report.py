"""The rehearsal's figures: the rush in numbers, what the service and PostgreSQL spent
(CPU a scan before the first fault, memory a kiosk socket and a dashboard), the faults
for the chart, what the services logged, and the printout."""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

from bench import procs
from bench.rehearsal_checks import Verdicts
from bench.rehearsal_kiosks import Report
from bench.rehearsal_world import World

MB = 1024 * 1024


class Costs(threading.Thread):
    """Every half second: the CPU seconds so far of the services (every host's process
    tree), of PostgreSQL (the running postmaster's tree) and of the whole machine, and
    the services' memory; the samples are read afterwards for the calm window."""

    def __init__(self, hosts: list[int], pgdata: Path | None) -> None:
        super().__init__(daemon=True)
        self.hosts, self.pgdata = hosts, pgdata
        # (when, services' CPU s, PostgreSQL's CPU s, the machine's busy s, postmaster pid)
        self.samples: list[tuple[float, float, float, float, int]] = []
        self.peak = {"rss": 0, "pss": 0}
        self.stop = threading.Event()

    def postgres(self) -> list[int]:
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])  # type: ignore[operator]
        except (OSError, ValueError, IndexError, TypeError):
            return []
        return procs.tree(pid)

    def sample(self) -> None:
        kids = procs.children()
        service = [p for h in self.hosts for p in procs.tree(h, kids)]
        postgres = self.postgres()
        first = postgres[0] if postgres else 0
        self.samples.append(
            (
                time.monotonic(),
                procs.cpu_seconds(service),
                procs.cpu_seconds(postgres),
                procs.machine_busy(),
                first,
            )
        )
        now = procs.memory(service)
        self.peak = {k: max(v, now[k]) for k, v in self.peak.items()}

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self.sample()

    def per_scan(self, start: float, end: float, scans: int) -> dict[str, Any]:
        """CPU µs a scan of the service, PostgreSQL and the machine between two times;
        PostgreSQL's is None when it was restarted in between (its CPU went with it); a
        killed worker's CPU goes with it too, so over a rush with faults the service's
        figure is low."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2 or scans <= 0:
            return {}
        (t0, s0, p0, m0, pid0), (t1, s1, p1, m1, pid1) = inside[0], inside[-1]
        return {
            "seconds": round(t1 - t0, 1),
            "service_us": round(1e6 * (s1 - s0) / scans),
            "postgres_us": round(1e6 * (p1 - p0) / scans) if pid0 == pid1 else None,
            "machine_us": round(1e6 * (m1 - m0) / scans),
        }


def memory(hosts: list[int]) -> dict[str, int]:
    kids = procs.children()
    return procs.memory([p for h in hosts for p in procs.tree(h, kids)])


def _kb_each(after: dict[str, int], before: dict[str, int], count: int) -> dict[str, float]:
    return {k: round((after[k] - before[k]) / max(1, count) / 1024, 1) for k in ("rss", "pss")}


def memory_figures(m: dict[str, dict[str, int]], dashboards: int, kiosks: int) -> dict[str, Any]:
    """The services' memory at each step, and what a dashboard and a kiosk socket add."""
    return {
        "mb": {k: round(v["rss"] / MB) for k, v in m.items()},
        "pss_mb": {k: round(v["pss"] / MB) for k, v in m.items()},
        "kb_a_dashboard": _kb_each(m["dashboards"], m["built"], dashboards),
        "kb_a_kiosk_socket": _kb_each(m["kiosks"], m["dashboards"], kiosks),
    }


def marks(events: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """The faults and recoveries, in a few words each, for the chart."""
    words = {"kill -9": "kill -9 worker", "pg_ctl": "PostgreSQL stopped",
             "PostgreSQL back": "PostgreSQL back", "workers 2/2": "worker back"}  # fmt: skip
    out = []
    for at, what in events:
        out += [(round(at, 2), short) for key, short in words.items() if what.startswith(key)]
    return out


def _ms(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * q))] * 1000, 1) if values else 0.0


def figures(
    a: argparse.Namespace, world: World, r: dict[str, Any], acked: list[Any],
    dash: list[tuple[float, float]], reports: list[Report],
) -> dict[str, Any]:  # fmt: skip
    """The rush in numbers."""
    start = r["start"]
    end = max((x[5] for x in acked), default=start)
    answer = [x[5] - x[4] for x in acked]
    first = min((t for t, _ in r["injected"]["events"]), default=float("inf")) + start
    calm = [x[5] - x[4] for x in acked if x[5] < first and x[7] == 1]
    accepted = sum(x[6] == "accepted" for x in acked)
    calm_accepted = sum(1 for x in acked if start + 1 <= x[5] < first and x[6] == "accepted")
    shown = [d for _, d in dash]
    errors: dict[str, int] = {}
    for rep in reports:
        for code, n in rep.errors.items():
            errors[code] = errors.get(code, 0) + n
    return {
        "sites": len(world.sites), "delegates": a.shape.delegates,
        "kiosks": a.kiosks,
        "kiosk_sockets_opened": r["opened"], "dashboards": a.dashboards,
        "rush_s": round(end - start, 1),
        "accepted": sum(x[6] == "accepted" for x in acked),
        "accepted_per_s": round(sum(x[6] == "accepted" for x in acked) / max(1e-9, end - start)),
        "answer_ms": {"p50": _ms(answer, 0.5), "p99": _ms(answer, 0.99), "max": _ms(answer, 1.0)},
        "answer_ms_before_faults": {"p50": _ms(calm, 0.5), "p99": _ms(calm, 0.99), "scans": len(calm)},
        "dashboard_ms": {"p50": _ms(shown, 0.5), "p99": _ms(shown, 0.99), "max": _ms(shown, 1.0), "samples": len(shown)},
        "scans_sent_again": sum(x[7] > 1 for x in acked),
        "batch_refusals": errors,
        "kiosk_drops": sum(len(rep.drops) for rep in reports),
        "kiosk_reconnects": sum(rep.reconnects for rep in reports),
        "cpu_a_scan_before_faults": r["costs"].per_scan(start + 1, first, calm_accepted),
        "cpu_a_scan_whole_rush": r["costs"].per_scan(start, end + 1, accepted),
    }  # fmt: skip


def report(a: argparse.Namespace, v: Verdicts, result: dict[str, Any]) -> None:
    r = result
    print(
        f"\nrehearsal {a.preset}, {a.hosts} host(s) x {a.workers} workers: {r['sites']:,} sites, "
        f"{r['delegates']:,} delegates, {r['kiosk_sockets_opened']:,} kiosks, "
        f"{r['dashboards']:,} dashboards"
    )
    print(
        f"prepared in {r['prepared_s']} s {r['timings']}; badges {r['badges']}\n"
        f"rush {r['rush_s']} s: {r['accepted']:,} accepted ({r['accepted_per_s']:,}/s); "
        f"answer ms {r['answer_ms']} (before the first fault {r['answer_ms_before_faults']}); "
        f"to dashboard ms {r['dashboard_ms']}\n"
        f"sent again {r['scans_sent_again']:,}; refusals {r['batch_refusals']}; kiosk drops "
        f"{r['kiosk_drops']:,}, reconnects {r['kiosk_reconnects']:,}\n"
        f"CPU a scan before the first fault {r['cpu_a_scan_before_faults']}, over the whole rush "
        f"{r['cpu_a_scan_whole_rush']}; services' memory "
        f"{r['memory']}"
    )
    v.print()


def logs(work: Path) -> dict[str, Any]:
    """What the services logged (WARNING and above), counted by message; the first two
    errors of each message in full."""
    said: dict[str, int] = {}
    errors: list[str] = []
    for path in sorted(work.glob("serve*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            msg = record.get("msg", "?")
            said[msg] = said.get(msg, 0) + 1
            if record.get("level") in ("error", "critical") and said[msg] <= 2:
                errors.append(line[:6000])
    return {"counted": said, "errors": errors}

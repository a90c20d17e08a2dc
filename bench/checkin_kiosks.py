"""The check-in bench's many-kiosk mode: `python -m bench.checkin --kiosks 10000`.

Every kiosk of the world (bench/checkin_world.py, the tokens spread over the scanned
sites) holds a websocket open at once, from several client processes
(bench/checkin_kiosk_client.py), and sends single scans of its own site's delegates and
heartbeats; together `--kiosk-rate` scans a second. Measured: scan to answer as the
kiosk sees it (p50, p99, max; the first seconds left out as in the batch runs), the
heartbeats' answers, sockets opened, held to the end (the kernel's count of connections
to the service's port) and dropped, the service's memory (RSS and PSS of all its
processes: before the sockets, with them open and idle, the peak while scanning) and so
its memory per connection, and the CPU a scan of the client, the service and PostgreSQL.
"""

from __future__ import annotations

import math
import multiprocessing
import statistics
import threading
import time
from typing import Any

from bench import procs
from bench.checkin_kiosk_client import KioskLoad, ScanRecord, Tally, run_kiosks
from bench.checkin_load import WS_WARM_SECONDS, Options, Pg, measured
from bench.checkin_world import Scan, World
from bench.common import say

KIOSKS_PER_CLIENT = 2500  # sockets one client process holds, by default
SPARE_CODES = 1.5  # fresh codes planned per scan sent: some kiosks' sites run out sooner
BARS = {"p99_ms": 50.0, "memory_mb": 300.0, "dropped": 0}
MB = 1024 * 1024


def codes_needed(opts: Options) -> int:
    return int(opts.kiosk_rate * opts.seconds * SPARE_CODES)


def kiosk_loads(world: World, scans: list[Scan], opts: Options, url: str) -> list[KioskLoad]:
    """Every kiosk of the world with its own scans, dealt out to the client processes."""
    mine: dict[str, list[str]] = {}
    for s in scans:
        mine.setdefault(s.token, []).append(s.body)
    tokens = [t for g in world.groups for ts in g.kiosks.values() for t in ts]
    clients = opts.kiosk_clients or max(2, math.ceil(len(tokens) / KIOSKS_PER_CLIENT))
    every = len(tokens) / opts.kiosk_rate  # each kiosk's share of the rate
    return [
        KioskLoad(
            url,
            [(t, mine.get(t, [])) for t in tokens[i::clients]],
            every,
            opts.heartbeat_every,
            opts.seconds,
            opts.compression,
            seed=i,
        )
        for i in range(clients)
    ]


class Sampler(threading.Thread):
    """The service's memory every half second while the run lasts; keeps the peak."""

    def __init__(self, server: int) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.peak = {"rss": 0, "pss": 0}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            now = procs.memory(procs.tree(self.server))
            self.peak = {k: max(v, now[k]) for k, v in self.peak.items()}


def _start(loads: list[KioskLoad]) -> tuple[list[Any], list[Any]]:
    ctx = multiprocessing.get_context("spawn")
    pipes, workers = [], []
    for load in loads:
        mine, theirs = ctx.Pipe()
        worker = ctx.Process(target=run_kiosks, args=(load, theirs))
        worker.start()
        pipes.append(mine)
        workers.append(worker)
    return pipes, workers


def _ready(pipes: list[Any]) -> tuple[int, dict[str, int]]:
    """Wait until every client has opened its sockets: how many, and why not the rest."""
    opened, refused = 0, {}
    for p in pipes:
        word, count, why = p.recv()
        if word != "ready":
            raise RuntimeError("a kiosk client did not get ready")
        opened += count
        for k, v in why.items():
            refused[k] = refused.get(k, 0) + v
    return opened, refused


def kiosk_run(loads: list[KioskLoad], pg: Pg, server: int, port: int) -> dict[str, Any]:
    """One run: the sockets opened, held idle a moment, then the scans; its figures."""
    before = procs.memory(procs.tree(server))
    began = time.monotonic()
    pipes, workers = _start(loads)
    opened, refused = _ready(pipes)
    say(f"  {opened:,} kiosk sockets open in {time.monotonic() - began:.0f} s; refused {refused}")
    time.sleep(2)  # let the handshakes' garbage go before reading what the sockets hold
    idle, held_before = procs.memory(procs.tree(server)), procs.established(port)
    sampler = Sampler(server)
    sampler.start()
    start = time.monotonic() + 1.0
    with measured(pg, lambda: [w.pid for w in workers if w.pid], server) as cpu:
        for p in pipes:
            p.send(start)
        tallies: list[Tally] = [p.recv() for p in pipes]
    held_after = procs.established(port)
    sampler.stop.set()
    for p in pipes:
        p.send("close")
    for w in workers:
        w.join()
    memory = {"before": before, "idle": idle, "peak": sampler.peak}
    sockets = {"opened": opened, "refused": refused, "held_before": held_before}
    sockets["held_after"] = held_after
    return {**kiosk_figures(tallies, start, len(workers)), **cpu, "memory": memory, **sockets}


def _ms(values: list[float], q: float) -> float:
    return round(values[min(len(values) - 1, int(len(values) * q))] * 1000, 1) if values else 0.0


def kiosk_figures(tallies: list[Tally], start: float, clients: int) -> dict[str, Any]:
    """Rates and latencies over the scans sent after the warm-up seconds."""
    scans: list[ScanRecord] = [s for t in tallies for s in t.scans]
    end = max((s[1] for s in scans), default=start)
    warm = WS_WARM_SECONDS if end - start > 3 * WS_WARM_SECONDS else 0.0
    window = [s for s in scans if s[1] >= start + warm]
    seconds = max(1e-9, end - start - warm)
    lat = sorted(s[2] - s[1] for s in window if not math.isnan(s[2]))
    lag = sorted(s[1] - s[0] for s in window)
    beats = sorted(b for t in tallies for b in t.heartbeats)
    errors: dict[str, int] = {}
    for s in scans:
        if s[4]:
            errors[s[4]] = errors.get(s[4], 0) + 1
    return {
        "protocol": "kiosks",
        "batch": 1,
        "clients": clients,
        "seconds": round(seconds, 1),
        "requests": len(scans),
        "accepted": sum(s[3] for s in scans),
        "accepted_per_s": round(sum(s[3] for s in window) / seconds),
        "answers_per_s": round(len(lat) / seconds),
        "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else 0.0,
        "p99_ms": _ms(lat, 0.99),
        "max_ms": round(lat[-1] * 1000, 1) if lat else 0.0,
        "send_lag_p99_ms": _ms(lag, 0.99),  # a starved client sends late: shown, not hidden
        "heartbeats": len(beats),
        "heartbeat_p99_ms": _ms(beats, 0.99),
        "heartbeat_errors": {k: v for t in tallies for k, v in t.beat_errors.items()},
        "errors": errors,
        "dropped": sum(len(t.dropped) for t in tallies),
        "drop_codes": sorted({str(c) for t in tallies for _, c in t.dropped}),
        "held": sum(t.held for t in tallies),
    }


def kiosk_verdict(r: dict[str, Any], kiosks: int) -> None:
    """The bars and the memory a connection, written into the run."""
    mem = r["memory"]
    r["memory_mb"] = {k: round(v["rss"] / MB) for k, v in mem.items()}
    r["pss_mb"] = {k: round(v["pss"] / MB) for k, v in mem.items()}
    held = max(1, r["held_before"])
    r["kb_a_connection"] = {
        "rss": round((mem["idle"]["rss"] - mem["before"]["rss"]) / held / 1024, 1),
        "pss": round((mem["idle"]["pss"] - mem["before"]["pss"]) / held / 1024, 1),
    }
    n = max(1, r["requests"])
    r["cpu_us_a_scan"] = {
        k: round(1e6 * r["cpu_seconds"][k] / n) for k in ("client", "server", "postgres")
    }
    r["bar"] = {
        "p99": r["p99_ms"] < BARS["p99_ms"],
        "memory": r["memory_mb"]["peak"] < BARS["memory_mb"],
        "dropped": r["dropped"] == BARS["dropped"] and r["opened"] == kiosks,
    }


def kiosk_line(r: dict[str, Any]) -> str:
    return (
        f"  {r['held_before']:,} sockets held ({r['held_after']:,} at the end, "
        f"{r['dropped']} dropped); {r['answers_per_s']:,} answers/s "
        f"({r['accepted_per_s']:,} accepted/s); p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
        f"max {r['max_ms']} ms; heartbeat p99 {r['heartbeat_p99_ms']} ms; send lag p99 "
        f"{r['send_lag_p99_ms']} ms; memory MB {r['memory_mb']} (PSS {r['pss_mb']}); "
        f"KB a connection {r['kb_a_connection']}; CPU µs a scan {r['cpu_us_a_scan']}; "
        f"cores {r['cores']}; load {r['load_average'][0]}; bars {r['bar']}"
    )


def print_kiosk_table(runs: list[dict[str, Any]]) -> None:
    head = (
        f"{'delegates':>10} {'w':>2} {'kiosks':>7} {'held':>7} {'drop':>5} {'ans/s':>7} "
        f"{'p50':>6} {'p99':>7} {'hb p99':>7} {'MB idle/peak':>13} {'KB/conn':>8} "
        f"{'µs cl/sv/pg':>14} {'load':>5}"
    )
    print(head)
    for r in runs:
        u = r["cpu_us_a_scan"]
        print(
            f"{r['delegates']:>10,} {r['workers']:>2} {r['kiosks']:>7,} {r['held_before']:>7,} "
            f"{r['dropped']:>5} {r['answers_per_s']:>7,} {r['p50_ms']:>6.1f} {r['p99_ms']:>7.1f} "
            f"{r['heartbeat_p99_ms']:>7.1f} "
            f"{r['memory_mb']['idle']:>6}/{r['memory_mb']['peak']:<6} "
            f"{r['kb_a_connection']['rss']:>8} "
            f"{u['client']:>4}/{u['server']}/{u['postgres']:<5} {r['load_average'][0]:>5.2f}"
        )

"""The check-in bench's output: the bars, the ceiling ratio, flatness, CPU a scan, and
the table (bench/checkin.py)."""

from __future__ import annotations

from typing import Any

BARS = {"http": (3000, 50.0), "ws": (20000, 50.0)}  # accepted/s, p99 ms
Run = dict[str, Any]


def per_scan(r: dict[str, Any]) -> dict[str, float | None]:
    """CPU microseconds per scan answered, by part: unlike a rate, this holds steady when
    other work shares the machine, and says where the time goes."""
    n = max(1, r["accepted"])
    out = {k: round(1e6 * r["cpu_seconds"][k] / n) for k in ("client", "server", "postgres")}
    out["wal_bytes"] = round(r["wal_bytes"] / n)
    writes = r["write_transactions"] if r.get("target", "service") == "service" else 0
    out["scans_a_transaction"] = round(n / writes, 1) if writes else None
    return out


def line(r: dict[str, Any]) -> str:
    return (
        f"  {r.get('target', 'service')} {r['protocol']} batch {r['batch']}: "
        f"{r['accepted_per_s']:,} accepted/s ({r['answers_per_s']:,} answers/s), "
        f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, load {r['load_average'][0]}, "
        f"cores {r['cores']}, CPU µs a scan {per_scan(r)}"
    )


def _twin(runs: list[Run], r: Run, target: str, delegates: int) -> Run | None:
    """The run of `target` at `delegates` with r's protocol, batch and workers."""
    for c in runs:
        if (c["target"], c["delegates"]) == (target, delegates) and all(
            c[k] == r[k] for k in ("protocol", "batch", "workers")
        ):
            return c
    return None


def verdicts(runs: list[Run]) -> None:
    """Bars, the ceiling ratio and flatness, written into each service run."""
    smallest = min(x["delegates"] for x in runs)
    for r in runs:
        r["cpu_us_per_scan"] = per_scan(r)
        if r["target"] != "service":
            continue
        # Stored and answered agree: a websocket run waits for every answer; wrk stops
        # with up to one request a connection sent and committed but not read.
        extra = r["accepted_in_db"] - r["accepted"]
        slack = r["in_flight"] if r["protocol"] == "http" else 0
        r["db_check"] = "ok" if 0 <= extra <= slack else f"MISMATCH {extra:+}"
        rate, p99 = BARS[r["protocol"]]
        r["bar"] = "met" if r["accepted_per_s"] >= rate and r["p99_ms"] < p99 else "MISSED"
        ceiling = _twin(runs, r, "ceiling", r["delegates"])
        if ceiling:
            r["of_ceiling"] = round(r["accepted_per_s"] / max(1, ceiling["answers_per_s"]), 2)
        small = _twin(runs, r, "service", smallest)
        if small and r["delegates"] != smallest:
            r["vs_smallest"] = round(r["accepted_per_s"] / max(1, small["accepted_per_s"]), 2)


COLUMNS = (
    ("delegates", ">10"),
    ("w", ">2"),
    ("target", "<8"),
    ("proto", "<5"),
    ("batch", ">5"),
    ("per s", ">7"),
    ("in db", ">7"),
    ("p50 ms", ">7"),
    ("p99 ms", ">7"),
    ("/ceil", ">5"),
    ("/10k", ">5"),
    ("bar", "<6"),
    ("load", ">5"),
    ("cores cl/sv/pg/oth", "<19"),
    ("µs a scan cl/sv/pg", "<18"),
)


def _cells(r: dict[str, Any]) -> list[Any]:
    """One run as table cells: accepted/s for the service, answers/s for the ceilings."""
    c, u = r["cores"], r["cpu_us_per_scan"]
    rate = r["accepted_per_s"] if r["target"] == "service" else r["answers_per_s"]
    return [
        f"{r['delegates']:,}", r["workers"], r["target"], r["protocol"], r["batch"],
        f"{rate:,}", r.get("accepted_in_db", ""), f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}",
        r.get("of_ceiling", ""), r.get("vs_smallest", ""), r.get("bar", ""),
        f"{r['load_average'][0]:.2f}", f"{c['client']}/{c['server']}/{c['postgres']}/{c['others']}",
        f"{u['client']}/{u['server']}/{u['postgres']}",
    ]  # fmt: skip


def print_table(runs: list[dict[str, Any]]) -> None:
    print(" ".join(f"{name:{fmt}}" for name, fmt in COLUMNS))
    for r in runs:
        print(" ".join(f"{v!s:{fmt}}" for v, (_, fmt) in zip(_cells(r), COLUMNS, strict=True)))

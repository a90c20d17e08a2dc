"""The rehearsal over time: throughput, p99 of scan to answer, p99 of scan to dashboard,
second by second, and the chart of them with the faults marked (matplotlib, Agg).

Scan to dashboard is read per site: the k-th accepted scan of a site (in the order they
were last sent) reached a dashboard when that dashboard first showed the site with
`checked_in` of k or more; so each recording dashboard gives one figure per scan of its
sites. A batch of one kiosk's queue counts from when it was sent, not when it was made.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.rehearsal_kiosks import Acked

Seen = tuple[str, int, float]


def p99(values: list[float]) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def to_dashboards(
    acked: list[Acked], site_of: dict[int, str], seen: list[list[Seen]]
) -> list[tuple[float, float]]:
    """(sent, seconds to the dashboard) for every accepted scan and recording dashboard
    that shows its site; `site_of` maps a kiosk index to its site."""
    sent: dict[str, list[float]] = defaultdict(list)
    for k, _, _, _, last, _, result, _ in acked:
        if result == "accepted":
            sent[site_of[k]].append(last)
    for times in sent.values():
        times.sort()
    out = []
    for board in seen:
        shown: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for site, count, at in board:
            shown[site].append((count, at))
        for site, steps in shown.items():
            firsts = [c for c, _ in steps]
            for k, at in enumerate(sent.get(site, []), start=1):
                i = bisect.bisect_left(firsts, k)
                if i < len(steps):
                    out.append((at, steps[i][1] - at))
    return out


def series(
    acked: list[Acked], dash: list[tuple[float, float]], start: float
) -> dict[str, list[float]]:
    """Per second since the start: accepted answers, p99 of answers, p99 to dashboards."""
    answers: dict[int, list[float]] = defaultdict(list)
    accepted: dict[int, int] = defaultdict(int)
    for _, _, _, _, last, answered, result, _ in acked:
        second = int(answered - start)
        answers[second].append(answered - last)
        accepted[second] += result == "accepted"
    shown: dict[int, list[float]] = defaultdict(list)
    for sent, seconds in dash:
        shown[int(sent - start)].append(seconds)
    end = max([*answers, *shown, 0]) + 1
    return {
        "second": list(range(end)),
        "accepted_per_s": [accepted.get(s, 0) for s in range(end)],
        "answer_p99_ms": [round(p99(answers.get(s, [])) * 1000, 1) for s in range(end)],
        "dashboard_p99_ms": [round(p99(shown.get(s, [])) * 1000, 1) for s in range(end)],
    }


def draw(s: dict[str, list[float]], faults: dict[str, Any], title: str, path: Path) -> None:
    """Three panels sharing the time axis; faults as vertical lines, offline as a band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(11, 8), sharex=True)
    panels = [
        ("accepted_per_s", "accepted scans/s", "tab:blue"),
        ("answer_p99_ms", "p99 scan to answer (ms)", "tab:orange"),
        ("dashboard_p99_ms", "p99 scan to dashboard (ms)", "tab:green"),
    ]
    for ax, (key, label, colour) in zip(axes, panels, strict=True):
        ax.plot(s["second"], s[key], color=colour, drawstyle="steps-post")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.axvspan(*faults["offline"], color="grey", alpha=0.15)
        for at, _ in faults["marks"]:
            ax.axvline(at, color="red", linestyle="--", linewidth=1)
    for ax in axes[1:]:
        ax.set_yscale("symlog", linthresh=10)
        ax.set_ylim(bottom=0)
    for at, what in faults["marks"]:
        note = axes[0].annotate(
            what, (at, 0.97), xycoords=("data", "axes fraction"), rotation=90, va="top",
            ha="right", fontsize=8, color="red",
        )  # fmt: skip
        note.set_in_layout(False)
    band = axes[0].annotate(
        "5% of kiosks offline", (faults["offline"][0], 0.97), xycoords=("data", "axes fraction"),
        va="top", fontsize=8, color="dimgrey",
    )  # fmt: skip
    band.set_in_layout(False)
    axes[-1].set_xlabel("seconds since the rush began")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

"""`diemcau badges`, `diemcau passes` and `diemcau keys`: print credentials, manage keys.

Badges for many sites render in a process pool, one site per task, with the codes signed
here first: the private key never reaches a rendering process. A progress line goes to
stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from diemcau import badges, issuance, keystore
from diemcau.auth import CLI
from diemcau.cli.common import database, load_config, report_problem
from diemcau.conferences import ensure_writable
from diemcau.errors import Msg, Problem
from diemcau.keystore import Keystore, SigningKey
from diemcau.queries import credentials as q
from diemcau.queries.conferences import fetch_conference


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("badges", help="print A4 badge sheets (PDF) for a conference")
    cmd.add_argument("--conference", required=True, help="conference code")
    cmd.add_argument("--site", help="one site (default: every participating site)")
    cmd.add_argument(
        "-o",
        "--output",
        required=True,
        help="the PDF file with --site; otherwise a directory, one PDF per site",
    )
    cmd.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes")
    cmd.set_defaults(func=_badges)

    cmd = sub.add_parser("passes", help="write each delegate's phone pass (PNG) to a directory")
    cmd.add_argument("--conference", required=True)
    cmd.add_argument("--site", help="one site (default: all)")
    cmd.add_argument("-o", "--output", required=True, help="directory (one folder per site)")
    cmd.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes")
    cmd.set_defaults(func=_passes)

    keys = sub.add_parser("keys", help="list, rotate and retire a conference's signing keys")
    verbs = keys.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, text in (
        ("list", "list the live keys"),
        ("rotate", "new signing key; the old ones keep verifying until retired"),
        ("retire", "stop accepting codes signed with a key"),
    ):
        cmd = verbs.add_parser(verb, help=text)
        cmd.add_argument("--conference", required=True)
        if verb == "retire":
            cmd.add_argument("kid", help="the key id (8 hex characters)")
        cmd.set_defaults(func=lambda a: asyncio.run(_keys(a)))


def _safe(name: str) -> str:
    """A file name from a code or external id: nothing that could leave the folder."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "x"


def _pass_names(rows: list[asyncpg.Record]) -> tuple[str, ...]:
    """Files named by external id (the member card number people look for); the delegate
    id is added when two ids clean up to the same name."""
    names = [_safe(r["external_id"]) for r in rows]
    seen = Counter(names)
    return tuple(n if seen[n] == 1 else f"{n}-{r['id']}" for n, r in zip(names, rows, strict=True))


def number(n: int) -> str:
    """11873 -> '11.873', as numbers are written for people here."""
    return f"{n:,}".replace(",", ".")


@dataclass(frozen=True)
class SiteJob:
    """One site's work, ready for any process: codes signed, no key inside. Without
    `pass_names`, `path` is the site's PDF; with them, a folder of phone passes."""

    sheet: badges.Sheet
    items: list[badges.Badge]
    path: Path
    pass_names: tuple[str, ...] = ()


def _render(job: SiteJob) -> tuple[Path, int]:
    if not job.pass_names:
        job.path.write_bytes(badges.badges_pdf(job.sheet, job.items))
        return job.path, len(job.items)
    job.path.mkdir(parents=True, exist_ok=True)
    for name, item in zip(job.pass_names, job.items, strict=True):
        (job.path / f"{name}.png").write_bytes(badges.phone_pass(job.sheet, item))
    return job.path, len(job.items)


def _start_method() -> str:
    """fork when this is the only thread (the CLI renders after its event loop and database
    connection are closed): workers start at once with fonts loaded. Otherwise spawn,
    since forking a threaded process can copy a held lock into the child."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"


def render_jobs(
    jobs: Iterable[SiteJob], workers: int, progress: Callable[[int, int], None] | None = None
) -> int:
    """Render every job (a process pool when workers > 1); answers the badges written."""
    jobs = list(jobs)
    done_sites = done_badges = 0
    if workers <= 1:
        for job in jobs:
            done_badges += _render(job)[1]
            done_sites += 1
            if progress:
                progress(done_sites, done_badges)
        return done_badges
    context = multiprocessing.get_context(_start_method())
    badges.register_fonts()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(_render, job) for job in jobs]
        for future in as_completed(futures):
            done_badges += future.result()[1]
            done_sites += 1
            if progress:
                progress(done_sites, done_badges)
    return done_badges


def site_jobs(
    key: SigningKey,
    conference: asyncpg.Record,
    sites: list[asyncpg.Record],
    rows: list[asyncpg.Record],
    path_for: Callable[[asyncpg.Record], Path],
    passes: bool = False,
) -> Iterable[SiteJob]:
    """One job per site, signing that site's codes as it goes (lazily, so the pool starts
    rendering while later sites are still being signed)."""
    by_site: dict[int, list[asyncpg.Record]] = {}
    for row in rows:
        by_site.setdefault(row["site_id"], []).append(row)
    for site in sites:
        members = by_site.get(site["id"], [])
        items = issuance.sign_badges(key, conference["id"], members)
        names = _pass_names(members) if passes else ()
        yield SiteJob(issuance.site_sheet(conference, site), items, path_for(site), names)


async def _conference(conn: asyncpg.Connection, code: str) -> asyncpg.Record:
    conference = await fetch_conference(conn, code)
    if conference is None:
        raise Problem("not_found", Msg("Không có hội nghị này", f"no conference {code!r}"))
    return conference


async def _sites(conn: asyncpg.Connection, conference_id: int, site: str | None) -> list[Any]:
    if site is None:
        return list(await q.fetch_conference_sites(conn, conference_id))
    found = await q.fetch_conference_site(conn, conference_id, site)
    if found is None:
        raise Problem("not_found", Msg("Điểm cầu không tham gia", f"site {site!r} is not in it"))
    return [found]


def _progress(
    total_sites: int, total_badges: int, started: float, what: str = "badges"
) -> Callable[[int, int], None]:
    def show(sites: int, done: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-6)
        print(
            f"\r{what}: {sites}/{total_sites} sites, {number(done)}/{number(total_badges)} "
            f"{what} ({number(int(rate))}/s)",
            end="",
            file=sys.stderr,
            flush=True,
        )

    return show


def _badges(args: argparse.Namespace) -> int:
    """Read in the event loop; sign and render once it has closed (see _start_method)."""
    fetched = asyncio.run(_badge_data(args))
    if isinstance(fetched, int):
        return fetched
    return _write_badges(args, *fetched)


async def _badge_data(args: argparse.Namespace) -> int | tuple[Any, list[Any], list[Any], Any]:
    config = load_config()
    store = Keystore.from_config(config)
    async with database(config) as conn:
        try:
            conference = await _conference(conn, args.conference)
            sites = await _sites(conn, conference["id"], args.site)
            rows = await q.fetch_badge_delegates(
                conn, conference["id"], sites[0]["id"] if args.site else None
            )
            key = await keystore.signing_key(conn, store, conference["id"], CLI)
        except Problem as problem:
            return report_problem(problem)
    return conference, sites, rows, key


def _write_badges(
    args: argparse.Namespace,
    conference: asyncpg.Record,
    sites: list[Any],
    rows: list[asyncpg.Record],
    key: SigningKey,
) -> int:
    out = Path(args.output)
    if args.site and not out.is_dir():
        out.parent.mkdir(parents=True, exist_ok=True)

        def path_for(site: Any) -> Path:
            return out
    else:
        out.mkdir(parents=True, exist_ok=True)

        def path_for(site: Any) -> Path:
            return out / f"badges-{conference['code']}-{site['code']}.pdf"

    started = time.perf_counter()
    jobs = site_jobs(key, conference, sites, rows, path_for)
    workers = min(max(args.workers, 1), len(sites))
    written = render_jobs(jobs, workers, _progress(len(sites), len(rows), started))
    elapsed = time.perf_counter() - started
    print(
        f"\n{number(written)} badges for {len(sites)} sites in {elapsed:.1f} s -> {out}",
        file=sys.stderr,
    )
    return 0


def _passes(args: argparse.Namespace) -> int:
    """Like `badges`: read in the event loop, then sign and render one folder per site."""
    fetched = asyncio.run(_badge_data(args))
    if isinstance(fetched, int):
        return fetched
    conference, sites, rows, key = fetched
    out = Path(args.output)
    started = time.perf_counter()
    jobs = site_jobs(key, conference, sites, rows, lambda s: out / _safe(s["code"]), passes=True)
    workers = min(max(args.workers, 1), len(sites))
    written = render_jobs(jobs, workers, _progress(len(sites), len(rows), started, "passes"))
    elapsed = time.perf_counter() - started
    print(f"\n{number(written)} passes in {elapsed:.1f} s -> {out}", file=sys.stderr)
    return 0


async def _keys(args: argparse.Namespace) -> int:
    config = load_config()
    async with database(config) as conn:
        try:
            conference = await _conference(conn, args.conference)
            if args.verb != "list":
                ensure_writable(conference)
            if args.verb == "rotate":
                kid = await keystore.rotate(
                    conn, Keystore.from_config(config), conference["id"], CLI
                )
                print(f"new signing key {kid}", file=sys.stderr)
            elif args.verb == "retire":
                await keystore.retire(conn, conference["id"], args.kid.upper(), CLI)
                print(f"key {args.kid.upper()} retired", file=sys.stderr)
            found = await keystore.jwks(conn, conference)
        except Problem as problem:
            return report_problem(problem)
    for key in found["keys"]:
        state = "signing" if key["signing"] else "verifying"
        print(f"{key['kid']}  {state:<9}  created {key['created_at']}")
    return 0

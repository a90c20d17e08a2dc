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
from typing import Any, TypeVar

import asyncpg

from diemcau import badges, issuance, keystore, suggest
from diemcau.auth import CLI
from diemcau.cli.common import add_conference, database, load_config, positive_int, report_problem
from diemcau.cli.common import conference as find_conference
from diemcau.cli.output import Column, Listing, add_format
from diemcau.cli.progress import Progress
from diemcau.cli.say import count, err, error, number, t, when
from diemcau.conferences import ensure_writable
from diemcau.errors import Msg, Problem
from diemcau.keystore import Keystore, SigningKey
from diemcau.queries import credentials as q

STDOUT = "-"  # `-o -`: standard output


def register(sub: argparse._SubParsersAction) -> None:
    workers = t("số tiến trình (mặc định: số lõi CPU)", "processes (default: CPU cores)")
    cmd = sub.add_parser(
        "badges",
        help=t("in thẻ đại biểu (PDF, khổ A4)", "print A4 badge sheets (PDF) for a conference"),
    )
    add_conference(cmd)
    cmd.add_argument(
        "--site",
        help=t(
            "một điểm cầu (mặc định: mọi điểm cầu tham gia)",
            "one site (default: every participating site)",
        ),
    )
    cmd.add_argument(
        "-o",
        "--output",
        required=True,
        help=t(
            "tệp PDF khi có --site (- là ra màn hình); nếu không, một thư mục, mỗi điểm cầu một tệp",
            "the PDF file with --site (- for standard output); otherwise a directory, one PDF per site",
        ),
    )
    cmd.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1, help=workers)
    cmd.set_defaults(func=_badges)

    cmd = sub.add_parser(
        "passes",
        help=t(
            "ghi thẻ điện thoại (PNG) của từng đại biểu vào một thư mục",
            "write each delegate's phone pass (PNG) to a directory",
        ),
    )
    add_conference(cmd)
    cmd.add_argument("--site", help=t("một điểm cầu (mặc định: tất cả)", "one site (default: all)"))
    cmd.add_argument(
        "-o",
        "--output",
        required=True,
        help=t("thư mục (mỗi điểm cầu một thư mục con)", "directory (one folder per site)"),
    )
    cmd.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1, help=workers)
    cmd.set_defaults(func=_passes)

    keys = sub.add_parser(
        "keys",
        help=t(
            "khóa ký của hội nghị: liệt kê, thay, thu hồi",
            "list, rotate and retire a conference's signing keys",
        ),
    )
    verbs = keys.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, text in (
        ("list", t("liệt kê các khóa còn dùng", "list the live keys")),
        (
            "rotate",
            t(
                "khóa ký mới; khóa cũ vẫn xác minh đến khi bị thu hồi",
                "new signing key; the old ones keep verifying until retired",
            ),
        ),
        ("retire", t("thôi nhận mã ký bằng một khóa", "stop accepting codes signed with a key")),
    ):
        cmd = verbs.add_parser(verb, help=text)
        add_conference(cmd)
        if verb == "retire":
            cmd.add_argument(
                "kid", help=t("mã khóa (8 ký tự hex)", "the key id (8 hex characters)")
            )
        add_format(cmd)
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
) -> tuple[list[SiteJob], issuance.Issued]:
    """One job per site with its codes signed, and every code signed (to record)."""
    by_site: dict[int, list[asyncpg.Record]] = {}
    for row in rows:
        by_site.setdefault(row["site_id"], []).append(row)
    jobs: list[SiteJob] = []
    issued: issuance.Issued = []
    for site in sites:
        # Named and signed alike: a delegate no code can carry is left out of both.
        signed = issuance.signed_codes(key, conference["id"], by_site.get(site["id"], []))
        members = [row for row, _, _ in signed]
        items = [issuance.badge(row, code) for row, _, code in signed]
        names = _pass_names(members) if passes else ()
        jobs.append(SiteJob(issuance.site_sheet(conference, site), items, path_for(site), names))
        issued.extend((claims, code) for _, claims, code in signed)
    return jobs, issued


async def conference_sites(
    conn: asyncpg.Connection, conference: asyncpg.Record, site: str | None
) -> list[Any]:
    """The participating sites, or the one named (404 with the nearest code if it is not)."""
    every = list(await q.fetch_conference_sites(conn, conference["id"]))
    if site is None:
        return every
    found = [s for s in every if s["code"] == site]
    if found:
        return found
    near = suggest.nearest(site, [s["code"] for s in every])
    vi = f"Điểm cầu {site!r} không tham gia hội nghị {conference['code']}"
    en = f"site {site!r} does not take part in conference {conference['code']}"
    if near:
        vi, en = f"{vi}; có phải {near!r}?", f"{en}; did you mean {near!r}?"
    raise Problem("not_found", Msg(vi, en), suggestion=near)


# What is made, in Vietnamese, and in English (one, many).
_WHAT = {"badges": ("thẻ", "badge", "badges"), "passes": ("thẻ điện thoại", "pass", "passes")}


def _progress(
    total_sites: int, total_badges: int, started: float, what: str = "badges"
) -> tuple[Progress, Callable[[int, int], None]]:
    vi, _, en = _WHAT[what]
    progress = Progress()

    def show(sites: int, done: int) -> None:
        rate = number(done / max(time.perf_counter() - started, 1e-6))
        done_of = f"{number(done)}/{number(total_badges)}"
        progress.show(
            t(
                f"{vi}: {sites}/{total_sites} điểm cầu, {done_of} {vi} ({rate}/giây)",
                f"{en}: {sites}/{total_sites} sites, {done_of} {en} ({rate}/s)",
            )
        )

    return progress, show


def _badges(args: argparse.Namespace) -> int:
    """Read, sign and record in the event loop; render once it has closed (see
    _start_method)."""
    if args.output == STDOUT and not args.site:
        error(
            Msg(
                "-o - cần --site: mỗi điểm cầu là một tệp PDF",
                "-o - needs --site: each site is a PDF file of its own",
            )
        )
        return 2
    out = Path(args.output)
    one_file = bool(args.site) and (args.output == STDOUT or not out.is_dir())

    def path_for(conference: Any) -> Callable[[Any], Path]:
        if one_file:
            return lambda site: out
        return lambda site: out / f"badges-{conference['code']}-{site['code']}.pdf"

    fetched = asyncio.run(
        signed(args, lambda key, c, sites, rows: site_jobs(key, c, sites, rows, path_for(c)))
    )
    if isinstance(fetched, int):
        return fetched
    _, sites, jobs = fetched
    if args.output == STDOUT:
        return _badges_to_stdout(jobs)
    (out.parent if one_file else out).mkdir(parents=True, exist_ok=True)
    return _render_all(args, out, sites, jobs)


def _badges_to_stdout(jobs: list[SiteJob]) -> int:
    """One site's sheets as PDF on standard output (`-o -`), for a pipe or a printer."""
    (job,) = jobs
    sys.stdout.buffer.write(badges.badges_pdf(job.sheet, job.items))
    sys.stdout.buffer.flush()
    err(f"{count(len(job.items), 'thẻ', 'badge')} -> stdout")
    return 0


Made = TypeVar("Made")
Signer = Callable[[SigningKey, asyncpg.Record, list[Any], list[Any]], tuple[Made, issuance.Issued]]


async def signed(args: argparse.Namespace, sign: Signer[Made]) -> int | tuple[Any, list[Any], Made]:
    """The conference and its sites, and what `sign` made of their delegates' codes.

    The codes' digests are recorded before the connection closes, as the API records
    the codes it makes: the first scan of a code from a printed badge, a pass or an SMS
    is then a digest lookup, not an Ed25519 verification and a write. An exit status
    when the conference or site is unknown.
    """
    config = load_config()
    store = Keystore.from_config(config)
    async with database(config) as conn:
        try:
            conference = await find_conference(conn, args.conference)
            sites = await conference_sites(conn, conference, args.site)
            rows = await q.fetch_badge_delegates(
                conn, conference["id"], sites[0]["id"] if args.site else None
            )
            key = await keystore.signing_key(conn, store, conference["id"], CLI)
        except Problem as problem:
            return report_problem(problem)
        made, issued = sign(key, conference, sites, list(rows))
        await issuance.record_codes(conn, issued)
    return conference, sites, made


def _render_all(args: argparse.Namespace, out: Path, sites: list[Any], jobs: list[SiteJob]) -> int:
    """Render the jobs on `--workers` processes, with a progress line; say what was made."""
    what = "passes" if args.func is _passes else "badges"
    started = time.perf_counter()
    total = sum(len(job.items) for job in jobs)
    workers = min(max(args.workers, 1), len(sites))
    progress, show = _progress(len(sites), total, started, what)
    written = render_jobs(jobs, workers, show)
    progress.finish()
    seconds = number(time.perf_counter() - started, 1)
    made = count(written, *_WHAT[what])
    for_sites = count(len(sites), "điểm cầu", "site")
    err(
        t(
            f"{made} cho {for_sites} trong {seconds} giây -> {out}",
            f"{made} for {for_sites} in {seconds} s -> {out}",
        )
    )
    return 0


def _passes(args: argparse.Namespace) -> int:
    """Like `badges`: read, sign and record, then render one folder per site."""
    if args.output == STDOUT:
        error(
            Msg(
                "-o cần một thư mục: mỗi đại biểu một tệp PNG, không ghi ra màn hình được",
                "-o needs a directory: a PNG file per delegate cannot go to standard output",
            )
        )
        return 2
    out = Path(args.output)

    def sign(key: SigningKey, conference: Any, sites: list[Any], rows: list[Any]) -> Any:
        return site_jobs(key, conference, sites, rows, lambda s: out / _safe(s["code"]), True)

    fetched = asyncio.run(signed(args, sign))
    if isinstance(fetched, int):
        return fetched
    _, sites, jobs = fetched
    return _render_all(args, out, sites, jobs)


async def _keys(args: argparse.Namespace) -> int:
    config = load_config()
    async with database(config) as conn:
        try:
            conference = await find_conference(conn, args.conference)
            if args.verb != "list":
                ensure_writable(conference)
            if args.verb == "rotate":
                kid = await keystore.rotate(
                    conn, Keystore.from_config(config), conference["id"], CLI
                )
                err(t(f"khóa ký mới {kid}", f"new signing key {kid}"))
            elif args.verb == "retire":
                await keystore.retire(conn, conference["id"], args.kid.upper(), CLI)
                err(t(f"đã thu hồi khóa {args.kid.upper()}", f"key {args.kid.upper()} retired"))
            found = await keystore.jwks(conn, conference)
        except Problem as problem:
            return report_problem(problem)
    zone = conference["timezone"]
    columns = [
        Column("kid", "mã khóa", "kid"),
        Column("signing", "vai trò", "use", show=_key_use),
        Column("created_at", "tạo lúc", "created", show=lambda v: when(v, zone)),
    ]
    Listing(columns, args.format).write(found["keys"])
    return 0


def _key_use(signing: bool) -> str:
    return t("đang ký", "signing") if signing else t("chỉ xác minh", "verifying")

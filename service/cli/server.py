"""`diemcau serve` and `diemcau migrate`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import gc
import logging
import multiprocessing
import os
import resource
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import replace

from aiohttp import web

from diemcau.app import create_app
from diemcau.appkeys import METRICS, WORKER_SEAT
from diemcau.cli.common import database, load_config, positive_int
from diemcau.cli.say import count, t, text, when
from diemcau.config import Config
from diemcau.db import connect, resolve_dsn
from diemcau.logs import setup_logging
from diemcau.migrate import migrate
from diemcau.supervisor import GIVE_UP_AFTER, Seat, Supervisor

log = logging.getLogger("diemcau.serve")
OPEN_FILES_CAP = 1 << 20  # the soft limit wanted when the hard one is unlimited
OPEN_FILES_WANTED = 16_384  # below this, say that the sockets a worker holds are capped
# A check-in batch makes tens of objects a scan, nearly all freed at once by reference
# counting; at Python's default threshold (700) the cyclic collector still ran about
# every 50 scans and took 6-12 µs of a batch's 50-65 µs a scan. Young collections every
# 50,000 net new objects instead, and the objects made at startup frozen out of them.
GC_YOUNG = 50_000
BACKLOG = 1024  # connections the kernel holds for a worker while it is busy


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help=t("chạy dịch vụ", "run the service"))
    serve.add_argument(
        "--host",
        help=t(
            "địa chỉ lắng nghe (mặc định DIEMCAU_HOST, 127.0.0.1)",
            "address to listen on (default DIEMCAU_HOST, 127.0.0.1)",
        ),
    )
    serve.add_argument(
        "--port",
        type=positive_int,
        help=t("cổng (mặc định PORT, 8080)", "port (default PORT, 8080)"),
    )
    serve.add_argument(
        "--workers",
        type=positive_int,
        help=t(
            "số tiến trình xử lý (mặc định DIEMCAU_WORKERS, 1)",
            "worker processes (default DIEMCAU_WORKERS, 1)",
        ),
    )
    serve.set_defaults(func=run_serve)

    mig = sub.add_parser(
        "migrate",
        help=t(
            "áp dụng các bản chuyển đổi cơ sở dữ liệu rồi thoát",
            "apply the database migrations and exit",
        ),
    )
    mig.set_defaults(func=lambda a: asyncio.run(_migrate()))


async def _migrate() -> int:
    async with database(load_config()) as conn:
        # `database()` has migrated already; say what the database holds now.
        rows = await conn.fetch("SELECT name, applied_at FROM schema_migrations ORDER BY version")
    for r in rows:
        print(f"{r['name']}  {t('áp dụng lúc', 'applied')} {when(r['applied_at'])}")
    return 0


def _options(args: argparse.Namespace) -> Config:
    config = Config.from_env()
    # `is not None`: argparse has refused 0 already (positive_int); nothing is dropped here.
    overrides = {
        k: getattr(args, k) for k in ("host", "port", "workers") if getattr(args, k) is not None
    }
    return replace(config, **overrides)


def _bind(host: str, port: int, reuse_port: bool, listen: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SystemExit(
                "diemcau: "
                + t(
                    f"cổng {port} trên {host} đang có chương trình khác dùng "
                    "(một `diemcau serve` khác đang chạy? chọn cổng khác bằng --port)",
                    f"port {port} on {host} is already in use "
                    "(is another `diemcau serve` running? choose another with --port)",
                )
            ) from None
        raise
    if listen:
        sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def _run_worker(
    config: Config, sock: socket.socket | None = None, seat: Seat | None = None
) -> None:
    setup_logging(config.log_level)
    app = create_app(config)
    if seat is not None:
        # Its own process group: a Ctrl-C in the terminal reaches the master alone, which
        # passes one SIGTERM on (a second signal would cut the graceful shutdown short).
        os.setpgid(0, 0)
        app[WORKER_SEAT] = seat
        app[METRICS].watch_workers(seat)
        app.cleanup_ctx.append(_master_watch)
    if sock is None:
        # Bound, not listening: the kernel sends a SO_REUSEPORT port's connections to
        # listening sockets only, so a worker takes none (they would wait unanswered)
        # until its app has started and aiohttp listens.
        sock = _bind(config.host, config.port, reuse_port=True, listen=False)
    app.on_startup.append(_tune_gc)  # after the app's own startup (pools, caches)
    web.run_app(app, sock=sock, access_log=None, print=None, shutdown_timeout=10, backlog=BACKLOG)


async def _master_watch(app: web.Application) -> AsyncIterator[None]:
    """Tell the master this worker serves (its app has started); stop when the master is
    gone (killed), rather than serve unsupervised."""
    seat = app[WORKER_SEAT]
    master = seat.view().master_pid
    seat.serving()

    async def watch() -> None:
        while True:
            await asyncio.sleep(1)
            if os.getppid() != master:
                break
        log.warning("master process gone; worker stopping", extra={"master_pid": master})
        os.kill(os.getpid(), signal.SIGTERM)

    task = asyncio.create_task(watch())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _tune_gc(app: web.Application) -> None:
    """The cyclic collector for a worker: rarer young collections, and the objects of
    startup (modules, models, routes) kept out of every collection from now on."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG, older, oldest)


def raise_open_files() -> int:
    """The soft limit on open files raised to the hard one; answers the limit in force.

    Every kiosk and dashboard websocket holds a file descriptor for as long as it is
    open, and a common soft limit is 1,024: at that many, accept() fails with EMFILE
    and asyncio stops accepting for a second at a time. Workers inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, OPEN_FILES_CAP)
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):  # the kernel's own cap (nr_open) is lower
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _warn_open_files(limit: int) -> None:
    if limit < OPEN_FILES_WANTED:
        log.warning(
            "few open files allowed: each worker holds at most this many sockets",
            extra={"open_files": limit, "raise_with": "ulimit -n (or LimitNOFILE= in systemd)"},
        )


def run_serve(args: argparse.Namespace) -> int:
    config = _options(args)
    setup_logging(config.log_level)
    _warn_open_files(raise_open_files())
    # Refuse a busy port before starting anything, so the error is the first thing seen.
    probe = _bind(config.host, config.port, reuse_port=config.workers > 1)
    dsn, embedded = resolve_dsn(config)
    code = 0
    if embedded is not None:
        embedded.watch()  # started again if it stops while we serve
    try:
        asyncio.run(_apply_migrations(dsn))
        config = replace(config, database_url=dsn)
        log.info(
            "diemcau serving",
            extra={
                "url": f"http://{config.host}:{config.port}",
                "workers": config.workers,
                "config": config.describe(),
            },
        )
        print(_listening(config), file=sys.stderr)
        if config.workers == 1:
            _run_worker(config, probe)
        else:
            probe.close()
            code = _run_workers(config)
    finally:
        if embedded is not None:
            left = embedded.stop()  # "stopped" only when this process did stop it
            print(f"diemcau: {text(left.message)}", file=sys.stderr)
    return code


def _listening(config: Config) -> str:
    """The start-up lines: where the service is, where its API is described, how to stop."""
    url = f"http://{config.host}:{config.port}"
    workers = count(config.workers, "tiến trình", "worker")
    return "diemcau: " + t(
        f"đang phục vụ tại {url} ({workers}); tài liệu API: {url}/api/docs; Ctrl-C để dừng",
        f"listening on {url} ({workers}); API docs: {url}/api/docs; Ctrl-C stops",
    )


async def _apply_migrations(dsn: str) -> None:
    conn = await connect(dsn)
    try:
        for name in await migrate(conn):
            print(f"diemcau: {t('đã áp dụng', 'applied migration')} {name}", file=sys.stderr)
        if not await conn.fetchval("SELECT count(*) FROM tokens WHERE revoked_at IS NULL"):
            # A new installation: tell the person at the terminal how to get in.
            print(
                "diemcau: "
                + t(
                    "chưa có mã truy cập nào; tạo mã đầu tiên bằng\n"
                    "         diemcau token create --role organiser --label <tên bạn>",
                    "no access token exists yet; create the first with\n"
                    "         diemcau token create --role organiser --label <your name>",
                ),
                file=sys.stderr,
            )
    finally:
        await conn.close()


def _run_workers(config: Config) -> int:
    """N processes on one SO_REUSEPORT port, kept alive by a Supervisor; its exit status."""
    ctx = multiprocessing.get_context("spawn")
    supervisor = Supervisor(ctx, _run_worker, (config, None), config.workers)
    code = supervisor.run()
    if code:
        print(
            "diemcau: "
            + t(
                f"không giữ được tiến trình xử lý nào chạy ({GIVE_UP_AFTER} lần khởi động "
                "hỏng liên tiếp mỗi tiến trình); dừng dịch vụ. Xem nhật ký ở trên.",
                f"no worker stays up ({GIVE_UP_AFTER} failed starts in a row each); "
                "stopping. See the log above.",
            ),
            file=sys.stderr,
        )
    return code

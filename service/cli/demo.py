"""`diemcau demo`: a Lai Châu–sized session brought to life on this machine.

The embedded PostgreSQL is started (or joined) as `diemcau serve` does; the real
`diemcau serve` runs as a child process on it; the demo builds the registry, the
conference and the roster through the API, prints where to watch and how to join, then
plays the morning through the API (`diemcau.demo.morning`) and prints the
reconciliation. The service keeps serving afterwards until Ctrl-C (`--exit` stops at the
end of the morning). Ctrl-C at any moment stops the simulation, the service and the
PostgreSQL the demo started, in that order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from diemcau.cli.common import positive_int
from diemcau.cli.say import count, err, language, t
from diemcau.cli.server import _apply_migrations, _bind
from diemcau.cli.tokens import dashboard_url
from diemcau.config import Config
from diemcau.db import connect, resolve_dsn
from diemcau.demo import build, report
from diemcau.demo.morning import play
from diemcau.demo.plan import make_plan, truth
from diemcau.logs import setup_logging
from diemcau.sites.client import ApiError, Client

CONFERENCE = "DEMO-LC"
NATIONAL = (40_000, 2_500_000)


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo",
        help=t(
            "chạy thử một hội nghị cỡ Lai Châu: dịch vụ, bảng trực tiếp, buổi sáng mô phỏng",
            "a Lai Châu-sized session: the service, the live board, a simulated morning",
        ),
    )
    demo.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help=t(
            "tốc độ: 1 = buổi sáng trong 4 phút, 60 = trong 4 giây",
            "speed: 1 = the morning in 4 minutes, 60 = in 4 seconds",
        ),
    )
    demo.add_argument(
        "--seed", type=int, default=2021, help=t("hạt giống ngẫu nhiên", "random seed")
    )
    demo.add_argument(
        "--sites", type=positive_int, default=145, help=t("số điểm cầu", "bridge points")
    )
    demo.add_argument(
        "--delegates", type=positive_int, default=11_873, help=t("số đại biểu", "delegates")
    )
    demo.add_argument("--host", help=t("địa chỉ lắng nghe", "address to listen on"))
    demo.add_argument(
        "--port",
        type=positive_int,
        help=t("cổng (mặc định PORT, 8080)", "port (default PORT, 8080)"),
    )
    demo.add_argument(
        "--exit",
        action="store_true",
        help=t(
            "dừng khi hết buổi sáng (mặc định: dịch vụ chạy tiếp đến khi Ctrl-C)",
            "stop when the morning is over (default: serve on until Ctrl-C)",
        ),
    )
    demo.add_argument(
        "--summary",
        type=Path,
        help=t(
            "ghi số liệu thật của mô phỏng và số API trả về ra tệp JSON",
            "write the simulation's ground truth and the API's figures to a JSON file",
        ),
    )
    demo.set_defaults(func=run_demo)


def _config(args: argparse.Namespace) -> Config:
    config = Config.from_env()
    overrides = {k: getattr(args, k) for k in ("host", "port") if getattr(args, k) is not None}
    return replace(config, workers=1, **overrides)


def _check(args: argparse.Namespace) -> str | None:
    if not 0 < args.speed <= 1000:
        return t("--speed phải lớn hơn 0, tối đa 1000", "--speed must be above 0, at most 1000")
    if args.sites > NATIONAL[0] or args.delegates > NATIONAL[1]:
        return t(
            "tối đa 40.000 điểm cầu và 2.500.000 đại biểu (cỡ toàn quốc)",
            "at most 40,000 sites and 2,500,000 delegates (the national case)",
        )
    if args.sites < 10 or args.delegates < 10 * args.sites:
        return t(
            "cần ít nhất 10 điểm cầu và 10 đại biểu mỗi điểm cầu",
            "at least 10 sites and 10 delegates a site are needed",
        )
    return None


def run_demo(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem:
        err(f"diemcau demo: {problem}")
        return 2
    config = _config(args)
    setup_logging("WARNING")
    _bind(config.host, config.port, reuse_port=False).close()  # a busy port, said first
    err(
        t("Khởi động PostgreSQL đi kèm ...", "Starting the embedded PostgreSQL ...")
        if not config.database_url
        else t("Dùng DATABASE_URL ...", "Using DATABASE_URL ...")
    )
    dsn, embedded = resolve_dsn(config)
    service: subprocess.Popen[bytes] | None = None
    try:
        asyncio.run(_apply_migrations(dsn))
        service = _start_service(config, dsn)
        return asyncio.run(_main(args, config, dsn, service))
    except KeyboardInterrupt:
        return 130
    finally:
        _stop(service)
        if embedded is not None:
            embedded.stop()
            err("diemcau: " + t("đã dừng PostgreSQL đi kèm", "embedded PostgreSQL stopped"))


def _log_path(config: Config) -> Path:
    path = Path(config.data_dir) / "demo" / "serve.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _start_service(config: Config, dsn: str) -> subprocess.Popen[bytes]:
    """The real `diemcau serve`, in its own session (Ctrl-C reaches the demo, which stops
    it in order), its log in a file."""
    env = {**os.environ, "DATABASE_URL": dsn, "DIEMCAU_LOG_LEVEL": "WARNING"}
    log = _log_path(config)
    err(t(f"Khởi động dịch vụ (nhật ký: {log}) ...", f"Starting the service (log: {log}) ..."))
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "diemcau", "serve", "--host", config.host,
             "--port", str(config.port), "--workers", "1"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def _stop(service: subprocess.Popen[bytes] | None) -> None:
    if service is None or service.poll() is not None:
        return
    service.send_signal(signal.SIGTERM)
    try:
        service.wait(timeout=30)
    except subprocess.TimeoutExpired:
        service.kill()
        service.wait()
    err("diemcau: " + t("đã dừng dịch vụ", "service stopped"))


async def _main(
    args: argparse.Namespace, config: Config, dsn: str, service: subprocess.Popen[bytes]
) -> int:
    """The demo's work, cancelled by Ctrl-C or SIGTERM (then everything is stopped)."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await _healthy(config, service)
        return await _demo(args, config, dsn)
    except asyncio.CancelledError:
        err(t("\nĐang dừng ...", "\nStopping ..."))
        return 130
    except ApiError as failure:
        # The service refused a step, or went away: say which, and where its log is.
        failure.print()
        err(
            t(
                f"nhật ký của dịch vụ: {_log_path(config)}",
                f"the service's log: {_log_path(config)}",
            )
        )
        return 1


async def _healthy(config: Config, service: subprocess.Popen[bytes], within: float = 90) -> None:
    """Wait for the child's /healthz; a child that exits or never answers ends the demo."""
    base = f"http://{_local(config)}:{config.port}"
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline and service.poll() is None:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.3)
    log = _log_path(config)
    raise SystemExit(
        "diemcau demo: "
        + t(f"dịch vụ không khởi động được; xem {log}", f"the service did not start; see {log}")
    )


def _local(config: Config) -> str:
    return "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host


async def _demo(args: argparse.Namespace, config: Config, dsn: str) -> int:
    base = f"http://{_local(config)}:{config.port}"
    plan = await asyncio.to_thread(make_plan, args.sites, args.delegates, args.seed)
    err(t(f"Kế hoạch: {count(len(plan.sites), 'điểm cầu', 'site')}, {count(len(plan.people), 'đại biểu', 'delegate')}, hạt giống {args.seed}",
          f"Plan: {count(len(plan.sites), 'điểm cầu', 'site')}, {count(len(plan.people), 'đại biểu', 'delegate')}, seed {args.seed}"))  # fmt: skip
    conn = await connect(dsn)
    try:
        organiser = await build.organiser_token(conn)
        async with Client(base, organiser, language()) as api:
            ready = await _build(api, conn, config, plan)
            await report.invitation(config, ready)
            morning = await play(
                api, base, plan, ready.conference, ready.codes, ready.tokens, args.speed, _say
            )
            figures = await report.ending(api, plan, morning)
    finally:
        await conn.close()
    if args.summary:
        args.summary.write_text(
            json.dumps({"truth": truth(plan), **figures}, ensure_ascii=False, indent=1)
        )
    if not args.exit:
        err(t(f"\nDịch vụ vẫn chạy tại {base}; Ctrl-C để dừng.", f"\nThe service is still running at {base}; Ctrl-C stops it."))  # fmt: skip
        await asyncio.Event().wait()
    return 0


def _say(vi: str, en: str) -> None:
    err(t(vi, en))


async def _build(api: Client, conn: Any, config: Config, plan: Any) -> build.Ready:
    return await build.everything(api, conn, config, plan, CONFERENCE, err, dashboard_url)

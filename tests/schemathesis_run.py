"""The API keeps its own contract: schemathesis against a live `diemcau serve`.

Starts the service as a user does (its own embedded PostgreSQL in a temporary data dir),
builds a small world through the CLI and the API (units, sites, a conference with its
sites and delegates; an organiser, a technician, a kiosk and a viewer token), then runs
schemathesis over every operation `/api/openapi.json` lists, with every check on, seeded
and bounded in time. Each request carries the token of a role its operation admits
(tests/schemathesis_hooks.py), so requests reach the handlers; schemathesis also sends
them without one (its `ignored_auth` check). Exit status: schemathesis's.

    python tests/schemathesis_run.py [--seed 20] [--max-time 120] [--max-examples 40]

Called by `.ci/run` after the test suite; needs only the `test` extra installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SITES = ("ST-01", "ST-02", "ST-03")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """`diemcau serve` on a data dir of its own, and the CLI beside it."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        self.env |= {"DIEMCAU_DATA_DIR": str(data_dir), "DIEMCAU_LANGUAGE": "en"}
        self.env["DIEMCAU_LOG_LEVEL"] = "WARNING"
        self.log = open(log, "wb")  # closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "diemcau", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=self.log,
            stderr=self.log,
        )

    def wait_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"diemcau serve exited early ({self.proc.returncode})")
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"diemcau serve did not answer in {seconds} s")

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "diemcau", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"diemcau {' '.join(args)} failed: {done.stderr}")
        return done.stdout.strip()

    def call(
        self, method: str, path: str, token: str | None = None, body: Any = None, media: str = ""
    ) -> tuple[int, Any]:
        data = None
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if isinstance(body, bytes):
            data, headers["Content-Type"] = body, media
        elif body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        req = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def _must(answer: tuple[int, Any], *ok: int) -> Any:
    status, body = answer
    if status not in ok:
        raise SystemExit(f"building the world failed: {status} {body}")
    return body


def build_world(service: Service) -> dict[str, str]:
    """The units, sites, conference and delegates the run works on; a token per role."""
    organiser = service.cli("token", "create", "--role", "organiser", "--label", "schemathesis")
    units = [("ST-VN", "national", None), ("ST-P", "province", "ST-VN")]
    for code, level, parent in units:
        unit = {"code": code, "name": f"Đơn vị {code}", "level": level, "parent_code": parent}
        _must(service.call("POST", "/api/v1/units", organiser, unit), 201)
    for code in SITES:
        site = {"code": code, "name": f"Điểm cầu {code}", "unit_code": "ST-P", "level": "commune"}
        _must(service.call("POST", "/api/v1/sites", organiser, site | {"capacity": 200}), 201)
    conference = {
        "code": "ST-HN",
        "title": "Hội nghị thử",
        "starts_at": "2030-01-10T08:00:00+07:00",
        "ends_at": "2030-01-10T11:00:00+07:00",
        "host_site": SITES[0],
        "sites": list(SITES),
        "targets": {"member": 0.98, "non_member": 0.9},
    }
    _must(service.call("POST", "/api/v1/conferences", organiser, conference), 201)
    roster = "external_id,full_name,category,site_code\n" + "".join(
        f"D{n:03d},Nguyễn Văn {n},{('member', 'non_member', 'guest')[n % 3]},{SITES[n % 3]}\n"
        for n in range(30)
    )
    path = "/api/v1/conferences/ST-HN/delegates/import"
    _must(service.call("POST", path, organiser, roster.encode(), "text/csv"), 200, 201)
    token = ("token", "create", "--label", "schemathesis")
    return {
        "organiser": organiser,
        "technician": service.cli(*token, "--role", "technician", "--unit", "ST-P"),
        "kiosk": service.cli(
            *token, "--role", "kiosk", "--conference", "ST-HN", "--site", SITES[0]
        ),
        "viewer": service.cli(*token, "--role", "viewer", "--conference", "ST-HN"),
    }


def schemathesis(
    service: Service, tokens: dict[str, str], args: argparse.Namespace, workdir: Path
) -> int:
    st = Path(sys.executable).parent / "st"
    if not st.exists():
        st = Path(shutil.which("st") or "st")
    env = service.env | {
        "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks",
        "DIEMCAU_ST_TOKENS": json.dumps(tokens),
        "PYTHONPATH": str(ROOT),
    }
    command = [
        str(st),
        "--config-file",
        str(ROOT / "tests" / "schemathesis.toml"),
        "run",
        f"{service.url}/api/openapi.json",
        "--seed",
        str(args.seed),
        "--max-time",
        str(args.max_time),
        "--max-examples",
        str(args.max_examples),
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--no-color",
        # Seeded and nothing remembered between runs: each run is the same walk.
        "--generation-database",
        "none",
    ]
    print("running:", " ".join(command), flush=True)
    # In the temporary dir: schemathesis leaves a `.schemathesis/` folder where it runs.
    return subprocess.run(command, env=env, cwd=workdir, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--max-time", type=int, default=120, help="seconds for schemathesis")
    parser.add_argument("--max-examples", type=int, default=40, help="cases per operation")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and the log")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="diemcau-schemathesis-"))
    os.chmod(root, 0o755)  # as root, the embedded PostgreSQL runs as its own user
    service = Service(root / "var", root / "serve.log")
    try:
        service.wait_ready()
        tokens = build_world(service)
        return schemathesis(service, tokens, args, root)
    finally:
        service.stop()
        log = (root / "serve.log").read_text(errors="replace")
        errors = [line for line in log.splitlines() if '"level": "error"' in line]
        if errors:
            print(f"the service logged {len(errors)} errors; the first:\n" + "\n".join(errors[:5]))
        if args.keep:
            print("kept:", root)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

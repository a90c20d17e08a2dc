"""The ceilings the check-in path is compared with: aiohttp answering without a database.

    python -m bench.checkin_ceiling --port P --workers W --mode json --template FILE

`json`: POST /api/v1/checkins and WS /ws/kiosk parse the scans and answer each with the
result in FILE (a real answer of the service, so the same shape and size) under the
scan's own scan_id, serialised as the service does: what aiohttp and JSON cost alone.
`bare`: the same answers sent without parsing the request (the batch id is read with a
regular expression), so the load generator meets a server that does almost nothing:
its own ceiling. Workers share the port (SO_REUSEPORT) like `diemcau serve --workers`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import socket
from typing import Any

import orjson
from aiohttp import WSMsgType, web

_BATCH_ID = re.compile(r'"id":\s*(\d+)')


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()  # as the check-in handlers answer


class Answers:
    """The answers to n scans, made from one real result."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template
        self._bare: dict[int, str] = {}

    def results(self, scans: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**self.template, "scan_id": s.get("scan_id")} for s in scans]

    def bare(self, n: int) -> str:
        """`n` results as JSON text, made once per n."""
        if n not in self._bare:
            self._bare[n] = dumps([self.template] * n)
        return self._bare[n]


def make_app(mode: str, answers: Answers) -> web.Application:
    single = dumps({"results": [answers.template]})

    async def post_checkins(request: web.Request) -> web.Response:
        body = await request.read()
        if mode == "bare":
            return web.Response(text=single, content_type="application/json")
        scans = orjson.loads(body)["scans"]
        text = orjson.dumps({"results": answers.results(scans)})
        return web.Response(body=text, content_type="application/json")

    async def ws_kiosk(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(_ws_answer(mode, answers, msg.data))
        return ws

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/api/v1/checkins", post_checkins)
    app.router.add_get("/ws/kiosk", ws_kiosk)
    app.router.add_get("/healthz", healthz)
    return app


def _ws_answer(mode: str, answers: Answers, text: str) -> str:
    if mode == "bare":
        found = _BATCH_ID.search(text[:64])
        ident = found.group(1) if found else "null"
        made = answers.bare(text.count('"scan_id"'))
        return f'{{"type":"results","id":{ident},"results":{made}}}'
    data = orjson.loads(text)
    results = answers.results(data["scans"])
    return dumps({"type": "results", "id": data.get("id"), "results": results})


def _bind(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    return sock


def _serve(port: int, mode: str, template: dict[str, Any]) -> None:
    app = make_app(mode, Answers(template))
    web.run_app(app, sock=_bind(port), access_log=None, print=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--mode", choices=["json", "bare"], default="json")
    parser.add_argument("--template", required=True, help="JSON file: one result")
    args = parser.parse_args()
    with open(args.template, encoding="utf-8") as fh:
        template = json.load(fh)
    if args.workers == 1:
        _serve(args.port, args.mode, template)
        return
    # Each worker binds the port itself (SO_REUSEPORT), as `diemcau serve` workers do,
    # so the kernel spreads the connections the same way.
    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(target=_serve, args=(args.port, args.mode, template))
        for _ in range(args.workers)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()

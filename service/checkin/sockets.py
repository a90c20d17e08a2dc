"""The open kiosk websockets of one worker, by kiosk and by site: whom to close when a
kiosk is revoked, whom to nudge when a site's roster changes."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from diemcau.checkin.records import Kiosk

if TYPE_CHECKING:
    from aiohttp.web import WebSocketResponse


class KioskSockets:
    """The open kiosk sockets of this worker, by kiosk and by site."""

    def __init__(self) -> None:
        self.by_token: dict[int, set[WebSocketResponse]] = defaultdict(set)
        self.by_site: dict[tuple[int, int], set[WebSocketResponse]] = defaultdict(set)
        self.versions: dict[tuple[int, int], int] = {}

    def add(self, kiosk: Kiosk, ws: WebSocketResponse) -> None:
        self.by_token[kiosk.token_id].add(ws)
        self.by_site[(kiosk.conference_id, kiosk.site_id)].add(ws)

    def remove(self, kiosk: Kiosk, ws: WebSocketResponse) -> None:
        self.by_token[kiosk.token_id].discard(ws)
        if not self.by_token[kiosk.token_id]:
            del self.by_token[kiosk.token_id]
        site = (kiosk.conference_id, kiosk.site_id)
        self.by_site[site].discard(ws)
        if not self.by_site[site]:
            del self.by_site[site]

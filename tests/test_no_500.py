"""No input gives a 500: every operation of `/api/openapi.json` is walked with hostile
values in every path parameter, query parameter and JSON body field, with a token of every
role, and each answer must be a success or a problem+json under 500.

The walk reads the served document, so a route added later is walked the day it lands.
Valid-looking values (the baseline a hostile value is put into) come from the schema, with
a few hints by field name so that requests get past the first check and deep into the
handlers. Websocket routes are walked as handshakes only. Each hostile case runs once, with
the route's roles taken in turn, so the walk stays within seconds.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from itertools import cycle
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from aiohttp import web

from diemcau.appkeys import ENROLL_GUARD
from diemcau.config import Config
from diemcau.errors import CODES
from diemcau.ratelimit import FailureGuard
from tests.factory import Factory, bearer

PROBLEM = "application/problem+json"

# Text that has broken, or could break, a service: NUL and other controls (PostgreSQL
# refuses NUL), digits Python reads but no id has, very long, empty, signs, wildcards.
HOSTILE_TEXT = [
    "\x00",
    "a\x00b",
    "\x01\x1b[2J",
    "\x7f",
    "\x85",
    "\n",
    "\t",
    "x" * 5000,
    "²",
    "٣٤",
    "１２",
    "",
    " ",
    "-1",
    "99999999999999999999999999",
    "0",
    "%",
    "_",
    "'\";--",
    "\u202e",
    "😀",
]
# JSON values beyond text: every type in the wrong place, extremes, and deep nesting.
HOSTILE_JSON: list[Any] = [
    *HOSTILE_TEXT,
    "\ud800",
    "x" * 200_000,
    None,
    True,
    -1,
    2**31,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    1e308,
    -1e308,
    float("inf"),  # sent as 1e309, which JSON readers take as infinity
    0.5,
    # Times at the edges of what Python and PostgreSQL hold, and one that does not exist.
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59",
    "2030-02-30T08:00:00",
    [],
    {},
    ["x"],
    {"x": "y"},
    json.loads("[" * 64 + "]" * 64),
    json.loads('{"a": ' * 64 + "1" + "}" * 64),
]


def _cursor(key: str) -> str:
    raw = json.dumps({"after": key}, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Cursors that decode (they are made the service's way) to keys it never hands out.
FORGED_CURSORS = [_cursor(k) for k in ("²", "٣", "9" * 30, "-1", "\x00", "", "x" * 5000)]
# Whole bodies that are no JSON object at all.
HOSTILE_BODIES = [
    b"",
    b"null",
    b"[]",
    b'"x"',
    b"0",
    b"{",
    b"\xff\xfe\x00",
    b"[" * 100_000,
    b'{"a": ' * 50_000,
    b'{"a": NaN}',
    b'{"a": 1' + b"0" * 5000 + b"}",
    b'{"\\u0000": 1, "\\ud800": 2}',
]
# Files for the imports: what the request layer must survive (the contents' own rules
# are the imports' tests).
HOSTILE_FILES = [
    b"",
    b"\x00",
    b"a,b\n\x00,\x01\n",
    b"\xef\xbb\xbf\n\n",
    b"PK\x03\x04" + bytes(64),
]
# A valid-looking value by field name; anything else comes from the schema alone.
HINTS: dict[str, Any] = {
    "code": "NEW-1",
    "name": "Điểm cầu mới",
    "title": "Hội nghị",
    "level": "commune",
    "parent_code": "LC",
    "unit_code": "LC",
    "site_code": "S-LC",
    "host_site": "S-LC",
    "sites": ["S-LC", "S-TD"],
    "site": "S-LC",
    "starts_at": "2030-01-10T08:00:00+07:00",
    "ends_at": "2030-01-10T11:00:00+07:00",
    "checkin_opens_at": "2030-01-10T07:00:00+07:00",
    "timezone": "Asia/Ho_Chi_Minh",
    "phone": "0912345678",
    "email": "a@example.vn",
    "category": "member",
    "external_id": "NEW-1",
    "full_name": "Nguyễn Văn An",
    "protocol": "sip",
    "uri": "sip:a@example.vn",
}
# A fresh UUID in every request (a scan_id used twice is a conflict, not a new scan).
FRESH_UUID = "<fresh uuid>"
FORMATS = {
    "date-time": "2030-01-10T08:00:00+07:00",
    "date": "2030-01-10",
    "uuid": FRESH_UUID,
}


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # with its query string, already encoded
    who: str
    body: bytes | None = None
    media: str = "application/json"
    websocket: bool = False

    def __str__(self) -> str:
        shown = self.body if self.body is None or len(self.body) < 120 else self.body[:120] + b"..."
        return f"{self.method} {self.path[:300]} as {self.who}, body {shown!r}"


class Schemas:
    """JSON-schema lookups in the served document ($ref, anyOf)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.components = doc["components"]["schemas"]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        for key in ("anyOf", "oneOf"):
            branches = [b for b in schema.get(key, ()) if self.resolve(b).get("type") != "null"]
            if branches:
                return self.resolve(branches[0])
        return schema

    def example(
        self, schema: dict[str, Any], name: str | None = None, depth: int = 0, variant: int = 0
    ) -> Any:
        """A valid-looking value for this schema (every property of an object filled);
        `variant` picks another value of each enum (a scan's `method`: qr, manual, walk_in)."""
        if name in HINTS:
            return copy.deepcopy(HINTS[name])
        s = self.resolve(schema)
        if "enum" in s or "const" in s:
            choices = s.get("enum", [s.get("const")])
            return choices[variant % len(choices)]
        kind = s.get("type")
        if kind == "object" or "properties" in s:
            props = s.get("properties", {}) if depth < 4 else {}
            return {k: self.example(v, k, depth + 1, variant) for k, v in props.items()}
        if kind == "array":
            return [self.example(s.get("items", {}), None, depth + 1, variant)]
        if kind == "integer":
            return max(int(s.get("minimum", 1)), 1)
        if kind == "number":
            return 0.5
        if kind == "boolean":
            return True
        return FORMATS.get(s.get("format", ""), "x1")


def locations(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a body where a value sits (object members and first array items)."""
    if isinstance(value, dict):
        for key, member in value.items():
            yield (*here, key)
            yield from locations(member, (*here, key))
    elif isinstance(value, list) and value:
        yield (*here, 0)
        yield from locations(value[0], (*here, 0))


def replaced(body: Any, where: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(body)
    target = out
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = value
    return out


def encode(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=True).replace("Infinity", "1e309")
    while FRESH_UUID in text:
        text = text.replace(FRESH_UUID, str(uuid.uuid4()), 1)
    return text.encode()


@dataclass
class Operation:
    """One operation of the document, with the valid-looking values to start from."""

    template: str
    method: str
    websocket: bool
    path: dict[str, str]  # path parameter -> value
    query: dict[str, str]  # the required query parameters -> value
    query_names: list[str]
    bodies: list[Any]  # the JSON body in a few variants; [] when it takes none
    files: list[str]  # media types of a raw body (imports)
    turn: Iterator[str]  # whose token the next hostile request carries

    def case(
        self,
        who: str | None = None,
        path: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        raw: bytes | None = None,
        media: str = "application/json",
    ) -> Case:
        url = self.template
        for name, value in (path or self.path).items():
            url = url.replace("{" + name + "}", quote(value, safe=""))
        if query or self.query:
            url += "?" + urlencode(query or self.query, quote_via=quote)
        return Case(self.method, url, who or next(self.turn), raw, media, self.websocket)

    def baseline(self, who: str | None = None) -> Case:
        if self.bodies:
            return self.case(who, raw=encode(self.bodies[0]))
        if self.files:
            return self.case(who, raw=HOSTILE_FILES[2], media=self.files[0])
        return self.case(who)

    def hostile(self) -> Iterator[Case]:
        """One hostile value at a time: path, query, each body field, whole bodies, files."""
        first = self.baseline("nobody")
        for name in self.path:
            for text in HOSTILE_TEXT:
                yield self.case(path={**self.path, name: text}, raw=first.body, media=first.media)
        for name in self.query_names:
            for text in HOSTILE_TEXT + (FORGED_CURSORS if name == "cursor" else []):
                q = {**self.query, name: text}
                yield self.case(query=q, raw=first.body, media=first.media)
        if self.bodies:
            for where in locations(self.bodies[0]):
                for n, value in enumerate(HOSTILE_JSON):
                    body = replaced(self.bodies[n % len(self.bodies)], where, value)
                    yield self.case(raw=encode(body))
            for raw in HOSTILE_BODIES:
                yield self.case(raw=raw)
        for media in self.files:
            for raw in HOSTILE_FILES:
                yield self.case(raw=raw, media=media)
            yield self.case(raw=HOSTILE_FILES[2], media="image/png")


class Walk:
    """The requests for each operation: every role once, then one hostile value at a time
    with the operation's roles taken in turn."""

    def __init__(self, schemas: Schemas, known: dict[Any, str], principals: dict[str, Any]):
        self.schemas = schemas
        self.known = known
        self.principals = principals

    def path_values(self, template: str) -> dict[str, str]:
        values, previous = {}, ""
        for part in template.split("/"):
            if part.startswith("{") and part.endswith("}"):
                name = part[1:-1]
                values[name] = self.known.get((previous, name)) or self.known.get(name, "X1")
            previous = part
        return values

    def operation(self, template: str, method: str, op: dict[str, Any]) -> Operation:
        roles = op.get("x-roles", [])
        allowed = [w for w, p in self.principals.items() if "anyone" in roles or p[0] in roles]
        params = [p for p in op.get("parameters", []) if p["in"] == "query"]
        content = op.get("requestBody", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        return Operation(
            template=template,
            method=method.upper(),
            websocket="101" in op.get("responses", {}),
            path=self.path_values(template),
            query={
                p["name"]: str(self.schemas.example(p.get("schema", {}), p["name"]))
                for p in params
                if p.get("required")
            },
            query_names=[p["name"] for p in params],
            bodies=[self.schemas.example(schema, variant=v) for v in range(3)] if schema else [],
            files=[m for m in content if m != "application/json"],
            turn=cycle(allowed or list(self.principals)),
        )

    def cases(self, template: str, method: str, op: dict[str, Any]) -> Iterator[Case]:
        operation = self.operation(template, method, op)
        for who in self.principals:  # every role once, allowed or not
            yield operation.baseline(who)
        yield from operation.hostile()


async def check(client: Any, case: Case, headers: dict[str, str]) -> str | None:
    """What is wrong with the answer to this case, or None."""
    if case.websocket:
        try:
            ws = await client.ws_connect(case.path, headers=headers)
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status >= 500:
                return f"{case}: handshake answered {exc.status}"
            return None
        await ws.close()
        return None
    if case.body is not None:
        headers = {**headers, "Content-Type": case.media}
    resp = await client.request(case.method, case.path, data=case.body, headers=headers)
    text = await resp.text(errors="replace")
    if resp.status >= 500:
        return f"{case}: {resp.status} {text[:300]}"
    if resp.status >= 400:
        if resp.content_type != PROBLEM:
            return f"{case}: {resp.status} as {resp.content_type}, not problem+json"
        problem = json.loads(text)
        if problem.get("code") not in CODES or CODES[problem["code"]].status != resp.status:
            return f"{case}: {resp.status} with code {problem.get('code')!r}"
    return None


@pytest.fixture
def config(config: Config) -> Config:
    # The walk sends a kiosk's requests faster than a kiosk may: not a 429 it wants.
    return replace(config, kiosk_rate=1_000_000)


@pytest.fixture
def app(app: web.Application) -> web.Application:
    # Nor the ten enrollment tries a minute one address gets: the walk sends hundreds.
    app[ENROLL_GUARD] = FailureGuard("enroll", 1_000_000, timedelta(minutes=1))
    return app


@pytest.fixture
async def principals(factory: Factory, tree: None, db: Any) -> dict[str, Any]:
    """The world the walk runs in, and a token for each role (and no token at all)."""
    await factory.site("S-LC", unit="LC")
    await factory.site("S-TD", unit="LC-TD")
    await factory.site("S-HG", unit="HG")
    conference = await factory.conference(
        "HN", sites=["S-LC", "S-TD", "S-HG"], host_site="S-LC", unit="LC"
    )
    for site in ("S-LC", "S-TD", "S-HG"):
        await factory.delegate(conference["id"], site=site, unit="LC")
    return {
        "organiser": ("organiser", await factory.token("organiser")),
        "organiser of LC": ("organiser", await factory.token("organiser", unit="LC")),
        "technician of LC": ("technician", await factory.token("technician", unit="LC")),
        "kiosk": ("kiosk", await factory.token("kiosk", conference="HN", site="S-LC")),
        "viewer": ("viewer", await factory.token("viewer", conference="HN")),
        "nobody": ("anyone", None),
    }


async def test_no_operation_answers_500_to_anything(
    client: Any, principals: dict[str, Any], db: Any
) -> None:
    org = bearer(principals["organiser"][1])
    delegate = await db.fetchval("SELECT min(id) FROM delegates")
    assert (
        await client.get(f"/api/v1/conferences/HN/delegates/{delegate}/qr.png", headers=org)
    ).status == 200
    keys = await (await client.get("/api/v1/conferences/HN/keys", headers=org)).json()
    known = {
        ("units", "code"): "LC",
        ("sites", "code"): "S-LC",
        ("conferences", "code"): "HN",
        "site": "S-LC",
        "id": str(delegate),
        "kid": keys["keys"][0]["kid"],
    }
    doc = await (await client.get("/api/openapi.json")).json()
    walk = Walk(Schemas(doc), known, principals)
    # Deletes last, so the other operations still find what they name.
    order = {"get": 0, "post": 1, "put": 2, "patch": 3, "delete": 4}
    operations = sorted(
        ((path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()),
        key=lambda o: order.get(o[1], 5),
    )
    failures, count = [], 0
    for path, method, op in operations:
        for case in walk.cases(path, method, op):
            token = principals[case.who][1]
            count += 1
            failure = await check(client, case, bearer(token) if token else {})
            if failure:
                failures.append(failure)
    assert count > 1000, count  # the walk really walked
    assert not failures, f"{len(failures)} of {count} requests failed:\n" + "\n".join(failures[:25])

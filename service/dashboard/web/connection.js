// The way to the board: a ticket for the token, the websocket, and a new socket with
// `since` after any drop (0.5 s doubling to 30 s, full jitter), as docs/live.md says.
// The state it reports: connecting, live, behind (the server says it could not confirm
// its view, or nothing came for a while), offline (no socket; the figures held are
// those of `asOf`), auth (no usable token: a person must give one).

const QUIET_BEHIND = 20_000; // a heartbeat comes every 15 s when nothing else does
const QUIET_DEAD = 35_000; // then the link is taken for dead and a new one is opened

export class Live {
  constructor({ conference, unit, token, lang, onMessage, onState }) {
    this.conference = conference;
    this.unit = unit;
    this.token = token;
    this.lang = lang;
    this.onMessage = onMessage;
    this.onState = onState;
    this.seq = null;
    this.ws = null;
    this.delay = 0;
    this.timer = null;
    this.lastMessageAt = 0;
    this.behind = false;
    this.stopped = false;
    this.state = "connecting";
    this.retryAt = null;
    this.serverOffset = 0; // server clock minus ours, from heartbeats
    this.watchdog = setInterval(() => this.watch(), 1000);
    window.addEventListener("online", () => this.now());
    window.addEventListener("offline", () => this.drop());
  }

  async start() {
    this.stopped = false;
    clearTimeout(this.timer);
    this.timer = null;
    this.retryAt = null;
    this.report(this.seq === null ? "connecting" : this.state === "live" ? "live" : "offline");
    // The first view comes over HTTP, gzipped (a whole national board is 13 MB of JSON on
    // the socket, which does not compress, and about 1 MB this way); the socket then
    // resumes from its seq. Its refusals (401, 403, 404) are read here, too.
    if (this.seq === null && !(await this.firstView())) return;
    let ticket;
    try {
      ticket = await this.ticket();
    } catch (err) {
      if (err.fatal) return this.fail(err.fatal, err.detail);
      return this.later();
    }
    const params = new URLSearchParams({ ticket, lang: this.lang });
    if (this.unit) params.set("unit", this.unit);
    if (this.seq !== null) params.set("since", String(this.seq));
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const path = `/ws/conferences/${encodeURIComponent(this.conference)}/live`;
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${location.host}${path}?${params}`);
    } catch {
      return this.later();
    }
    this.ws = ws;
    let heard = false;
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      heard = true;
      once("diemcau:first-message"); // bench/live_page.py: when the first view arrived
      this.delay = 0; // a socket that spoke resets the backoff
      this.lastMessageAt = Date.now();
      if (message.type === "heartbeat") {
        this.behind = Boolean(message.behind);
        if (message.server_time) this.serverOffset = Date.parse(message.server_time) - Date.now();
      } else if (message.type === "snapshot" || message.type === "delta") {
        this.seq = message.seq;
        this.asOf = new Date();
        this.onMessage(message);
      }
      this.report(this.behind ? "behind" : "live");
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this.ws = null;
      if (event.code === 4401) return this.fail("revoked");
      if (!heard) return this.refused();
      this.later();
    };
  }

  // GET .../live: true when the view was taken (or is no newer than ours); false when
  // the token or the conference is refused (said) or the service is away (retried).
  async firstView() {
    let resp;
    try {
      const params = new URLSearchParams({ lang: this.lang });
      if (this.unit) params.set("unit", this.unit);
      resp = await fetch(
        `/api/v1/conferences/${encodeURIComponent(this.conference)}/live?${params}`,
        { headers: { Authorization: `Bearer ${this.token}` }, cache: "no-store" },
      );
      const refusal = { 401: "token_bad", 403: "forbidden", 404: "not_found" }[resp.status];
      if (refusal) {
        this.fail(refusal, resp.status === 401 ? null : await detailOf(resp));
        return false;
      }
      if (!resp.ok) throw new Error(`live ${resp.status}`);
      const view = await resp.json();
      once("diemcau:first-message");
      if (this.seq === null || view.seq > this.seq) {
        this.seq = view.seq;
        this.asOf = new Date();
        this.onMessage({ ...view, type: "snapshot" });
      }
      return true;
    } catch {
      this.later(); // the service is away: retry as for any drop
      return false;
    }
  }

  // A socket refused before its upgrade tells the browser nothing: ask over HTTP why
  // (a 200 is the board itself, taken while the socket is retried).
  async refused() {
    if (await this.firstView()) this.later();
  }

  async ticket() {
    const resp = await fetch("/api/v1/ws-tickets", {
      method: "POST",
      headers: { Authorization: `Bearer ${this.token}`, "Accept-Language": this.lang },
      cache: "no-store",
    });
    if (resp.status === 401) throw { fatal: "token_bad" };
    if (resp.status === 403) throw { fatal: "forbidden", detail: await detailOf(resp) };
    if (!resp.ok) throw new Error(`ticket ${resp.status}`);
    return (await resp.json()).ticket;
  }

  later() {
    if (this.stopped) return;
    this.delay = Math.min(30_000, this.delay ? this.delay * 2 : 500);
    const wait = Math.random() * this.delay;
    this.retryAt = Date.now() + wait;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.start(), wait);
    this.report(this.seq === null ? "connecting" : "offline");
  }

  // The link is gone (the browser says so, or it went quiet): stop waiting for it.
  drop() {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onmessage = ws.onclose = null;
      try {
        ws.close();
      } catch {
        /* already closing */
      }
    }
    if (!this.stopped && !this.timer) this.later();
  }

  // Try again now (the browser is back online, or a person asked).
  now() {
    if (this.stopped) return;
    this.delay = 0;
    if (!this.ws) this.start();
  }

  watch() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.lastMessageAt) {
      const quiet = Date.now() - this.lastMessageAt;
      if (quiet > QUIET_DEAD) return this.drop();
      this.report(quiet > QUIET_BEHIND ? "stale" : this.behind ? "behind" : "live");
    } else if (this.state === "offline" || this.state === "connecting") {
      this.report(this.state); // the countdown to the next try
    }
  }

  fail(reason, detail) {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
    this.reason = reason;
    this.detail = detail || null;
    this.report("auth");
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    this.drop();
  }

  report(state) {
    this.state = state;
    this.onState(this);
  }

  serverNow() {
    return Date.now() + this.serverOffset;
  }
}

async function detailOf(resp) {
  try {
    return (await resp.json()).detail || null;
  } catch {
    return null;
  }
}

function once(name) {
  if (!performance.getEntriesByName(name).length) performance.mark(name);
}

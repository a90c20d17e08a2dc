// The kiosk without its page: enrollment, scans answered offline then confirmed by the
// service, the queue in IndexedDB sent with backoff, the roster kept fresh with ?since=.
// It says what changed through events; ui.js draws.

import { Api } from "./api.js";
import { Verifier, conferenceOf } from "./credential.js";
import { judge, nextSeen } from "./judge.js";
import { newScanId } from "./text.js";

const MAX_BATCH = 500; // the service's limit per POST /api/v1/checkins
const HEARTBEAT_MS = 20_000; // docs/checkin.md: every 15–30 s
const ROSTER_MS = 60_000;
const COUNTS_MS = 30_000;
const BACKOFF_MAX_MS = 60_000;
const KEEP_DONE = 2000;

export class Kiosk extends EventTarget {
  constructor(store) {
    super();
    this.store = store;
    this.api = new Api();
    this.enrollment = null;
    this.verifier = null;
    this.link = navigator.onLine ? "online" : "offline";
    this.queueLength = 0;
    this.lastSync = null;
    this.counts = null;
    this.onlineOnly = false;
    this.revoked = false;
    this.batchSize = MAX_BATCH;
    this.attempt = 0;
    this.retryTimer = null;
    this.timers = [];
    this.sending = null;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setLink(link) {
    if (this.link !== link) {
      this.link = link;
      this.emit("change");
    }
  }

  async load() {
    this.enrollment = (await this.store.get("meta", "enrollment")) ?? null;
    this.lastSync = (await this.store.get("meta", "last_sync")) ?? null;
    this.counts = (await this.store.get("meta", "counts")) ?? null;
    this.onlineOnly = Boolean(await this.store.get("meta", "online_only"));
    if (this.enrollment) {
      this.api.token = this.enrollment.token;
      await this.useKeys((await this.store.get("meta", "keys")) ?? this.enrollment.keys);
    }
    await this.prune();
    await this.updateQueueLength();
  }

  // Answered scans are history only (duplicates are judged from `seen`): keep the latest.
  async prune() {
    const done = await this.store.byIndex("scans", "state", "done");
    if (done.length <= KEEP_DONE) return;
    done.sort((a, b) => a.seq - b.seq);
    await this.store.deleteMany("scans", done.slice(0, done.length - KEEP_DONE).map((r) => r.scan_id));
  }

  async useKeys(jwks) {
    await this.store.put("meta", jwks, "keys");
    this.verifier = new Verifier(jwks, { conferenceId: conferenceOf(jwks) });
  }

  // POST /api/v1/kiosks/enroll; the token then lives in IndexedDB on this device only.
  async enroll(code, deviceName) {
    const answer = await this.api.enroll(code, deviceName);
    if (!answer.ok) return answer;
    const { token, kiosk, conference, site, keys } = answer.body;
    this.enrollment = { token, kiosk, conference, site, keys, enrolled_at: new Date().toISOString() };
    await this.store.clear("delegates", "seen", "scans");
    await this.store.put("meta", this.enrollment, "enrollment");
    await this.store.put("meta", null, "roster_version");
    await this.store.put("meta", null, "roster_scope");
    this.api.token = token;
    this.revoked = false;
    await this.useKeys(keys);
    this.emit("change");
    this.start();
    return answer;
  }

  // "Leave this kiosk": forget the token, the roster and the scans.
  async leave() {
    this.stop();
    await this.store.clear("meta", "delegates", "seen", "scans");
    this.enrollment = null;
    this.verifier = null;
    this.api.token = null;
    this.counts = null;
    this.lastSync = null;
    await this.updateQueueLength();
    this.emit("change");
  }

  start() {
    this.stop();
    const every = (ms, fn) => this.timers.push(setInterval(fn, ms));
    every(HEARTBEAT_MS, () => this.heartbeat());
    every(ROSTER_MS, () => this.refreshRoster());
    every(COUNTS_MS, () => this.refreshCounts());
    this.onOnline = () => {
      this.attempt = 0;
      this.sync();
    };
    this.onOffline = () => this.setLink("offline");
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    this.sync();
  }

  stop() {
    for (const id of this.timers) clearInterval(id);
    this.timers = [];
    clearTimeout(this.retryTimer);
    if (this.onOnline) window.removeEventListener("online", this.onOnline);
    if (this.onOffline) window.removeEventListener("offline", this.onOffline);
  }

  // Everything at once: the roster, the queue, the counts.
  async sync() {
    await this.refreshRoster();
    await this.send();
    await this.refreshCounts();
  }

  // A problem answer common to every call: a revoked token, or no link.
  handleFailure(answer) {
    if (answer.network) {
      this.setLink("offline");
    } else if (answer.status === 401) {
      this.revoked = true;
      this.stop();
      this.emit("change");
    }
  }

  noteSync() {
    this.lastSync = new Date().toISOString();
    this.store.put("meta", this.lastSync, "last_sync");
    this.setLink("online");
    this.emit("change");
  }

  // The roster of the unit around the site when it is small enough (so a visitor from a
  // neighbouring site is named offline too), else the site's own; neither: online only.
  async refreshRoster() {
    if (!this.enrollment || this.revoked) return;
    const scope = (await this.store.get("meta", "roster_scope")) ?? "unit";
    const since = await this.store.get("meta", "roster_version");
    const answer = await this.api.roster(scope, since);
    if (!answer.ok) {
      if (answer.status === 422 && answer.body?.code === "roster_too_large") {
        return this.narrowRoster(scope);
      }
      return this.handleFailure(answer);
    }
    const roster = answer.body;
    // Removals first: a delegate moved between two sites of the scope is in both lists.
    if (roster.full) await this.store.clear("delegates");
    await this.store.deleteMany("delegates", roster.removed ?? []);
    await this.store.putMany("delegates", roster.delegates ?? []);
    await this.store.put("meta", roster.version, "roster_version");
    if (roster.keys) await this.useKeys(roster.keys);
    this.onlineOnly = false;
    await this.store.put("meta", false, "online_only");
    this.noteSync();
  }

  async narrowRoster(scope) {
    await this.store.put("meta", null, "roster_version");
    if (scope === "unit") {
      await this.store.put("meta", "site", "roster_scope");
      return this.refreshRoster();
    }
    this.onlineOnly = true;
    await this.store.put("meta", true, "online_only");
    this.emit("change");
  }

  async refreshCounts() {
    if (!this.enrollment || this.revoked) return;
    const answer = await this.api.kiosk();
    if (!answer.ok) return this.handleFailure(answer);
    this.counts = answer.body.counts;
    await this.store.put("meta", this.counts, "counts");
    this.emit("change");
  }

  async heartbeat() {
    if (!this.enrollment || this.revoked) return;
    const answer = await this.api.heartbeat(this.queueLength);
    if (!answer.ok) return this.handleFailure(answer);
    this.setLink("online");
    if (this.queueLength > 0) this.send();
  }

  async updateQueueLength() {
    this.queueLength = await this.store.count("scans", "state", "queued");
    this.emit("change");
  }

  context() {
    const { conference, site } = this.enrollment;
    return {
      conference,
      site,
      verifier: this.verifier,
      roster: (id) => (id == null ? null : this.store.get("delegates", id)),
      seen: (id) => (id == null ? null : this.store.get("seen", id)),
    };
  }

  // One scan: made once (its scan_id kept across every retry), stored before anything
  // else, answered at once from the roster, then sent.
  async scan(input) {
    const scan = {
      scan_id: newScanId(),
      scanned_at: new Date().toISOString(),
      method: input.method ?? "qr",
      direction: input.method === "walk_in" ? "in" : (input.direction ?? "in"),
    };
    if (scan.method === "qr") scan.qr = input.qr;
    if (scan.method === "manual") scan.delegate_id = input.delegate_id;
    if (scan.method === "walk_in") Object.assign(scan, { full_name: input.full_name, category: input.category });
    const local = this.onlineOnly ? null : await judge(this.context(), scan);
    // A key this device has not seen yet: the conference may have rotated its keys.
    if (local?.reason === "unknown_key") this.refreshRoster();
    const record = { scan_id: scan.scan_id, seq: Date.now() + performance.now() / 1e6, scan, local, remote: null, state: "queued" };
    await this.store.putMany("scans", [record]);
    if (local) await this.remember(local.delegate_id ?? local.delegate?.id, local, scan);
    await this.updateQueueLength();
    this.emit("answer", { record });
    this.send();
    return record;
  }

  async remember(delegateId, result, scan) {
    const seen = delegateId == null ? null : await this.store.get("seen", delegateId);
    const next = nextSeen(seen, delegateId, result, scan, this.enrollment.site.code);
    if (next) await this.store.putMany("seen", [next]);
  }

  // Sends the queue, one batch after another, until it is empty or the link fails. One
  // sender at a time, across tabs too (Web Locks where the browser has them).
  send() {
    if (!this.enrollment || this.revoked) return Promise.resolve();
    if (this.sending) {
      this.sendAgain = true;
      return this.sending;
    }
    const run = async () => {
      do {
        this.sendAgain = false;
        await (navigator.locks
          ? navigator.locks.request("diemcau-kiosk-send", () => this.drain())
          : this.drain());
      } while (this.sendAgain && !this.retryTimer);
    };
    this.sending = run().finally(() => {
      this.sending = null;
    });
    return this.sending;
  }

  async drain() {
    for (;;) {
      const queued = await this.store.byIndex("scans", "state", "queued");
      if (queued.length === 0) return;
      queued.sort((a, b) => a.seq - b.seq);
      const batch = queued.slice(0, this.batchSize);
      const answer = await this.api.checkins(batch.map((r) => r.scan));
      if (!(await this.settle(batch, answer))) return;
    }
  }

  // What the answer to one batch means for its scans; false when sending must pause.
  async settle(batch, answer) {
    if (answer.ok && answer.body?.results?.length === batch.length) {
      this.attempt = 0;
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      await this.confirm(batch, answer.body.results);
      this.noteSync();
      this.refreshCounts();
      return true;
    }
    if (answer.status === 409 || answer.status === 422) {
      // Refused whole for the scans it names: set those aside (kept, shown as refused)
      // and send the rest. A refusal naming none sets the whole batch aside.
      const named = namedScans(answer.body, batch);
      await this.refuse(named.length ? named : batch, answer.body);
      return true;
    }
    if (answer.status === 413 && this.batchSize > 1) {
      this.batchSize = Math.max(1, Math.floor(this.batchSize / 2));
      return true;
    }
    this.handleFailure(answer);
    if (answer.status === 401) return false;
    if (!answer.network) this.setLink("retrying");
    this.retryLater(retryAfter(answer));
    return false;
  }

  retryLater(seconds) {
    this.attempt += 1;
    const backoff = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** (this.attempt - 1));
    const delay = seconds != null ? seconds * 1000 : backoff * (0.5 + Math.random() / 2);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.sync();
    }, delay);
  }

  async confirm(batch, results) {
    const done = [];
    for (const [i, record] of batch.entries()) {
      const remote = results[i];
      if (!remote) continue;
      done.push({ ...record, remote, state: "done" });
      await this.remember(remote.delegate?.id, remote, record.scan);
    }
    await this.store.putMany("scans", done);
    await this.updateQueueLength();
    for (const record of done) this.emit("answer", { record });
  }

  async refuse(records, problem) {
    const refused = records.map((r) => ({ ...r, state: "refused", problem }));
    await this.store.putMany("scans", refused);
    await this.updateQueueLength();
    for (const record of refused) this.emit("answer", { record });
  }
}

function namedScans(problem, batch) {
  const out = [];
  for (const error of problem?.errors ?? []) {
    const m = /^scans\.(\d+)\./.exec(error.field ?? "");
    if (m && batch[Number(m[1])]) out.push(batch[Number(m[1])]);
  }
  return [...new Set(out)];
}

function retryAfter(answer) {
  const value = Number(answer.headers?.get?.("Retry-After"));
  return answer.status === 429 && Number.isFinite(value) && value > 0 ? value : null;
}

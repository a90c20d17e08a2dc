// The kiosk without its page: enrollment, scans answered by the service (or, offline or
// when it is slow, by this device, said plainly), the queue in IndexedDB sent with
// backoff, the roster kept fresh with ?since=. It says what changed through events:
// "checking" (a scan waits for the service), "told" (the door's answer to a scan),
// "answer" (a later word on a scan: the service confirmed or contradicted it), "change".

import { Api } from "./api.js";
import { Verifier, conferenceOf } from "./credential.js";
import { differs, judge } from "./judge.js";
import * as memory from "./memory.js";
import { Waiters } from "./waiters.js";
import { newScanId } from "./text.js";

const MAX_BATCH = 500; // the service's limit per POST /api/v1/checkins
const HEARTBEAT_MS = 20_000; // docs/checkin.md: every 15–30 s
const ROSTER_MS = 60_000;
const COUNTS_MS = 30_000;
const BACKOFF_MAX_MS = 60_000;
const KEEP_DONE = 2000;
// Online, the door waits this long for the service's answer before it is told this
// device's own (issue 22: a green shown for 100 ms, then a red, had waved people in).
export const ANSWER_BUDGET_MS = 1500;

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
    this.siteNames = {};
    this.waiters = new Waiters();
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
    this.siteNames = (await this.store.get("meta", "site_names")) ?? {};
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
    await this.store.put("meta", [], "changed");
    await this.store.put("meta", {}, "site_names");
    this.siteNames = {};
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
    if (roster.site_names) {
      this.siteNames = roster.site_names;
      await this.store.put("meta", this.siteNames, "site_names");
    }
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
      timeline: (id) => memory.timeline(this.store, id),
      siteName: (code) => this.siteNames[code] ?? (code === site.code ? site.name : null),
    };
  }

  // One scan: made once (its scan_id kept across every retry), stored before anything
  // else, judged here at once, then sent. Online, the door is told the service's answer
  // ("checking" meanwhile), or this device's when the service has not answered within
  // ANSWER_BUDGET_MS; offline, this device's at once. `told: "local"` on the record says
  // the door heard this device's answer.
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
    const wait = this.link === "online" && !this.revoked;
    const seq = Date.now() + performance.now() / 1e6;
    const record = { scan_id: scan.scan_id, seq, scan, local, remote: null, state: "queued", told: wait ? null : "local" };
    await this.store.putMany("scans", [record]);
    if (local?.entry) await memory.rememberScan(this.store, local);
    await this.updateQueueLength();
    if (!wait) {
      this.emit("told", { record });
      this.send();
      return record;
    }
    this.emit("checking", { record });
    const answered = this.waiters.within(record.scan_id, ANSWER_BUDGET_MS);
    this.send();
    return this.tell((await answered) ?? record);
  }

  // The door's answer: the service's when it came, else this device's, marked as told.
  async tell(record) {
    let told = record;
    if (!record.remote) {
      const [stored] = await this.store.update("scans", [record.scan_id], (r) =>
        r && !r.remote ? { ...r, told: "local" } : null,
      );
      told = stored ?? (await this.store.get("scans", record.scan_id)) ?? record;
    }
    this.emit("told", { record: told });
    return told;
  }

  // Answers the door was told offline and the service contradicted, not yet dismissed.
  changes() {
    return memory.changes(this.store);
  }

  async dismissChanges() {
    await memory.dismissChanges(this.store);
    this.emit("change");
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
    this.waiters.releaseAll(); // no answer is coming: the door hears this device's now
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
    const remotes = new Map(batch.map((record, i) => [record.scan_id, results[i]]));
    const done = await this.store.update("scans", [...remotes.keys()], (r) => {
      const remote = r && remotes.get(r.scan_id);
      return remote ? { ...r, remote, state: "done" } : null;
    });
    const site = this.enrollment.site.code;
    for (const record of done) await memory.rememberAnswer(this.store, record, site);
    await memory.noteChanges(this.store, done.filter((r) => r.told === "local" && r.local && differs(r.local, r.remote)));
    await this.updateQueueLength();
    for (const record of done) this.emit("answer", { record });
    for (const record of done) this.waiters.answered(record.scan_id, record);
  }

  async refuse(records, problem) {
    const ids = records.map((r) => r.scan_id);
    const refused = await this.store.update("scans", ids, (r) => (r ? { ...r, state: "refused", problem } : null));
    await this.updateQueueLength();
    for (const record of refused) this.emit("answer", { record });
    for (const record of refused) this.waiters.answered(record.scan_id, null);
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

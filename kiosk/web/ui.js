// Drawing: the full-screen answer, its sound and vibration, the status line, the counts,
// the list of recent answers and the answers the service changed.

import { colour, differs } from "./judge.js";
import { number, pick, t, time } from "./i18n.js";

const ANSWER_MS = 1800; // back to ready within 2 s
const CHECKING_MS = 10_000; // a "checking" screen nobody answers gives way all the same
const $ = (id) => document.getElementById(id);

export function titleOf(result) {
  if (result.walk_in && result.result === "accepted") return t("walk_in_recorded");
  if (result.result === "duplicate" && result.direction === "out") return t("already_out");
  if (result.result !== "accepted") return t(result.result);
  if (result.direction === "out") {
    return result.checked_in === false ? t("out_not_in") : t("accepted_out");
  }
  if (result.unknown) return t("unknown_delegate");
  if (result.reentry) return t("reentry");
  if (result.moved) return t("moved");
  return t("accepted");
}

function who(result) {
  const person = result.delegate ?? result.walk_in;
  if (!person) return { name: "", line: "" };
  const parts = [person.unit_name ?? person.unit_code, person.category && t(person.category)];
  if (result.walk_in) parts.unshift(t("walk_in_label"));
  return { name: person.full_name ?? "", line: parts.filter(Boolean).join(" · ") };
}

// A site as the door reads it: its name, with its code (kept whole on one line).
export function siteLabel(code, name) {
  return name ? `${name} (${code})` : code;
}

function detail(result) {
  if (result.result === "duplicate" && result.first) {
    return t("at", { time: time(result.first.scanned_at), site: result.first.site_code });
  }
  if (result.result === "invalid" && result.reason) return t(result.reason);
  const site = result.delegate?.site_code;
  if ((result.moved || result.result === "wrong_site") && site) {
    return t("their_site", { site: siteLabel(site, result.delegate.site_name) });
  }
  return pick(result.message);
}

// Codes such as "TD-02" or "LC-01" must not break at their dash on a narrow screen:
// each goes in a span the stylesheet keeps on one line.
const CODE = /\b[A-Z0-9]+(?:-[A-Z0-9]+)+\b/g;

export function setText(el, text) {
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(CODE)) {
    parts.push(text.slice(last, m.index));
    const span = document.createElement("span");
    span.className = "code";
    span.textContent = m[0];
    parts.push(span);
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  el.replaceChildren(...parts.filter((p) => p !== ""));
}

// The answer to show for a record: the service's once it came, else the offline one.
export function shown(record) {
  return record.remote ?? record.local;
}

let tones = null;

// A distinct sound per colour, made with WebAudio (no sound files to ship or cache).
function beep(kind) {
  try {
    tones ??= new AudioContext();
    const plan = {
      green: [[880, 0, 0.15]],
      amber: [[660, 0, 0.12], [660, 0.18, 0.12]],
      red: [[220, 0, 0.45]],
    }[kind];
    for (const [freq, start, length] of plan) {
      const osc = tones.createOscillator();
      const gain = tones.createGain();
      osc.type = kind === "red" ? "square" : "sine";
      osc.frequency.value = freq;
      gain.gain.value = 0.2;
      osc.connect(gain).connect(tones.destination);
      osc.start(tones.currentTime + start);
      osc.stop(tones.currentTime + start + length);
    }
  } catch {
    // No audio (autoplay policy before the first tap): the colour still says it.
  }
  const pattern = { green: [80], amber: [80, 60, 80], red: [250, 80, 250] }[kind];
  navigator.vibrate?.(pattern);
}

// The screen follows one scan at a time: "checking" while the service is asked (neutral,
// silent), then the answer the door is told (colour, sound), then the service's later
// word on it if it differs (new colour, sound again).
export class AnswerScreen {
  constructor() {
    this.el = $("answer");
    this.current = null;
    this.seq = -Infinity; // the latest scan shown, hidden or not
    this.phase = null;
    this.timer = null;
    this.el.addEventListener("click", () => this.hide());
  }

  checking(record) {
    this.current = record.scan_id;
    this.seq = Math.max(this.seq, record.seq);
    this.phase = "checking";
    this.draw(record);
    this.el.hidden = false;
    this.hideAfter(CHECKING_MS);
  }

  // The door's answer to a scan. An older scan answered after a newer one was shown goes
  // to the list only: the door has moved on.
  tell(record) {
    if (record.scan_id !== this.current && record.seq < this.seq) return;
    if (this.current === record.scan_id && this.phase === "told") {
      this.update(record);
      return;
    }
    this.current = record.scan_id;
    this.seq = Math.max(this.seq, record.seq);
    this.phase = "told";
    this.draw(record);
    if (this.el.dataset.colour !== "neutral") beep(this.el.dataset.colour);
    this.el.hidden = false;
    this.hideAfter(ANSWER_MS);
  }

  // A later word on the scan on screen: the sync mark, and a new colour (with its sound)
  // when the service's answer differs from the one told. While checking, the "told"
  // that follows draws it.
  update(record) {
    if (record.scan_id !== this.current || this.el.hidden || this.phase !== "told") return;
    const before = this.el.dataset.colour;
    this.draw(record);
    if (this.el.dataset.colour !== before) {
      if (this.el.dataset.colour !== "neutral") beep(this.el.dataset.colour);
      this.hideAfter(ANSWER_MS);
    }
  }

  hideAfter(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), ms);
  }

  hide() {
    clearTimeout(this.timer);
    this.el.hidden = true;
    this.current = null;
    this.phase = null;
  }

  draw(record) {
    const result = this.phase === "checking" ? null : shown(record);
    const person = result ? who(result) : { name: "", line: "" };
    this.el.dataset.colour = result ? colour(result) : "neutral";
    this.el.dataset.result = result?.result ?? "";
    const title = result ? titleOf(result) : this.phase === "checking" ? t("checking") : t("waiting_service");
    this.el.querySelector(".answer-title").textContent = title;
    this.el.querySelector(".answer-name").textContent = person.name;
    this.el.querySelector(".answer-who").textContent = person.line;
    setText(this.el.querySelector(".answer-detail"), result ? detail(result) : "");
    this.el.querySelector(".answer-sync").textContent = this.phase === "checking" ? "" : syncMark(record);
    this.el.querySelector(".answer-differs").textContent = differsNote(record);
  }
}

export function syncMark(record) {
  if (record.state === "refused") return t("refused");
  if (record.state === "done") return t("synced");
  if (record.told === "local") return record.local ? t("judged_offline") : t("waiting_service");
  return t("checking");
}

// Only an answer the door was told offline can have been contradicted.
function differsNote(record) {
  if (!changed(record)) return "";
  return `${t("differs")} (${t("was_offline")}: ${titleOf(record.local)})`;
}

function changed(record) {
  return record.told === "local" && record.remote && record.local && differs(record.local, record.remote);
}

export function renderRecent(records) {
  const list = $("recent");
  list.replaceChildren(
    ...records.map((record) => {
      const result = record.told === "local" || record.remote ? shown(record) : null;
      const li = document.createElement("li");
      li.dataset.colour = result ? colour(result) : "none";
      li.dataset.state = record.state;
      li.dataset.scanId = record.scan_id;
      const person = result ? who(result).name : "";
      setText(
        li,
        [time(record.scan.scanned_at), result ? titleOf(result) : t("checking"), person, syncMark(record), differsNote(record)]
          .filter(Boolean)
          .join(" · "),
      );
      return li;
    }),
  );
}

// The answers the service changed: the door's (offline) answer, the service's, when.
export function renderChanges(records) {
  $("changes-list").replaceChildren(
    ...records.map((record) => {
      const li = document.createElement("li");
      const head = document.createElement("b");
      const person = who(record.remote).name || who(record.local).name;
      head.textContent = [time(record.scan.scanned_at), person].filter(Boolean).join(" · ");
      const was = document.createElement("span");
      setText(was, `${t("was_offline")}: ${titleOf(record.local)}`);
      const now = document.createElement("span");
      setText(now, `${t("service_said")}: ${[titleOf(record.remote), detail(record.remote)].filter(Boolean).join(" · ")}`);
      li.dataset.scanId = record.scan_id;
      li.dataset.colour = colour(record.remote);
      li.append(head, was, now);
      return li;
    }),
  );
}

export function renderStatus(kiosk, pending) {
  const link = $("link");
  link.dataset.state = kiosk.link;
  link.querySelector("span").textContent = t(kiosk.link);
  $("queue").textContent = number(kiosk.queueLength);
  $("last-sync").textContent = time(kiosk.lastSync);
  renderCounts(kiosk.counts, pending);
}

const sum = (byCategory) => Object.values(byCategory ?? {}).reduce((a, b) => a + b, 0);

// The site's counts from the service, plus what this device answered and has not sent.
function renderCounts(counts, pending) {
  if (!counts) return;
  const checkedIn = sum(counts.checked_in) + pending.checked_in;
  $("count-checked-in").textContent = `${number(checkedIn)}/${number(sum(counts.expected))}`;
  $("count-walk-ins").textContent = number(counts.walk_ins + pending.walk_ins);
  $("count-present").textContent = number(counts.present + pending.present);
}

// What the queued (unconfirmed) answers add to the service's counts.
export function pendingCounts(queued) {
  const out = { checked_in: 0, walk_ins: 0, present: 0 };
  for (const { local } of queued) {
    if (!local || local.result !== "accepted") continue;
    if (local.walk_in) {
      out.walk_ins += 1;
      out.present += 1;
    } else if (local.direction === "out") {
      if (local.checked_in !== false) out.present -= 1;
    } else {
      if (!local.reentry) out.checked_in += 1;
      out.present += 1;
    }
  }
  return out;
}

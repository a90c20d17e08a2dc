// Drawing: the full-screen answer, its sound and vibration, the status line, the counts
// and the list of recent answers.

import { colour, differs } from "./judge.js";
import { number, pick, t, time } from "./i18n.js";

const ANSWER_MS = 1800; // back to ready within 2 s
const $ = (id) => document.getElementById(id);

export function titleOf(result) {
  if (result.walk_in && result.result === "accepted") return t("walk_in_recorded");
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

function detail(result) {
  if (result.result === "duplicate" && result.first) {
    return t("at", { time: time(result.first.scanned_at), site: result.first.site_code });
  }
  if (result.result === "invalid" && result.reason) return t(result.reason);
  const site = result.delegate?.site_code;
  if ((result.moved || result.result === "wrong_site") && site) return t("their_site", { site });
  return pick(result.message);
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

export class AnswerScreen {
  constructor() {
    this.el = $("answer");
    this.current = null;
    this.timer = null;
    this.el.addEventListener("click", () => this.hide());
  }

  // The first answer to a scan: full screen, sound, then back to ready.
  show(record) {
    this.current = record.scan_id;
    this.draw(record);
    beep(colour(shown(record)));
    this.el.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), ANSWER_MS);
  }

  // The service's answer to the scan on screen: the sync mark, and a new colour when it
  // differs from the offline answer (a scan answered later changes the list only).
  update(record) {
    if (record.scan_id !== this.current || this.el.hidden) return;
    const before = this.el.dataset.colour;
    this.draw(record);
    if (this.el.dataset.colour !== before) {
      beep(this.el.dataset.colour);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.hide(), ANSWER_MS);
    }
  }

  hide() {
    clearTimeout(this.timer);
    this.el.hidden = true;
    this.current = null;
  }

  draw(record) {
    const result = shown(record);
    const person = who(result);
    this.el.dataset.colour = colour(result);
    this.el.dataset.result = result.result;
    this.el.querySelector(".answer-title").textContent = titleOf(result);
    this.el.querySelector(".answer-name").textContent = person.name;
    this.el.querySelector(".answer-who").textContent = person.line;
    this.el.querySelector(".answer-detail").textContent = detail(result);
    this.el.querySelector(".answer-sync").textContent = syncMark(record);
    this.el.querySelector(".answer-differs").textContent = differsNote(record);
  }
}

export function syncMark(record) {
  if (record.state === "refused") return t("refused");
  if (record.state === "done") return t("synced");
  return record.local ? t("not_synced") : t("waiting_service");
}

function differsNote(record) {
  if (!record.remote || !record.local || !differs(record.local, record.remote)) return "";
  return `${t("differs")} (${t("was_offline")}: ${titleOf(record.local)})`;
}

export function renderRecent(records) {
  const list = $("recent");
  list.replaceChildren(
    ...records.map((record) => {
      const result = shown(record);
      const li = document.createElement("li");
      li.dataset.colour = result ? colour(result) : "none";
      li.dataset.state = record.state;
      li.dataset.scanId = record.scan_id;
      const person = result ? who(result).name : "";
      const note = differsNote(record);
      li.textContent = [
        time(record.scan.scanned_at),
        result ? titleOf(result) : t("waiting_service"),
        person,
        syncMark(record),
        note,
      ]
        .filter(Boolean)
        .join(" · ");
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

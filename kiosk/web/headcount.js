// The kiosk menu's headcount: what the technician counted in the room at the start,
// after the break and at the end, sent to POST .../sites/{site}/headcounts with the
// kiosk's token. Self-contained: it adds its own button beside the walk-in one and its
// own dialog, reads the enrollment from IndexedDB, and keeps unsent headcounts there
// (meta "headcounts") until the service takes them; each carries a headcount_id made
// once, so sending one again never counts it twice.

import { Api } from "./api.js";
import { language } from "./i18n.js";
import { Store } from "./idb.js";
import { newScanId } from "./text.js";

const QUEUE = "headcounts";
const RETRY_MS = 20_000;

const WORDS = {
  vi: {
    open: "Đếm người",
    heading: "Số người trong hội trường",
    moment: "Lúc đếm",
    start: "Đầu giờ",
    after_break: "Sau giải lao",
    end: "Cuối giờ",
    members: "Đảng viên",
    non_members: "Quần chúng",
    guests: "Khách mời",
    note: "Ghi chú",
    send: "Ghi nhận",
    cancel: "Hủy",
    sent: "Đã ghi {total} người ({moment})",
    queued: "Chưa gửi được ({total} người, {moment}); sẽ tự gửi lại khi có mạng",
    refused: "Không ghi được: {reason}",
    bad: "Nhập số người (số nguyên, từ 0)",
  },
  en: {
    open: "Headcount",
    heading: "People in the hall",
    moment: "When",
    start: "Start",
    after_break: "After the break",
    end: "End",
    members: "Party members",
    non_members: "Non-members",
    guests: "Guests",
    note: "Note",
    send: "Record",
    cancel: "Cancel",
    sent: "Recorded: {total} people ({moment})",
    queued: "Not sent yet ({total} people, {moment}); it goes when the link is back",
    refused: "Not recorded: {reason}",
    bad: "Type the counts (whole numbers, 0 or more)",
  },
};

function say(key, values = {}) {
  const text = (WORDS[language()] ?? WORDS.vi)[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

function element(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

function field(name, input) {
  const label = element("label", {}, element("span", { "data-hc": name }), input);
  return label;
}

function numberInput(id) {
  return element("input", { id, type: "number", min: "0", step: "1", inputmode: "numeric", required: "" });
}

function buildDialog() {
  const moment = element("select", { id: "hc-moment" });
  for (const value of ["start", "after_break", "end"]) {
    moment.append(element("option", { value, "data-hc": value }));
  }
  const form = element(
    "form",
    { method: "dialog", id: "headcount-form" },
    element("h2", { "data-hc": "heading" }),
    field("moment", moment),
    field("members", numberInput("hc-members")),
    field("non_members", numberInput("hc-non-members")),
    field("guests", numberInput("hc-guests")),
    field("note", element("input", { id: "hc-note", maxlength: "1000", autocomplete: "off" })),
    element("button", { type: "button", id: "hc-send", class: "primary", "data-hc": "send" }),
    element("button", { value: "cancel", "data-hc": "cancel" }),
    element("p", { id: "hc-said", role: "status" }),
  );
  const dialog = element("dialog", { id: "headcount" }, form);
  document.body.append(dialog);
  return dialog;
}

function translate(root) {
  for (const el of root.querySelectorAll("[data-hc]")) el.textContent = say(el.dataset.hc);
}

class Headcounts {
  constructor(store) {
    this.store = store;
    this.dialog = buildDialog();
    this.button = element("button", { type: "button", id: "open-headcount", "data-hc": "open" });
    this.$ = (id) => document.getElementById(id);
    this.lock = Promise.resolve(); // one change of the queue at a time
  }

  serially(work) {
    const turn = this.lock.then(work);
    this.lock = turn.catch(() => {});
    return turn;
  }

  mount() {
    const walkIn = document.getElementById("open-walk-in");
    walkIn.after(this.button);
    // The button shows when the walk-in button does (the page hides both before enrollment).
    const mirror = () => (this.button.hidden = walkIn.hidden);
    new MutationObserver(mirror).observe(walkIn, { attributes: true, attributeFilter: ["hidden"] });
    mirror();
    translate(document);
    this.button.addEventListener("click", () => this.open());
    this.$("hc-send").addEventListener("click", () => this.submit());
    for (const lang of document.querySelectorAll("[data-lang]")) {
      lang.addEventListener("click", () => setTimeout(() => translate(document), 0));
    }
    window.addEventListener("online", () => this.flush());
    setInterval(() => this.flush(), RETRY_MS);
    this.flush();
  }

  open() {
    translate(this.dialog);
    this.$("hc-said").textContent = "";
    for (const id of ["hc-members", "hc-non-members", "hc-guests", "hc-note"]) this.$(id).value = "";
    this.dialog.showModal();
    this.$("hc-members").focus();
  }

  counts() {
    const read = (id) => {
      const text = this.$(id).value.trim();
      return /^\d{1,7}$/.test(text) ? Number(text) : null;
    };
    return [read("hc-members"), read("hc-non-members"), read("hc-guests") ?? 0];
  }

  async submit() {
    const [members, nonMembers, guests] = this.counts();
    if (members === null || nonMembers === null) {
      this.$("hc-said").textContent = say("bad");
      return;
    }
    const body = {
      headcount_id: newScanId(),
      moment: this.$("hc-moment").value,
      counted_at: new Date().toISOString(),
      members,
      non_members: nonMembers,
      guests,
      note: this.$("hc-note").value.trim() || null,
    };
    await this.serially(async () => this.store.put("meta", [...(await this.queued()), body], QUEUE));
    const outcome = await this.flush();
    const values = { total: members + nonMembers + guests, moment: say(body.moment) };
    const said = outcome[body.headcount_id];
    this.$("hc-said").textContent = said?.ok
      ? say("sent", values)
      : said?.refused
        ? say("refused", { reason: said.reason })
        : say("queued", values);
    this.dialog.dataset.outcome = said?.ok ? "sent" : said?.refused ? "refused" : "queued";
  }

  async queued() {
    return (await this.store.get("meta", QUEUE)) ?? [];
  }

  // Send what is queued; a headcount the service refuses for good (4xx other than 429)
  // leaves the queue, one it could not take (no link, 429, 5xx) stays for the next try.
  flush() {
    return this.serially(() => this.send());
  }

  async send() {
    const outcome = {};
    const enrollment = await this.store.get("meta", "enrollment");
    const waiting = await this.queued();
    if (!enrollment || waiting.length === 0) return outcome;
    const api = new Api(enrollment.token);
    const path =
      `/api/v1/conferences/${encodeURIComponent(enrollment.conference.code)}` +
      `/sites/${encodeURIComponent(enrollment.site.code)}/headcounts`;
    const kept = [];
    for (const body of waiting) {
      const answer = await api.call("POST", path, { body });
      if (answer.ok) {
        outcome[body.headcount_id] = { ok: true };
      } else if (!answer.network && answer.status !== 429 && answer.status < 500) {
        outcome[body.headcount_id] = { refused: true, reason: answer.body?.detail ?? answer.status };
      } else {
        kept.push(body);
      }
    }
    await this.store.put("meta", kept, QUEUE);
    return outcome;
  }
}

async function start() {
  const headcounts = new Headcounts(await Store.open());
  headcounts.mount();
}

start();

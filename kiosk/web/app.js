// The web kiosk page: wiring between the kiosk (core.js), the scanners and the screen.

import { Kiosk } from "./core.js";
import { dayTime, number, setLanguage, setTimeZone, t, translatePage, language } from "./i18n.js";
import { Store } from "./idb.js";
import { Camera, Wedge } from "./scanner.js";
import { enrollmentCode, fold, isEnrollmentLink, matches } from "./text.js";
import { AnswerScreen, pendingCounts, renderChanges, renderRecent, renderStatus, setText, siteLabel } from "./ui.js";

const $ = (id) => document.getElementById(id);
const RECENT = 15;

let kiosk;
let screen;
let camera;
let direction = "in";
let chosen = null;

async function main() {
  const store = await Store.open();
  setLanguage((await store.get("meta", "lang")) ?? "vi");
  translatePage();
  kiosk = new Kiosk(store);
  await kiosk.load();
  screen = new AnswerScreen();
  camera = new Camera($("video"), (text) => code(text));
  new Wedge((text) => code(text));
  kiosk.addEventListener("change", () => refresh());
  kiosk.addEventListener("checking", (event) => screenSays("checking", event.detail.record));
  kiosk.addEventListener("told", (event) => screenSays("tell", event.detail.record));
  kiosk.addEventListener("answer", (event) => screenSays("update", event.detail.record));
  wire(store);
  registerServiceWorker();
  if (kiosk.enrollment) kiosk.start();
  await refresh();
  await enrollFromUrl();
  window.addEventListener("hashchange", () => enrollFromUrl());
  document.body.dataset.ready = "true"; // tests wait for this
}

function wire(store) {
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", async () => {
      // The page turns at the tap; the choice is kept for the next load after.
      setLanguage(button.dataset.lang);
      translatePage();
      refresh();
      await store.put("meta", language(), "lang");
    });
  }
  $("enroll-form").addEventListener("submit", (event) => {
    event.preventDefault();
    enroll($("enroll-code").value);
  });
  $("enroll-code").addEventListener("input", () => previewCode($("enroll-code").value));
  $("enroll-camera").addEventListener("click", () => toggleCamera());
  $("camera").addEventListener("click", () => toggleCamera());
  $("mode-in").addEventListener("click", () => setDirection("in"));
  $("mode-out").addEventListener("click", () => setDirection("out"));
  $("open-manual").addEventListener("click", () => openManual());
  $("open-walk-in").addEventListener("click", () => $("walk-in").showModal());
  $("manual-q").addEventListener("input", () => search());
  $("manual-ok").addEventListener("click", () => checkInChosen());
  $("walk-in-ok").addEventListener("click", () => walkIn());
  $("leave").addEventListener("click", () => leave());
  $("changes").addEventListener("click", () => openChanges());
  $("changes-dismiss").addEventListener("click", async () => {
    $("changes-dialog").close();
    await kiosk.dismissChanges();
  });
}

// Whatever a scanner read: an enrollment code while not enrolled, else a scan.
function code(text) {
  if (!kiosk.enrollment) {
    offerCode(text);
    return;
  }
  if (isEnrollmentLink(text)) return; // the technician's enrollment QR, again
  kiosk.scan({ qr: text, direction });
}

async function enrollFromUrl() {
  const found = /#enroll=/.test(location.hash) ? enrollmentCode(location.hash) : null;
  if (!found) return;
  history.replaceState(null, "", location.pathname + location.search);
  if (!kiosk.enrollment) await offerCode(found);
}

// A code from the technician's link or QR: filled in, and the device's name asked for
// (prefilled with the site's next number) before the code is used.
async function offerCode(text) {
  const value = enrollmentCode(text);
  if (!value) {
    $("enroll-error").textContent = t("enroll_bad_code");
    return;
  }
  camera.stop();
  $("enroll-code").value = `${value.slice(0, 4)}-${value.slice(4)}`;
  await previewCode(value);
  $("device-name").focus();
  $("device-name").select();
  refresh();
}

let previewed = null;
let suggested = "";

// What the code would enroll: the site and conference to check, when the code expires
// (in the conference's time), and the name this device would get, put in the name field
// unless the person typed one.
async function previewCode(text) {
  const value = enrollmentCode(text);
  if (!value || value === previewed) return;
  previewed = value;
  const answer = await kiosk.api.previewEnrollment(value);
  if (previewed !== value) return; // typed on meanwhile
  const where = $("enroll-where");
  if (!answer.ok) {
    where.hidden = true;
    $("enroll-error").textContent = answer.network ? t("enroll_offline") : problemText(answer);
    if (answer.network) previewed = null; // the same code may be looked at again
    return;
  }
  const { conference, site, expires_at: expires, device_name: name } = answer.body;
  setTimeZone(conference.timezone ?? "Asia/Ho_Chi_Minh");
  setText($("enroll-site"), siteLabel(site.code, site.name));
  $("enroll-conference").textContent = conference.title;
  $("enroll-expires").textContent = t("enroll_expires", { time: dayTime(expires) });
  where.hidden = false;
  $("enroll-error").textContent = "";
  const field = $("device-name");
  if (!field.value.trim() || field.value === suggested) field.value = name;
  suggested = name;
}

function problemText(answer) {
  return answer.body?.detail ?? answer.body?.title ?? String(answer.status);
}

async function enroll(text) {
  const error = $("enroll-error");
  const value = enrollmentCode(text);
  if (!value) {
    error.textContent = t("enroll_bad_code");
    return;
  }
  error.textContent = t("enrolling");
  // Left empty, the service numbers the device at its site.
  const answer = await kiosk.enroll(value, $("device-name").value.trim());
  if (answer.ok) {
    error.textContent = "";
    $("enroll-code").value = "";
    $("device-name").value = "";
    $("enroll-where").hidden = true;
    previewed = null;
    camera.stop();
  } else if (answer.network) {
    error.textContent = t("enroll_offline");
  } else {
    error.textContent = problemText(answer);
  }
  await refresh();
}

async function leave() {
  const waiting = kiosk.queueLength;
  if (!confirm(waiting ? t("leave_queue", { n: waiting }) : t("leave_confirm"))) return;
  camera.stop();
  await kiosk.leave();
}

async function toggleCamera() {
  $("camera-error").textContent = "";
  if (camera.running) {
    camera.stop();
  } else {
    try {
      await camera.start();
    } catch (err) {
      $("camera-error").textContent = `${t("camera_failed")}: ${err.message ?? err}`;
      $("enroll-error").textContent = $("camera-error").textContent;
    }
  }
  refresh();
}

function setDirection(value) {
  direction = value;
  refresh();
}

function openManual() {
  chosen = null;
  $("manual-q").value = "";
  $("manual-results").replaceChildren();
  $("manual-confirm").hidden = true;
  $("manual").showModal();
  $("manual-q").focus();
}

let searchSeq = 0;

// Online, the service's search (the whole site, fresh `checked_in`); offline, the roster
// on this device folded the same way.
async function search() {
  const q = $("manual-q").value;
  const mine = ++searchSeq;
  const list = $("manual-results");
  if (fold(q).length < 2) {
    list.replaceChildren(item(t("search_short")));
    return;
  }
  let found = null;
  const answer = await kiosk.api.searchDelegates(q);
  if (answer.ok) {
    found = answer.body.items;
  } else {
    const all = await kiosk.store.all("delegates");
    const site = kiosk.enrollment.site.code; // the roster may hold the neighbours too
    found = all.filter((d) => d.site_code === site && matches(d.full_name, q)).slice(0, 20);
  }
  if (mine !== searchSeq) return; // a later keystroke already answered
  if (found.length === 0) {
    list.replaceChildren(item(t("search_none")));
    return;
  }
  list.replaceChildren(
    ...found.map((d) => {
      const li = item(`${d.full_name} · ${d.unit_name ?? d.unit_code ?? ""} · ${t(d.category)}`);
      if (d.checked_in) li.append(` · ${t("already_in")}`);
      li.tabIndex = 0;
      li.className = "pick";
      li.dataset.delegateId = d.id;
      li.addEventListener("click", () => choose(d));
      return li;
    }),
  );
}

function item(text) {
  const li = document.createElement("li");
  li.textContent = text;
  return li;
}

function choose(delegate) {
  chosen = delegate;
  $("manual-chosen").textContent = `${delegate.full_name} · ${t(delegate.category)}`;
  $("manual-confirm").hidden = false;
}

function checkInChosen() {
  if (!chosen) return;
  $("manual").close();
  kiosk.scan({ method: "manual", delegate_id: chosen.id, direction });
  chosen = null;
}

function walkIn() {
  const name = $("walk-in-name").value.trim();
  if (!name) {
    $("walk-in-name").focus();
    return;
  }
  $("walk-in").close();
  kiosk.scan({ method: "walk_in", full_name: name, category: $("walk-in-category").value });
  $("walk-in-name").value = "";
}

// The screen follows the kiosk's word on a scan (checking, told, a later answer).
function screenSays(what, record) {
  screen[what](record);
  refresh();
}

async function openChanges() {
  renderChanges(await kiosk.changes());
  $("changes-dialog").showModal();
}

let refreshing = null;

// Redraws everything from the kiosk's state; calls during a redraw fold into one more.
async function refresh() {
  if (refreshing) {
    refreshing.again = true;
    return;
  }
  refreshing = { again: false };
  try {
    do {
      refreshing.again = false;
      await draw();
    } while (refreshing.again);
  } finally {
    refreshing = null;
  }
}

async function draw() {
  const enrolled = Boolean(kiosk.enrollment);
  for (const id of ["kiosk", "recent-box", "open-manual", "open-walk-in"]) $(id).hidden = !enrolled;
  // Before enrollment the viewfinder shows only while the camera looks for the
  // technician's enrollment QR.
  $("scanner").hidden = !enrolled && !camera.running;
  $("enroll").hidden = enrolled;
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === language()));
  }
  $("camera").textContent = camera.running ? t("camera_stop") : t("camera_start");
  document.body.classList.toggle("camera-on", camera.running);
  if (!enrolled) {
    $("site-name").textContent = "diemcau";
    $("conference-title").textContent = t("title");
    return;
  }
  const { conference, site } = kiosk.enrollment;
  setTimeZone(conference.timezone ?? "Asia/Ho_Chi_Minh");
  setText($("site-name"), siteLabel(site.code, site.name));
  $("conference-title").textContent = conference.title;
  document.body.classList.toggle("exit-mode", direction === "out");
  $("exit-banner").hidden = direction !== "out";
  $("mode-in").setAttribute("aria-pressed", String(direction === "in"));
  $("mode-out").setAttribute("aria-pressed", String(direction === "out"));
  // Read first, then draw in one go: the queue's length and the recent answers never
  // show two different moments (a reader between the two would see both).
  const queued = await kiosk.store.byIndex("scans", "state", "queued");
  const recent = await kiosk.store.latest("scans", RECENT);
  const changed = await kiosk.changes();
  renderStatus(kiosk, pendingCounts(queued));
  renderRecent(recent);
  notice(changed);
}

// A lasting line for what needs a person: a revoked kiosk, an online-only roster; and
// apart, the offline answers the service contradicted, a button that lists them.
function notice(changed) {
  const el = $("notice");
  let text = "";
  if (kiosk.revoked) text = t("revoked_kiosk");
  else if (kiosk.onlineOnly) text = t("roster_online_only");
  el.textContent = text;
  el.hidden = !text;
  $("changes").textContent = t("differences", { n: number(changed.length) });
  $("changes").hidden = changed.length === 0;
  if ($("changes-dialog").open) renderChanges(changed);
}

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return; // plain http on the LAN: no offline reload
  // The worker lives under /kiosk/ but serves /kiosk itself: the service allows the
  // wider scope with a Service-Worker-Allowed header.
  navigator.serviceWorker
    .register("/kiosk/sw.js", { scope: "/kiosk" })
    .catch((err) => console.warn("service worker not registered", err));
}

main();

// The live board page: takes a token (typed once, or from the address's #token=, then
// kept in this browser), follows the board over the websocket (connection.js), and draws
// the totals, the unit tree, the arrivals, the readiness and the site table.
//
// Drilling into a unit filters what the page already holds (every unit entry carries
// its subtree's counts, every site its unit), so it is instant and needs no new socket;
// `?unit=CODE` in the page's address instead asks the service for that subtree only, for
// a district's screen or a phone on a slow line.

import { AMBER, Board, RED } from "./board.js";
import { drawArrivals } from "./chart.js";
import { Live } from "./connection.js";
import { clock, int, percent, progress, rate, target } from "./format.js";
import { initLanguage, language, safeGet, safeSet, setLanguage, t, translatePage } from "./i18n.js";
import { SiteTable } from "./table.js";

const $ = (id) => document.getElementById(id);
const conference = decodeURIComponent(location.pathname.split("/")[2] || "");
const params = new URLSearchParams(location.search);
const scopeUnit = params.get("unit") || null;
const TOKEN_KEY = `diemcau.dashboard.token:${conference}`;

const board = new Board();
let live = null;
let at = null; // the unit drilled into ("" for the whole scope), null until the first view
let table = null;
let drawing = false;

function start() {
  initLanguage(params);
  document.body.classList.toggle("big", params.get("screen") === "big");
  translatePage();
  table = new SiteTable($("sites"), board, (code) => drill(code));
  window.diemcau = { board, table }; // for a person's console and bench/live_page.py
  const token = tokenFromAddress() || safeGet(TOKEN_KEY);
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = $("token-input").value.trim();
    if (!typed) return;
    $("token-input").value = "";
    safeSet(TOKEN_KEY, typed);
    connect(typed);
  });
  $("forget").addEventListener("click", () => {
    safeSet(TOKEN_KEY, null);
    if (live) live.stop();
    askToken("");
  });
  $("lang-toggle").addEventListener("click", () => {
    setLanguage(language() === "vi" ? "en" : "vi");
    translatePage();
    if (live) showState(live);
    draw();
  });
  $("big-toggle").addEventListener("click", () => toggleBig());
  $("search").addEventListener("input", (e) => table.set({ query: e.target.value }));
  $("filter").addEventListener("change", (e) => table.set({ filter: e.target.value }));
  window.addEventListener("hashchange", () => drill(drillFromAddress()));
  setInterval(tick, 1000);
  if (token) connect(token);
  else askToken("");
}

// A token passed as #token=… is kept and taken out of the address at once (it must not
// stay on a projected screen or in the history).
function tokenFromAddress() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const token = hash.get("token");
  if (!token) return null;
  hash.delete("token");
  const rest = hash.toString();
  history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  safeSet(TOKEN_KEY, token);
  return token;
}

function drillFromAddress() {
  return new URLSearchParams(location.hash.slice(1)).get("at") || "";
}

function connect(token) {
  if (live) live.stop();
  $("token-box").hidden = true;
  $("forget").hidden = false;
  live = new Live({
    conference,
    unit: scopeUnit,
    token,
    lang: language(),
    onMessage: (message) => {
      board.apply(message);
      if (!performance.getEntriesByName("diemcau:first-applied").length) {
        performance.mark("diemcau:first-applied");
      }
      if (at === null || (at && !board.units.has(at))) at = drillFromAddress() || board.top();
      if (at && !board.units.has(at)) at = board.top();
      $("board").hidden = false;
      draw();
    },
    onState: showState,
  });
  live.start();
}

function askToken(reason, detail) {
  $("token-box").hidden = false;
  $("board").hidden = board.seq === null;
  $("token-error").textContent = reason ? detail || t(reason) : "";
  document.body.dataset.state = "auth";
  $("conn-text").textContent = t("state_auth");
  $("conn-detail").textContent = "";
  $("token-input").focus();
}

function showState(l) {
  if (l.state === "auth") {
    if (l.reason === "token_bad" || l.reason === "revoked") safeSet(TOKEN_KEY, null);
    return askToken(l.reason === "revoked" ? "token_revoked" : l.reason, l.detail);
  }
  document.body.dataset.state = l.state;
  $("conn-text").textContent = t(`state_${l.state}`);
  const zone = board.conference ? board.conference.timezone : "Asia/Ho_Chi_Minh";
  const parts = [];
  if (l.state === "offline" && l.retryAt) {
    parts.push(t("state_retry", { s: Math.max(0, Math.ceil((l.retryAt - Date.now()) / 1000)) }));
  }
  if (l.asOf) parts.push(t("as_of", { t: clock(l.asOf, zone) }));
  $("conn-detail").textContent = parts.join(" · ");
}

function drill(code) {
  at = code && board.units.has(code) ? code : board.top();
  const hash = at && at !== board.top() ? `#at=${encodeURIComponent(at)}` : "";
  if (location.hash !== hash) history.replaceState(null, "", location.pathname + location.search + hash);
  draw();
}

function toggleBig() {
  const big = !document.body.classList.contains("big");
  document.body.classList.toggle("big", big);
  if (big) params.set("screen", "big");
  else params.delete("screen");
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? `?${query}` : "") + location.hash);
  draw();
}

// One drawing per frame, however many messages came.
function draw() {
  if (drawing) return;
  drawing = true;
  requestAnimationFrame(() => {
    drawing = false;
    if (board.seq !== null) paint();
  });
}

function paint() {
  const lang = language();
  const c = board.conference;
  document.title = `${c.title} · ${t("title")}`;
  $("conference-title").textContent = c.title;
  $("conference-title").removeAttribute("data-t");
  let status = t(`status_${c.status}`);
  if (c.status === "draft" && c.checkin_opens_at) {
    status += ` · ${t("opens_at", { t: clock(c.checkin_opens_at, c.timezone, false) })}`;
  }
  $("conference-status").textContent = status;
  const counts = board.countsOf(at) || board.totals;
  const sums = board.unitSums().get(at || "") || { red: 0, amber: 0, sites: 0, online: 0 };
  paintTotal($("total-member"), counts, "member", lang);
  paintTotal($("total-non-member"), counts, "non_member", lang);
  $("t-guests").textContent = `${int(counts.checked_in.guest, lang)}/${int(counts.expected.guest, lang)}`;
  $("t-walk-ins").textContent = int(counts.walk_ins, lang);
  $("t-present").textContent = int(counts.present, lang);
  $("t-sites").textContent = int(sums.sites, lang);
  $("t-online").textContent = `${int(sums.online, lang)} ${t("online")}`;
  $("t-red").textContent = t("alerts_red", { n: int(sums.red, lang) });
  $("t-amber").textContent = t("alerts_amber", { n: int(sums.amber, lang) });
  $("t-red").dataset.count = String(sums.red);
  $("t-amber").dataset.count = String(sums.amber);
  paintCrumbs();
  paintUnits(lang);
  paintReadiness(lang);
  paintArrivals();
  if (document.body.classList.contains("big")) paintProblems(lang);
  if (!performance.getEntriesByName("diemcau:first-board").length) {
    performance.mark("diemcau:first-board"); // bench/live_page.py reads it
  }
  if (table.unit !== (at || "")) table.set({ unit: at || "" });
  else table.refresh();
}

function paintTotal(box, counts, category, lang) {
  const done = counts.checked_in[category];
  const expected = counts.expected[category];
  const share = rate(done, expected);
  const goal = board.totals.targets[category];
  box.querySelector(".figure").textContent = progress(done, expected, lang);
  box.querySelector(".goal").textContent =
    t("target", { t: target(goal, lang) }) + (under(share, goal) ? ` · ${t("under_target")}` : "");
  box.querySelector(".fill").style.width = `${Math.min(100, (share || 0) * 100).toFixed(2)}%`;
  box.querySelector(".mark").style.left = `${((goal || 0) * 100).toFixed(2)}%`;
  box.dataset.level = under(share, goal) ? (board.conference.status === "closed" ? "red" : "amber") : "";
  box.dataset.rate = share === null ? "" : share.toFixed(4);
}

// Under target matters once the session runs; before, every hall is still filling.
function under(share, goal) {
  const status = board.conference.status;
  return (status === "live" || status === "closed") && share !== null && share < goal;
}

function paintCrumbs() {
  const nav = $("crumbs");
  nav.textContent = "";
  const chain = [];
  for (let code = at; code && board.units.has(code); code = board.units.get(code).parent_code) {
    chain.unshift(code);
  }
  const top = board.top();
  if (!top) chain.unshift("");
  for (const code of chain) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.unit = code;
    button.textContent = code ? board.units.get(code).name : t("whole");
    button.addEventListener("click", () => drill(code));
    if (code === at) button.setAttribute("aria-current", "true");
    nav.appendChild(button);
  }
}

// The units one level down, in name order; the buttons are kept and refilled while the
// list stays the same (a national board's top may hold thousands: the first MAX_UNITS
// are shown, and any unit is reached from a site row's unit or the address's #at=).
const MAX_UNITS = 300;
let unitButtons = { key: null, buttons: [] };

function paintUnits(lang) {
  const list = $("unit-list");
  const sums = board.unitSums();
  const kids = board.children.get(at || "") || [];
  const shown = kids.slice(0, MAX_UNITS);
  const key = `${board.shape}|${at}|${shown.length}`;
  if (unitButtons.key !== key) {
    list.textContent = "";
    unitButtons = { key, buttons: shown.map((code) => unitButton(list, code)) };
  }
  shown.forEach((code, i) => fillUnit(unitButtons.buttons[i], board.units.get(code), sums.get(code), lang));
  $("unit-more").hidden = kids.length <= MAX_UNITS;
  $("unit-more").textContent = t("more_units", { n: int(kids.length - MAX_UNITS, lang) });
  $("units-panel").hidden = kids.length === 0;
}

function unitButton(list, code) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.unit = code;
  button.innerHTML =
    '<span class="u-name"></span><span class="u-fig"></span>' +
    '<span class="bar"><i class="fill"></i></span><span class="u-alerts"></span>';
  button.addEventListener("click", () => drill(code));
  li.appendChild(button);
  list.appendChild(li);
  return button;
}

function fillUnit(button, unit, s, lang) {
  const done = unit.checked_in.member + unit.checked_in.non_member;
  const expected = unit.expected.member + unit.expected.non_member;
  button.querySelector(".u-name").textContent = unit.name;
  button.querySelector(".u-fig").textContent = progress(done, expected, lang);
  const share = rate(done, expected) || 0;
  button.querySelector(".fill").style.width = `${Math.min(100, share * 100).toFixed(2)}%`;
  const alerts = button.querySelector(".u-alerts");
  alerts.textContent = "";
  if (s && s.red) alerts.appendChild(badge("red", t("alerts_red", { n: int(s.red, lang) })));
  if (s && s.amber) alerts.appendChild(badge("amber", t("alerts_amber", { n: int(s.amber, lang) })));
}

function badge(level, text) {
  const span = document.createElement("span");
  span.className = `badge ${level}`;
  span.textContent = text;
  return span;
}

// Before check-in opens, how ready the halls are, by the units one level down.
function paintReadiness(lang) {
  const show = board.conference.status === "draft" || params.get("readiness") === "1";
  $("readiness").hidden = !show;
  if (!show) return;
  const sums = board.unitSums();
  const body = $("readiness-rows");
  body.textContent = "";
  const rows = (board.children.get(at || "") || []).map((code) => [board.units.get(code).name, sums.get(code), code]);
  rows.push([t("total"), sums.get(at || ""), ""]);
  for (const [name, s, code] of rows) {
    if (!s) continue;
    const tr = document.createElement("tr");
    tr.dataset.unit = code;
    for (const value of [name, s.registered, s.tested, s.ready, s.sites]) {
      const td = document.createElement("td");
      td.textContent = typeof value === "number" ? int(value, lang) : value;
      tr.appendChild(td);
    }
    if (code === "") tr.className = "sum";
    body.appendChild(tr);
  }
}

function paintArrivals() {
  const zone = board.conference.timezone;
  $("arrivals-title").textContent = t(at && at !== board.top() ? "arrivals_scope" : "arrivals");
  drawArrivals($("arrivals"), board.totals.arrivals, live ? live.serverNow() : Date.now(), zone);
}

// The big screen's list: the worst sites of the unit, red first, then the emptiest.
function paintProblems(lang) {
  const worst = [];
  for (const site of board.sites.values()) {
    if (!site.level || (at && !board.chainOf(site).includes(at))) continue;
    worst.push(site);
  }
  worst.sort((a, b) => b.level - a.level || (a.rate ?? 1) - (b.rate ?? 1));
  const list = $("problem-list");
  list.textContent = "";
  for (const site of worst.slice(0, 8)) {
    const li = document.createElement("li");
    li.dataset.level = site.level === RED ? "red" : site.level === AMBER ? "amber" : "";
    li.textContent = `${site.name} — ${site.warnings.map(([w]) => t(w)).join(", ")} · ${percent(site.rate, lang, 0)}`;
    list.appendChild(li);
  }
  if (!worst.length) {
    const li = document.createElement("li");
    li.textContent = t("no_problems");
    list.appendChild(li);
  }
}

function tick() {
  const zone = board.conference ? board.conference.timezone : "Asia/Ho_Chi_Minh";
  $("clock").textContent = clock(live ? live.serverNow() : Date.now(), zone);
  if (board.seq !== null && new Date().getSeconds() === 0) paintArrivals();
}

start();

// The site table, virtualised: only the rows in sight (and a few either side) are in
// the DOM, a fixed pool of row elements moved and refilled as the list scrolls, so
// 40,000 sites cost what 30 do. Filtering and sorting make an array of codes, redone
// when the person asks, or at most once a second while deltas come.

import { AMBER, RED, byName } from "./board.js";
import { clock, fold, int, percent, progress } from "./format.js";
import { language, t } from "./i18n.js";

const OVERSCAN = 6;
const RESORT_EVERY = 1000;

const SORTS = {
  level: (a, b) => b.level - a.level || nullLast(a.rate, b.rate) || cmp(a.code, b.code),
  code: (a, b) => cmp(a.code, b.code),
  name: (a, b) => byName(a.name, b.name) || cmp(a.code, b.code),
  unit: (a, b) => cmp(a.unit_code || "", b.unit_code || "") || cmp(a.code, b.code),
  progress: (a, b) => nullLast(a.rate, b.rate) || cmp(a.code, b.code),
  members: (a, b) => nullLast(a.rateMember, b.rateMember) || cmp(a.code, b.code),
  non_members: (a, b) => nullLast(a.rateNonMember, b.rateNonMember) || cmp(a.code, b.code),
  present: (a, b) => a.present - b.present || cmp(a.code, b.code),
  last: (a, b) => cmp(a.last_scan_at || "", b.last_scan_at || "") || cmp(a.code, b.code),
};

const FILTERS = {
  all: () => true,
  problems: (s) => s.level > 0,
  red: (s) => s.level === RED,
  lost: (s) => s.link === "lost",
  silent: (s) => s.silent,
  under: (s) => s.under,
  over: (s) => s.over_capacity,
  not_ready: (s) => s.status !== "ready",
};

function cmp(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function nullLast(a, b) {
  if (a === null) return b === null ? 0 : 1;
  if (b === null) return -1;
  return a - b;
}

export class SiteTable {
  constructor(root, board, onUnit) {
    this.root = root;
    this.board = board;
    this.scroller = root.querySelector(".rows");
    this.spacer = root.querySelector(".spacer");
    this.count = root.querySelector(".shown");
    this.sort = "level";
    this.descending = false;
    this.filter = "all";
    this.query = "";
    this.unit = "";
    this.codes = [];
    this.madeAt = -Infinity;
    this.madeFor = null;
    this.pool = [];
    this.rowHeight = 0;
    this.stats = { draws: 0, ms: 0, worst: 0 }; // the table's own drawing time (benches)
    this.scroller.addEventListener("scroll", () => this.paint(), { passive: true });
    // A site's unit is a way into the tree.
    this.scroller.addEventListener("click", (event) => {
      const cell = event.target.closest(".c-unit");
      const row = cell && cell.closest(".site-row");
      const site = row && board.sites.get(row.dataset.code);
      if (site && site.unit_code) onUnit(site.unit_code);
    });
    window.addEventListener("resize", () => {
      this.rowHeight = 0;
      this.paint();
    });
    for (const head of root.querySelectorAll("[data-sort]")) {
      head.addEventListener("click", () => this.sortBy(head.dataset.sort));
    }
  }

  sortBy(key) {
    if (this.sort === key) this.descending = !this.descending;
    else {
      this.sort = key;
      this.descending = false;
    }
    for (const head of this.root.querySelectorAll("[data-sort]")) {
      head.dataset.active = head.dataset.sort === key ? (this.descending ? "desc" : "asc") : "";
    }
    this.refresh(true);
  }

  set(options) {
    Object.assign(this, options);
    this.refresh(true);
  }

  // The list of codes shown, made again when asked, or (deltas) at most once a second.
  refresh(now = false) {
    const wanted = `${this.sort}|${this.descending}|${this.filter}|${this.query}|${this.unit}|${this.board.shape}`;
    const due = performance.now() - this.madeAt > RESORT_EVERY;
    if (now || wanted !== this.madeFor || (due && this.madeVersion !== this.board.version)) {
      this.make(wanted);
    } else if (this.madeVersion !== this.board.version && !this.pending) {
      this.pending = setTimeout(() => {
        this.pending = null;
        this.refresh();
      }, RESORT_EVERY);
    }
    this.paint();
  }

  make(wanted) {
    const board = this.board;
    const words = fold(this.query).split(" ").filter(Boolean);
    const keep = FILTERS[this.filter] || FILTERS.all;
    const unit = this.unit;
    const found = [];
    for (const site of board.sites.values()) {
      if (unit && !board.chainOf(site).includes(unit)) continue;
      if (!keep(site)) continue;
      if (words.length) {
        const key = board.searchKey(site);
        if (!words.every((w) => key.includes(w))) continue;
      }
      found.push(site);
    }
    const order = SORTS[this.sort] || SORTS.level;
    found.sort(this.descending ? (a, b) => order(b, a) : order);
    this.codes = found.map((s) => s.code);
    this.total = unit ? (board.unitSums().get(unit) || { sites: 0 }).sites : board.sites.size;
    this.madeAt = performance.now();
    this.madeFor = wanted;
    this.madeVersion = board.version;
    this.root.dataset.rows = String(this.codes.length);
  }

  measure() {
    if (this.rowHeight) return;
    const probe = this.row();
    this.scroller.appendChild(probe.el);
    this.rowHeight = probe.el.getBoundingClientRect().height || 48;
    probe.el.remove();
  }

  paint() {
    if (this.painting) return;
    this.painting = true;
    requestAnimationFrame(() => {
      this.painting = false;
      this.draw();
    });
  }

  draw() {
    const t0 = performance.now();
    this.drawRows();
    const took = performance.now() - t0;
    this.stats.draws++;
    this.stats.ms += took;
    this.stats.worst = Math.max(this.stats.worst, took);
  }

  drawRows() {
    this.measure();
    const height = this.rowHeight;
    const n = this.codes.length;
    this.spacer.style.height = `${n * height}px`;
    const top = this.scroller.scrollTop;
    const first = Math.max(0, Math.floor(top / height) - OVERSCAN);
    const visible = Math.ceil(this.scroller.clientHeight / height) + 2 * OVERSCAN;
    const last = Math.min(n, first + visible);
    while (this.pool.length < last - first) {
      const row = this.row();
      this.spacer.appendChild(row.el);
      this.pool.push(row);
    }
    for (let i = 0; i < this.pool.length; i++) {
      const row = this.pool[i];
      const index = first + i;
      if (index >= last) {
        row.el.hidden = true;
        continue;
      }
      row.el.hidden = false;
      row.el.style.transform = `translateY(${index * height}px)`;
      this.fill(row, this.board.sites.get(this.codes[index]));
    }
    this.count.textContent = t("shown", {
      n: int(n, language()),
      m: int(this.total ?? this.board.sites.size, language()),
    });
    this.root.querySelector(".empty").hidden = n > 0;
  }

  row() {
    const el = document.createElement("div");
    el.className = "site-row";
    el.setAttribute("role", "row");
    el.innerHTML =
      '<span class="c-site" role="cell"><b class="code"></b> <span class="name"></span><small class="warn"></small></span>' +
      '<span class="c-unit" role="cell"></span>' +
      '<span class="c-progress" role="cell"><span class="bar"><i class="fill"></i><i class="mark"></i></span><span class="num"></span></span>' +
      '<span class="c-members num" role="cell"></span>' +
      '<span class="c-non-members num" role="cell"></span>' +
      '<span class="c-present num" role="cell"></span>' +
      '<span class="c-capacity num" role="cell"></span>' +
      '<span class="c-link" role="cell"></span>' +
      '<span class="c-status" role="cell"></span>' +
      '<span class="c-last" role="cell"></span>';
    const q = (s) => el.querySelector(s);
    return {
      el,
      code: q(".code"),
      name: q(".name"),
      warn: q(".warn"),
      unit: q(".c-unit"),
      fill: q(".fill"),
      mark: q(".mark"),
      num: q(".c-progress .num"),
      members: q(".c-members"),
      nonMembers: q(".c-non-members"),
      present: q(".c-present"),
      capacity: q(".c-capacity"),
      link: q(".c-link"),
      status: q(".c-status"),
      last: q(".c-last"),
    };
  }

  fill(row, site) {
    if (!site) return;
    const lang = language();
    const board = this.board;
    const unit = board.units.get(site.unit_code);
    row.el.dataset.code = site.code;
    row.el.dataset.level = site.level === RED ? "red" : site.level === AMBER ? "amber" : "";
    row.code.textContent = site.code;
    row.name.textContent = site.name;
    row.warn.textContent = site.warnings.map(([w]) => t(w)).join(" · ");
    row.unit.textContent = unit ? unit.name : site.unit_code || "";
    const share = site.rate === null ? 0 : Math.min(1, site.rate);
    row.fill.style.width = `${(share * 100).toFixed(2)}%`;
    row.el.dataset.rate = site.rate === null ? "" : site.rate.toFixed(4);
    const goal = board.totals ? board.totals.targets.member : null;
    row.mark.hidden = goal === null || goal === undefined;
    if (!row.mark.hidden) row.mark.style.left = `${(goal * 100).toFixed(2)}%`;
    row.num.textContent = progress(site.done, site.expectedAll, lang);
    row.members.textContent = percent(site.rateMember, lang, 1);
    row.nonMembers.textContent = percent(site.rateNonMember, lang, 1);
    row.present.textContent = int(site.present, lang);
    row.capacity.textContent = site.capacity === null ? "—" : int(site.capacity, lang);
    row.link.textContent = t(`link_${site.link}`);
    row.link.dataset.link = site.link;
    row.status.textContent = t(site.status) || site.status;
    const zone = board.conference ? board.conference.timezone : "Asia/Ho_Chi_Minh";
    row.last.textContent = site.last_scan_at ? clock(site.last_scan_at, zone, false) : "—";
  }
}

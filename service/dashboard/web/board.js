// The board as the page holds it: the live view (docs/live.md) kept by applying the
// snapshot and the deltas, and what the page works out from it (each site's warnings,
// its units up the tree, sums by unit of warnings and readiness).

import { fold, rate } from "./format.js";

export const RED = 2;
// One collator for every comparison: localeCompare with a locale builds one per call,
// which costs seconds when thousands of units are sorted.
export const byName = new Intl.Collator("vi").compare;
export const AMBER = 1;
const SESSION = new Set(["open", "live"]);

export class Board {
  constructor() {
    this.seq = null;
    this.conference = null;
    this.scope = null;
    this.totals = null;
    this.sites = new Map(); // code -> entry (as sent, plus `code`, `key`, `chain`, warnings)
    this.units = new Map(); // code -> entry (plus `code`)
    this.children = new Map(); // unit code or "" (the top) -> [unit codes]
    this.version = 0; // grows with every change: views compare it to know they are stale
    this.shape = 0; // grows when units or the set of sites change
    this.sums = null;
  }

  // A snapshot replaces everything held; a delta replaces (or deletes) what it names.
  apply(message) {
    if (message.type === "snapshot" || message.type === undefined) {
      this.sites.clear();
      this.units.clear();
      this.conference = message.conference;
      this.scope = message.scope;
      for (const [code, unit] of Object.entries(message.units)) this.units.set(code, { ...unit, code });
      for (const [code, site] of Object.entries(message.sites)) this.putSite(code, site);
      this.shape++;
    } else if (message.type === "delta") {
      if (message.conference) this.conference = message.conference;
      let reshaped = false;
      for (const [code, unit] of Object.entries(message.units || {})) {
        if (unit === null) {
          this.units.delete(code);
          reshaped = true;
        } else {
          const old = this.units.get(code);
          if (!old || old.parent_code !== unit.parent_code || old.name !== unit.name) reshaped = true;
          this.units.set(code, { ...unit, code });
        }
      }
      for (const [code, site] of Object.entries(message.sites || {})) {
        if (site === null) {
          this.sites.delete(code);
          reshaped = true;
        } else {
          const old = this.sites.get(code);
          if (!old || old.unit_code !== site.unit_code) reshaped = true;
          this.putSite(code, site);
        }
      }
      if (reshaped) this.shape++;
    } else {
      return false;
    }
    this.totals = message.totals;
    this.seq = message.seq;
    if (this.shape !== this.treeShape) this.buildTree();
    this.markAll();
    this.version++;
    this.sums = null;
    return true;
  }

  putSite(code, entry) {
    const old = this.sites.get(code);
    const site = { ...entry, code };
    site.done = entry.checked_in.member + entry.checked_in.non_member + entry.checked_in.guest;
    site.expectedAll = entry.expected.member + entry.expected.non_member + entry.expected.guest;
    site.rate = rate(site.done, site.expectedAll);
    site.rateMember = rate(entry.checked_in.member, entry.expected.member);
    site.rateNonMember = rate(entry.checked_in.non_member, entry.expected.non_member);
    site.chain = old && old.unit_code === entry.unit_code ? old.chain : null;
    site.key = old && old.name === entry.name && old.unit_code === entry.unit_code ? old.key : null;
    this.sites.set(code, site);
  }

  buildTree() {
    this.children = new Map([["", []]]);
    for (const unit of this.units.values()) {
      const parent = unit.parent_code && this.units.has(unit.parent_code) ? unit.parent_code : "";
      if (!this.children.has(parent)) this.children.set(parent, []);
      this.children.get(parent).push(unit.code);
    }
    for (const list of this.children.values()) {
      list.sort((a, b) => byName(this.units.get(a).name, this.units.get(b).name));
    }
    for (const site of this.sites.values()) {
      site.chain = null;
      site.key = null;
    }
    this.treeShape = this.shape;
  }

  // The site's units from its own up to the scope's top (cached until the tree changes).
  chainOf(site) {
    if (site.chain) return site.chain;
    const chain = [];
    let code = site.unit_code;
    while (code && this.units.has(code) && chain.length < 32) {
      chain.push(code);
      code = this.units.get(code).parent_code;
    }
    site.chain = chain;
    return chain;
  }

  searchKey(site) {
    if (site.key === null || site.key === undefined) {
      const unit = this.units.get(site.unit_code);
      site.key = fold(`${site.code} ${site.name} ${unit ? unit.name : ""}`);
    }
    return site.key;
  }

  markAll() {
    for (const site of this.sites.values()) this.mark(site);
  }

  // The warnings of a site, worst first, and its level (RED, AMBER or 0).
  mark(site) {
    const status = this.conference ? this.conference.status : "draft";
    const targets = (this.totals && this.totals.targets) || {};
    const warnings = [];
    if (site.over_capacity) warnings.push(["a_over", RED]);
    if (SESSION.has(status)) {
      if (site.link === "lost") warnings.push(["a_lost", RED]);
      else if (site.link === "degraded" && !site.kiosk_online) warnings.push(["a_silent", AMBER]);
      else if (site.link === "degraded") warnings.push(["a_degraded", AMBER]);
      else if (site.link === "unknown" && status === "live") warnings.push(["a_no_kiosk", AMBER]);
    }
    if (status === "live" || status === "closed") {
      const under =
        (site.rateMember !== null && site.rateMember < (targets.member ?? 0)) ||
        (site.rateNonMember !== null && site.rateNonMember < (targets.non_member ?? 0));
      if (under) warnings.push(["a_under", status === "closed" ? RED : AMBER]);
    }
    site.warnings = warnings;
    site.level = warnings.reduce((worst, [, level]) => Math.max(worst, level), 0);
    site.silent = warnings.some(([w]) => w === "a_silent" || w === "a_no_kiosk");
    site.under = warnings.some(([w]) => w === "a_under");
  }

  // Per unit (and "" for the whole scope): sites red and amber, readiness, kiosks online.
  unitSums() {
    if (this.sums) return this.sums;
    const sums = new Map();
    const add = (code, site) => {
      let s = sums.get(code);
      if (!s) {
        s = { red: 0, amber: 0, registered: 0, tested: 0, ready: 0, sites: 0, online: 0 };
        sums.set(code, s);
      }
      s.sites++;
      if (site.level === RED) s.red++;
      else if (site.level === AMBER) s.amber++;
      if (site.status in s) s[site.status]++;
      if (site.kiosk_online) s.online++;
    };
    for (const site of this.sites.values()) {
      add("", site);
      for (const code of this.chainOf(site)) add(code, site);
    }
    this.sums = sums;
    return sums;
  }

  // The top of the tree the page starts from: the only root when there is one.
  top() {
    const roots = this.children.get("") || [];
    return roots.length === 1 ? roots[0] : "";
  }

  // Counts of a unit (or the whole scope for ""): expected, checked_in, walk_ins, present.
  countsOf(code) {
    if (!code) return this.totals;
    return this.units.get(code) || null;
  }
}

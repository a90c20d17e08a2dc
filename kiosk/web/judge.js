// The offline answer to a scan, from the roster snapshot and what this device knows of
// each delegate's entries and exits, in the shape of the service's result so the page
// shows both the same way. The rule itself is the service's (rules.js, a port of
// service/checkin/rules.py); this device knows only its own scans and what the service
// told it of others, so a duplicate of a check-in made at another kiosk shows up when
// the service answers.

import { InvalidCredential } from "./credential.js";
import { decide, gate, insert } from "./rules.js";

// green accepted; amber moved, re-entry, the exit of someone not checked in, or a second
// exit (the person leaves anyway: the door looks, nobody is stopped); red the rest.
export function colour(result) {
  if (result.result === "duplicate" && result.direction === "out") return "amber";
  if (result.result !== "accepted") return "red";
  if (result.moved || result.reentry || result.unknown) return "amber";
  if (result.direction === "out" && result.checked_in === false) return "amber";
  return "green";
}

export function differs(local, remote) {
  return local.result !== remote.result || colour(local) !== colour(remote);
}

function delegateOf(entry, siteName) {
  if (!entry) return null;
  const { id, full_name, category, unit_code, unit_name, site_code } = entry;
  return { id, full_name, category, unit_code, unit_name, site_code, site_name: siteName(site_code) };
}

// The conference's window as rules.gate reads it.
function windowOf(conference) {
  const at = (text) => (text ? Date.parse(text) : NaN);
  return {
    opens_at: at(conference.checkin_opens_at) || -Infinity,
    ends_at: at(conference.ends_at) || Infinity,
    signed_off: conference.status === "signed_off",
    reject_other_site: conference.policy?.other_site === "reject",
  };
}

// Step 2, the code: who it names, and its own refusal (invalid, revoked) if it has one.
async function identify(ctx, scan) {
  if (scan.method === "manual") {
    return { delegateId: scan.delegate_id, claims: null, refusal: null };
  }
  try {
    const claims = await ctx.verifier.verify(scan.qr);
    return { delegateId: claims.delegate_id, claims, refusal: null };
  } catch (err) {
    if (!(err instanceof InvalidCredential)) throw err;
    return { delegateId: null, claims: null, refusal: { result: "invalid", reason: err.reason } };
  }
}

// Whose site the holder is of: the roster's word, else the site number in the code
// (then compared with this kiosk's `site.id`), else nobody can tell (null).
function homeOf(ctx, entry, claims) {
  if (entry) return { home: entry.site_code, here: ctx.site.code };
  if (claims?.site_id != null && ctx.site.id != null) {
    return { home: `#${claims.site_id}`, here: `#${ctx.site.id}` };
  }
  return { home: null, here: null };
}

// ctx: {conference, site, verifier, roster(id) -> entry, timeline(id) -> entries,
// siteName(code) -> name}. The answer carries `entry`, the timeline entry this scan adds
// when it passed the gate.
export async function judge(ctx, scan) {
  const window = windowOf(ctx.conference);
  const at = Date.parse(scan.scanned_at);
  if (scan.method === "walk_in") {
    const [refused] = gate(window, at);
    const walkIn = { full_name: scan.full_name, category: scan.category };
    return { direction: "in", result: refused?.result ?? "accepted", walk_in: walkIn };
  }
  const { delegateId, claims, refusal: codeRefusal } = await identify(ctx, scan);
  const entry = delegateId == null ? null : await ctx.roster(delegateId);
  let refusal = codeRefusal;
  if (!refusal && entry && (entry.revoked || (claims && claims.version < entry.credential_version))) {
    refusal = { result: "revoked" };
  }
  const { home, here } = homeOf(ctx, entry, claims);
  const [refused, moved] = gate(window, at, refusal, home, here);
  const base = { direction: scan.direction, delegate: delegateOf(entry, ctx.siteName), delegate_id: delegateId };
  if (refused) return { ...base, result: refused.result, reason: refused.reason ?? undefined };
  const step = { at, inward: scan.direction === "in", site: ctx.site.code, scan_id: scan.scan_id };
  const entries = [...((await ctx.timeline(delegateId)) ?? [])];
  const v = decide(entries, step, moved);
  const out = { ...base, result: v.result, moved: v.moved, reentry: v.reentry, entry: step };
  if (v.checked_in !== null) out.checked_in = v.checked_in;
  if (v.reason === "already_out") out.reason = v.reason;
  if (v.first) out.first = { scanned_at: new Date(v.first.at).toISOString(), site_code: v.first.site };
  // A genuine code of someone on no roster here: accepted, but the door should look.
  if (!entry && v.result === "accepted" && scan.direction === "in") out.unknown = true;
  return out;
}

// What a service's answer teaches this device about the delegate's timeline: whether
// this scan passed the gate there (it is in their timeline, or not), and, for a
// duplicate, the entry it names (made at another kiosk, perhaps).
export function learn(entries, record, siteCode) {
  const { remote, scan } = record;
  const next = entries.filter((e) => e.scan_id !== record.scan_id);
  if (remote.result !== "accepted" && remote.result !== "duplicate") return next;
  const inward = scan.direction === "in";
  insert(next, { at: Date.parse(scan.scanned_at), inward, site: siteCode, scan_id: record.scan_id });
  if (remote.result === "duplicate" && remote.first?.scanned_at) {
    const at = Date.parse(remote.first.scanned_at);
    const site = remote.first.site_code;
    // The entry a duplicate names is the counted `in`, or, for a second exit, the exit before.
    const known = next.some((e) => e.at === at && e.site === site && e.inward === inward);
    if (!known) insert(next, { at, inward, site, scan_id: null });
  }
  return next;
}

// A timeline as stored; devices that kept the older {inside, first_at, first_site} are
// read as an entry (and an exit after it when the person had left).
export function entriesOf(seen) {
  if (!seen) return [];
  if (Array.isArray(seen.entries)) return seen.entries;
  if (!seen.first_at) return [];
  const at = Date.parse(seen.first_at);
  const entries = [{ at, inward: true, site: seen.first_site, scan_id: null }];
  if (!seen.inside) entries.push({ at: at + 1, inward: false, site: seen.first_site, scan_id: null });
  return entries;
}

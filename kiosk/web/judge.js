// The offline answer to a scan, from the roster snapshot and what this device saw, in the
// shape of the service's result so the page shows both the same way. The service's rules
// are in DESIGN.md ("Rules"); this device knows only its own scans, so a duplicate of a
// check-in made at another kiosk shows up when the service answers.

import { InvalidCredential } from "./credential.js";

// green accepted; amber moved, re-entry, or the exit of someone not checked in; red the rest.
export function colour(result) {
  if (result.result !== "accepted") return "red";
  if (result.moved || result.reentry || result.unknown) return "amber";
  if (result.direction === "out" && result.checked_in === false) return "amber";
  return "green";
}

export function differs(local, remote) {
  return local.result !== remote.result || colour(local) !== colour(remote);
}

function delegateOf(entry) {
  if (!entry) return null;
  const { id, full_name, category, unit_code, unit_name, site_code } = entry;
  return { id, full_name, category, unit_code, unit_name, site_code };
}

function window(conference, scannedAt) {
  const at = Date.parse(scannedAt);
  if (conference.checkin_opens_at && at < Date.parse(conference.checkin_opens_at)) {
    return "not_open";
  }
  if (conference.status === "signed_off") return "closed";
  if (conference.ends_at && at >= Date.parse(conference.ends_at)) return "closed"; // as the service
  return null;
}

// What the entry (roster) and seen (this device) say about a genuine code's holder.
function attendance(ctx, entry, seen, scan, claims) {
  const base = { direction: scan.direction, delegate: delegateOf(entry), moved: false };
  if (entry && (entry.revoked || claims.version < entry.credential_version)) {
    return { ...base, result: "revoked" };
  }
  // Off the roster this device holds, the code itself still says whose site it is.
  const codeSite = claims.site_id != null && ctx.site.id != null ? claims.site_id : null;
  const other = entry ? entry.site_code !== ctx.site.code : codeSite !== null && codeSite !== ctx.site.id;
  if (other && ctx.conference.policy?.other_site === "reject") {
    return { ...base, result: "wrong_site" };
  }
  const moved = other || !entry;
  if (scan.direction === "out") {
    // An exit after an exit this device saw is a duplicate, as the service answers it.
    if (seen && !seen.inside) return { ...base, result: "duplicate", moved, checked_in: true };
    return { ...base, result: "accepted", moved, checked_in: Boolean(seen?.inside) };
  }
  if (seen?.inside) {
    return {
      ...base,
      result: "duplicate",
      moved,
      first: { scanned_at: seen.first_at, site_code: seen.first_site },
    };
  }
  return { ...base, result: "accepted", moved: other, unknown: !entry, reentry: Boolean(seen) };
}

// ctx: {conference, site, verifier, roster(id) -> entry, seen(id) -> state}.
export async function judge(ctx, scan) {
  const closed = window(ctx.conference, scan.scanned_at);
  if (scan.method === "walk_in") {
    const walkIn = { full_name: scan.full_name, category: scan.category };
    return { direction: "in", result: closed ?? "accepted", walk_in: walkIn };
  }
  let delegateId = scan.delegate_id;
  let claims = { version: Infinity, site_id: null };
  if (scan.method !== "manual") {
    try {
      claims = await ctx.verifier.verify(scan.qr);
      delegateId = claims.delegate_id;
    } catch (err) {
      if (!(err instanceof InvalidCredential)) throw err;
      return { direction: scan.direction, result: "invalid", reason: err.reason };
    }
  }
  const entry = await ctx.roster(delegateId);
  if (closed) return { direction: scan.direction, result: closed, delegate: delegateOf(entry) };
  const seen = await ctx.seen(delegateId);
  return { ...attendance(ctx, entry, seen, scan, claims), delegate_id: delegateId };
}

// This device's idea of a delegate after an answer (offline or the service's).
export function nextSeen(seen, delegateId, result, scan, siteCode) {
  if (delegateId == null) return null;
  if (result.result === "duplicate" && result.first) {
    return { delegate_id: delegateId, inside: true, ...firstOf(seen, result.first) };
  }
  if (result.result !== "accepted") return null;
  if (scan.direction === "out") return seen ? { ...seen, inside: false } : null;
  const first = seen ?? { first_at: scan.scanned_at, first_site: siteCode };
  return { delegate_id: delegateId, ...first, inside: true };
}

function firstOf(seen, first) {
  return { first_at: first.scanned_at ?? seen?.first_at, first_site: first.site_code };
}

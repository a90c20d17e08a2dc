// The service's rule for one scan, ported from service/checkin/rules.py (`gate`,
// `decide`) and service/checkin/timeline.py (`insert`, `first_in`), step for step, so
// the page judges a scan as the service would with what the page knows. A browser test
// (tests/test_kiosk_rules.py) runs both on the same cases.
//
// A timeline is one delegate's valid scans sorted by time (a tie goes to the one that
// arrived first): entries {at (ms), inward, site, scan_id}. The counted entry is the
// earliest `in`; an `in` after an `out` is a re-entry; an `out` after an `out` is a
// duplicate ("already left"), as is an `in` after an `in`.

// A badge scanned hundreds of times must not grow a timeline without end (as the service).
export const MAX_ENTRIES = 100;

// Puts `entry` in its place (after any entry of the same time); its index, or null when
// the timeline is full and the entry was left out.
export function insert(entries, entry) {
  if (entries.length >= MAX_ENTRIES) return null;
  return place(entries, entry);
}

function place(entries, entry) {
  if (entries.length === 0 || entries[entries.length - 1].at <= entry.at) {
    entries.push(entry);
    return entries.length - 1;
  }
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (entry.at < entries[mid].at) hi = mid;
    else lo = mid + 1;
  }
  entries.splice(lo, 0, entry);
  return lo;
}

// The index of the counted entry (the earliest `in`), or null.
export function firstIn(entries) {
  const i = entries.findIndex((e) => e.inward);
  return i < 0 ? null : i;
}

function verdict(result, fields = {}) {
  return { result, reason: null, moved: false, reentry: false, checked_in: null, first: null, ...fields };
}

// Steps 1-4: a refusing verdict (or null, go on to the timeline) and `moved`.
// window: {opens_at, ends_at (ms), signed_off, reject_other_site}; `refusal` the code's
// own ({result: "invalid" | "revoked", reason}); homeSite null for a walk-in.
export function gate(window, judged, refusal = null, homeSite = null, hereSite = null) {
  if (window.signed_off) return [verdict("closed", { reason: "signed_off" }), false];
  if (refusal) return [refusal, false];
  if (judged < window.opens_at) return [verdict("not_open"), false];
  if (judged >= window.ends_at) return [verdict("closed"), false];
  const moved = homeSite != null && homeSite !== hereSite;
  if (moved && window.reject_other_site) return [verdict("wrong_site"), false];
  return [null, moved];
}

// Step 5: adds a valid scan to the delegate's timeline (in place) and judges it there.
export function decide(entries, entry, moved) {
  let index = insert(entries, entry);
  if (index === null) {
    // The timeline is full: judge as if the entry were there, keep nothing.
    entries = [...entries];
    index = place(entries, entry);
  }
  const first = firstIn(entries);
  const prev = index > 0 ? entries[index - 1] : null;
  if (entry.inward) {
    if (first === index) return verdict("accepted", { moved });
    if (prev !== null && !prev.inward && first !== null && first < index) {
      return verdict("accepted", { moved, reentry: true });
    }
    return verdict("duplicate", { first: entries[first] });
  }
  if (first === null || first > index) {
    return verdict("accepted", { reason: "no_entry", checked_in: false });
  }
  if (prev !== null && prev.inward) return verdict("accepted", { checked_in: true });
  return verdict("duplicate", { reason: "already_out", checked_in: true, first: prev });
}

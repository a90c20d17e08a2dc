// What this device remembers beside its queue (IndexedDB): each delegate's entries and
// exits as it knows them (its own scans, and what the service told of others: the page
// judges by them, rules.js), and the answers the door was told offline that the service
// then contradicted, until a person dismisses them.

import { entriesOf, learn } from "./judge.js";
import { insert } from "./rules.js";

const KEEP_CHANGED = 200;

export async function timeline(store, delegateId) {
  return delegateId == null ? [] : entriesOf(await store.get("seen", delegateId));
}

async function remember(store, delegateId, fn) {
  if (delegateId == null) return;
  const entries = fn(await timeline(store, delegateId));
  await store.putMany("seen", [{ delegate_id: delegateId, entries }]);
}

// The entry a scan judged here adds (it passed the gate on this device).
export function rememberScan(store, local) {
  return remember(store, local.delegate_id, (entries) => {
    const next = [...entries];
    insert(next, local.entry);
    return next;
  });
}

// The service's answer to a scan of this device: kept in, or taken out, of the timeline.
export function rememberAnswer(store, record, siteCode) {
  return remember(store, record.remote.delegate?.id, (entries) => learn(entries, record, siteCode));
}

export async function changes(store) {
  const ids = (await store.get("meta", "changed")) ?? [];
  const found = await Promise.all(ids.map((id) => store.get("scans", id)));
  return found.filter(Boolean).sort((a, b) => b.seq - a.seq);
}

export async function noteChanges(store, records) {
  if (records.length === 0) return;
  const ids = (await store.get("meta", "changed")) ?? [];
  const next = [...new Set([...ids, ...records.map((r) => r.scan_id)])].slice(-KEEP_CHANGED);
  await store.put("meta", next, "changed");
}

export function dismissChanges(store) {
  return store.put("meta", [], "changed");
}

// IndexedDB, the kiosk's memory across reloads and closed tabs: the enrollment, the
// roster snapshot, the scans not yet confirmed by the service, and what this device saw.

const NAME = "diemcau-kiosk";
const VERSION = 1;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
}

export function open() {
  const req = indexedDB.open(NAME, VERSION);
  req.onupgradeneeded = () => {
    const db = req.result;
    db.createObjectStore("meta"); // enrollment, roster version, keys, settings
    db.createObjectStore("delegates", { keyPath: "id" });
    // Every scan this device made: `state` queued (not yet confirmed), done, refused.
    const scans = db.createObjectStore("scans", { keyPath: "scan_id" });
    scans.createIndex("state", "state");
    scans.createIndex("seq", "seq");
    db.createObjectStore("seen", { keyPath: "delegate_id" }); // who is in, per this device
  };
  return request(req);
}

export class Store {
  constructor(db) {
    this.db = db;
  }

  static async open() {
    return new Store(await open());
  }

  async get(store, key) {
    return request(this.db.transaction(store).objectStore(store).get(key));
  }

  async put(store, value, key) {
    const tx = this.db.transaction(store, "readwrite");
    tx.objectStore(store).put(value, key);
    return done(tx);
  }

  async putMany(store, values) {
    const tx = this.db.transaction(store, "readwrite");
    const os = tx.objectStore(store);
    for (const v of values) os.put(v);
    return done(tx);
  }

  async deleteMany(store, keys) {
    const tx = this.db.transaction(store, "readwrite");
    const os = tx.objectStore(store);
    for (const k of keys) os.delete(k);
    return done(tx);
  }

  // Read-modify-write of some records in one transaction, so two writers of one record
  // (the sender's answer, the page's "told offline") never undo each other. `fn` gets
  // the record as stored (or undefined) and returns the new one, or null to leave it.
  async update(store, keys, fn) {
    const tx = this.db.transaction(store, "readwrite");
    const os = tx.objectStore(store);
    const out = [];
    for (const key of keys) {
      os.get(key).onsuccess = (event) => {
        const next = fn(event.target.result);
        if (next) {
          os.put(next);
          out.push(next);
        }
      };
    }
    await done(tx);
    return out;
  }

  async all(store) {
    return request(this.db.transaction(store).objectStore(store).getAll());
  }

  async count(store, index, key) {
    const os = this.db.transaction(store).objectStore(store);
    return request(index ? os.index(index).count(key) : os.count());
  }

  async byIndex(store, index, key, limit) {
    const os = this.db.transaction(store).objectStore(store);
    return request(os.index(index).getAll(key, limit));
  }

  // The latest scans first, for the page's list of recent answers.
  async latest(store, limit) {
    const os = this.db.transaction(store).objectStore(store);
    const out = [];
    return new Promise((resolve, reject) => {
      const req = os.index("seq").openCursor(null, "prev");
      req.onsuccess = () => {
        const cursor = req.result;
        if (!cursor || out.length >= limit) return resolve(out);
        out.push(cursor.value);
        cursor.continue();
      };
      req.onerror = () => reject(req.error);
    });
  }

  async clear(...stores) {
    const tx = this.db.transaction(stores, "readwrite");
    for (const s of stores) tx.objectStore(s).clear();
    return done(tx);
  }
}

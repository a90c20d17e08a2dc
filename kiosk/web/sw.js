// The kiosk's service worker: the page and its files from a cache, so the page loads with
// no link. The service writes VERSION (a hash of every file) and ASSETS when it serves
// this file, so any change to the page is a new worker and a new cache.
const VERSION = "__VERSION__";
const ASSETS = __ASSETS__;
const CACHE = `diemcau-kiosk-${VERSION}`;
const PAGE = "/kiosk";

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([PAGE, ...ASSETS]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names.filter((n) => n.startsWith("diemcau-kiosk-") && n !== CACHE).map((n) => caches.delete(n)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

// The page's own files only; the API (/api/…) is outside this worker's scope, so scans
// and rosters always meet the network (or fail, and wait in IndexedDB).
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  const key = url.pathname;
  if (key !== PAGE && !ASSETS.includes(key)) return;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const hit = await cache.match(key);
      return hit ?? fetch(event.request);
    }),
  );
});

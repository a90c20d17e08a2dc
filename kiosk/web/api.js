// The service, as docs/checkin.md describes it. Every call says what happened in one
// object: {ok, status, body, network} — the sender needs "no link" and "refused" apart.

import { language } from "./i18n.js";

const TIMEOUT_MS = 20_000;

export class Api {
  constructor(token = null) {
    this.token = token;
  }

  async call(method, path, { body, headers = {} } = {}) {
    // Problem details (an enrollment refused, …) come back in the page's language.
    const init = {
      method,
      headers: { Accept: "application/json", "Accept-Language": language(), ...headers },
    };
    if (this.token) init.headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      // no-store: a roster or a count from the HTTP cache would hide a lost link. The
      // timeout: a link that hangs instead of failing must not hold the queue forever.
      const signal = AbortSignal.timeout(TIMEOUT_MS);
      response = await fetch(path, { ...init, cache: "no-store", signal });
    } catch (err) {
      return { ok: false, network: true, status: 0, body: null, error: String(err) };
    }
    let parsed = null;
    if (response.status !== 204 && response.status !== 304) {
      try {
        parsed = await response.json();
      } catch {
        parsed = null;
      }
    }
    return {
      ok: response.ok,
      network: false,
      status: response.status,
      body: parsed,
      headers: response.headers,
    };
  }

  enroll(code, deviceName) {
    return this.call("POST", "/api/v1/kiosks/enroll", {
      body: { code, device_name: deviceName },
    });
  }

  previewEnrollment(code) {
    return this.call("POST", "/api/v1/kiosks/enroll/preview", { body: { code } });
  }

  kiosk() {
    return this.call("GET", "/api/v1/kiosk");
  }

  roster(scope, since) {
    const query = new URLSearchParams({ scope });
    if (since) query.set("since", since);
    return this.call("GET", `/api/v1/kiosk/roster?${query}`);
  }

  searchDelegates(q) {
    return this.call("GET", `/api/v1/kiosk/delegates?q=${encodeURIComponent(q)}`);
  }

  // `sent_at` (this device's clock as the request leaves): the service measures the
  // device's clock by it and corrects the scans' times (docs/checkin.md, Clocks).
  checkins(scans) {
    return this.call("POST", "/api/v1/checkins", {
      body: { sent_at: new Date().toISOString(), scans },
    });
  }

  heartbeat(queueLength) {
    return this.call("POST", "/api/v1/kiosk/heartbeat", {
      body: { sent_at: new Date().toISOString(), queue_length: queueLength, app_version: "web" },
    });
  }
}

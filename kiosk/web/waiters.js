// The scans whose door waits for the service's answer (core.js: ANSWER_BUDGET_MS): each
// wait ends with the answered record, or with null when the budget runs out or the link
// fails, whichever comes first.

export class Waiters {
  constructor() {
    this.waiting = new Map(); // scan_id -> resolve(record | null)
  }

  within(scanId, ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.answered(scanId, null), ms);
      this.waiting.set(scanId, (record) => {
        clearTimeout(timer);
        resolve(record);
      });
    });
  }

  answered(scanId, record) {
    const resolve = this.waiting.get(scanId);
    this.waiting.delete(scanId);
    resolve?.(record);
  }

  releaseAll() {
    for (const scanId of [...this.waiting.keys()]) this.answered(scanId, null);
  }
}

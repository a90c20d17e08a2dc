// Search without diacritics, the rule of service/search.py: "nguyen van an" finds
// "Nguyễn Văn An". NFD strips the marks; Đ/đ is a letter of its own, mapped by hand.
export function fold(text) {
  return text
    .toLowerCase()
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[đð]/g, "d")
    .split(/\s+/)
    .filter(Boolean)
    .join(" ");
}

// Whether every word of the query is in the name, as the service's `q` matches.
export function matches(name, query) {
  const folded = fold(name);
  return fold(query)
    .split(" ")
    .filter(Boolean)
    .every((word) => folded.includes(word));
}

// The technician's enrollment QR as a URL: `<ORIGIN>/K/<CODE>` (upper case, so it fits
// the QR alphanumeric mode) or the page's own `…/kiosk#enroll=CODE`.
const ENROLL_LINK = /(?:#enroll=|\/K\/)([^&#/\s]+)$/i;

export function isEnrollmentLink(text) {
  return ENROLL_LINK.test((text || "").trim());
}

// An enrollment code as typed or scanned: a bare code in any case, with or without the
// dash or spaces, or either URL of the technician's QR.
export function enrollmentCode(text) {
  const trimmed = (text || "").trim();
  const link = ENROLL_LINK.exec(trimmed);
  const raw = (link ? decodeURIComponent(link[1]) : trimmed).replace(/[\s-]/g, "").toUpperCase();
  return /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$/.test(raw) ? raw : null;
}

// A UUID made once per scan; crypto.randomUUID needs a secure context, a page served
// over plain http on the LAN has only getRandomValues.
export function newScanId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

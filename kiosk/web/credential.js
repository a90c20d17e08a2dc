// Offline verification of `DC1.<payload>.<signature>` codes: the rules of
// service/credentials.py, refusal for refusal (tests/test_kiosk_page.py runs both on the
// same codes). Ed25519 by WebCrypto where the browser has it, else @noble/ed25519.

const PREFIX = "DC1";
const FORMAT = 1;
const PAYLOAD_CHARS = 31; // ceil(19 * 8 / 5)
const SIGNATURE_CHARS = 103; // ceil(64 * 8 / 5)
// Anchored at both ends with no multiline flag: JavaScript's `$` never matches before a
// trailing newline, so "code\n" is refused like any other trailing character.
const SHAPE = new RegExp(
  `^${PREFIX}\\.([A-Z2-7]{${PAYLOAD_CHARS}})\\.([A-Z2-7]{${SIGNATURE_CHARS}})$`,
);
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export const REASONS = [
  "lowercase",
  "malformed",
  "unsupported_format",
  "unknown_key",
  "wrong_conference",
  "bad_signature",
];

export class InvalidCredential extends Error {
  constructor(reason) {
    super(`invalid credential: ${reason}`);
    this.reason = reason;
  }
}

// Strict base32: exactly `size` bytes and the canonical spelling of them (the unused low
// bits of the last character are zero), or two texts would carry one signature.
function unb32(text, size) {
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text) {
    value = (value << 5) | ALPHABET.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
      value &= (1 << bits) - 1;
    }
  }
  if (out.length !== size || value !== 0 || bits >= 5) throw new InvalidCredential("malformed");
  return new Uint8Array(out);
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
}

// Split and decode a code, checking its shape only.
export function parse(text) {
  if (typeof text !== "string") throw new InvalidCredential("malformed");
  if (text !== text.toUpperCase()) throw new InvalidCredential("lowercase");
  const match = SHAPE.exec(text);
  if (match === null) throw new InvalidCredential("malformed");
  const record = unb32(match[1], 19);
  const signature = unb32(match[2], 64);
  const view = new DataView(record.buffer);
  if (view.getUint8(0) !== FORMAT) throw new InvalidCredential("unsupported_format");
  const claims = {
    kid: hex(record.subarray(1, 5)),
    conference_id: view.getUint32(5),
    delegate_id: view.getUint32(9),
    site_id: view.getUint32(13),
    version: view.getUint16(17),
  };
  const message = new TextEncoder().encode(text.slice(0, PREFIX.length + 1 + PAYLOAD_CHARS));
  return { claims, message, signature };
}

function fromB64url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

let webcryptoOk = null;

// RFC 8032's first test vector: a valid point, so only a missing algorithm fails.
const PROBE_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

// Whether this browser verifies Ed25519 itself; probed once by importing a key.
async function hasWebCryptoEd25519() {
  if (webcryptoOk === null) {
    try {
      const raw = Uint8Array.from(PROBE_KEY.match(/../g), (h) => parseInt(h, 16));
      await crypto.subtle.importKey("raw", raw, "Ed25519", false, [
        "verify",
      ]);
      webcryptoOk = true;
    } catch {
      webcryptoOk = false;
    }
  }
  return webcryptoOk;
}

let noble = null;

async function nobleVerify(signature, message, publicKey) {
  if (noble === null) {
    noble = await import("./vendor/noble-ed25519.js");
    // Without WebCrypto (a page served over plain http on the LAN has no crypto.subtle)
    // noble needs a SHA-512 of its own.
    const { sha512 } = await import("./vendor/noble-hashes/sha2.js");
    noble.hashes.sha512 = sha512;
  }
  // zip215: false is RFC 8032's stricter rule, the one OpenSSL applies in the service.
  return noble.verify(signature, message, publicKey, { zip215: false });
}

// Verifies codes against a JWK set, like credentials.Verifier. Keys are decoded once.
export class Verifier {
  constructor(jwks, { conferenceId = null, engine = "auto" } = {}) {
    this.conferenceId = conferenceId;
    this.engine = engine; // "auto", "webcrypto" or "noble" (tests force one)
    this.keys = new Map();
    for (const key of jwks?.keys ?? []) {
      if (key?.kty !== "OKP" || key?.crv !== "Ed25519") continue;
      if (typeof key.kid !== "string" || typeof key.x !== "string") continue;
      let raw;
      try {
        raw = fromB64url(key.x);
      } catch {
        continue;
      }
      if (raw.length !== 32) continue;
      this.keys.set(key.kid, { raw, owner: key.conference_id ?? null, imported: null });
    }
  }

  async engineName() {
    if (this.engine !== "auto") return this.engine;
    return (await hasWebCryptoEd25519()) ? "webcrypto" : "noble";
  }

  async checkSignature(key, signed) {
    if ((await this.engineName()) === "webcrypto") {
      key.imported ??= await crypto.subtle.importKey("raw", key.raw, "Ed25519", false, [
        "verify",
      ]);
      return crypto.subtle.verify("Ed25519", key.imported, signed.signature, signed.message);
    }
    return nobleVerify(signed.signature, signed.message, key.raw);
  }

  // The claims of a valid code; throws InvalidCredential(reason) otherwise.
  async verify(text) {
    const signed = parse(text);
    const { claims } = signed;
    if (this.conferenceId !== null && claims.conference_id !== this.conferenceId) {
      throw new InvalidCredential("wrong_conference");
    }
    const key = this.keys.get(claims.kid);
    if (key === undefined) throw new InvalidCredential("unknown_key");
    if (key.owner !== null && key.owner !== claims.conference_id) {
      throw new InvalidCredential("wrong_conference");
    }
    if (!(await this.checkSignature(key, signed))) throw new InvalidCredential("bad_signature");
    return claims;
  }
}

// The conference a key set belongs to, when all its keys name the same one.
export function conferenceOf(jwks) {
  const ids = new Set((jwks?.keys ?? []).map((k) => k.conference_id).filter((v) => v != null));
  return ids.size === 1 ? [...ids][0] : null;
}

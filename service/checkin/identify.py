"""Whose badge is it? A scanned code checked against what the service issued.

The fast path costs a hash and a lookup: the code's SHA-256 is compared with the digest
of the code the service issued for that delegate, version and key (`issued_codes`,
written when codes are made). A code with no digest on record (made before digests were
kept, or by another worker a moment ago) is verified with the conference's public key
(about 0.1 ms of CPU), and its digest recorded so the next scan takes the fast path.
Either way a code is genuine only if it is exactly a code the key signed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from diemcau import credentials
from diemcau.checkin.rules import Verdict
from diemcau.credentials import Claims, InvalidCredential

# The public keys met so far, by kid (a kid is unique across conferences and a key
# never changes; retirement is read from the database with every batch).
_PUBLIC_KEYS: dict[str, Ed25519PublicKey] = {}


def code_digest(text: str) -> bytes:
    """What `issued_codes` keeps of a code: the first 16 bytes of its SHA-256."""
    return hashlib.sha256(text.encode("ascii", "replace")).digest()[:16]


@dataclass(slots=True)
class Identity:
    """The outcome for one code: the delegate (when the code is genuine), a refusal
    (`invalid` or `revoked`) or none, and the digest to record when it was verified."""

    delegate: Mapping[str, Any] | None = None
    refusal: Verdict | None = None
    record: tuple[int, int, str, bytes] | None = None


def claims_of(text: str, conference_id: int) -> Claims | Verdict:
    """The code's claims, or the `invalid` verdict for a code that is not of this
    conference's shape (before any database lookup)."""
    try:
        claims = credentials.read_claims(text)
    except InvalidCredential as exc:
        return Verdict("invalid", exc.reason)
    if claims.conference_id != conference_id:
        return Verdict("invalid", "wrong_conference")
    return claims


def genuine(text: str, claims: Claims, issued: bytes | None, public: bytes) -> bool:
    """True when `text` is exactly a code signed by this key."""
    if issued is not None and issued == code_digest(text):
        return True
    key = _PUBLIC_KEYS.get(claims.kid)
    if key is None:
        key = _PUBLIC_KEYS[claims.kid] = Ed25519PublicKey.from_public_bytes(public)
    try:
        credentials.check_signature(credentials.parse(text), key)
    except InvalidCredential:
        return False
    return True


def identify_code(
    text: str,
    claims: Claims,
    delegate: Mapping[str, Any] | None,
    key: tuple[bytes, bool] | None,
) -> Identity:
    """Judge a code of this conference's shape. `delegate` is the row its claims name
    (with the digest issued for its version and key, if any), `key` the named key's
    public bytes and whether it is retired, both None when unknown."""
    if delegate is None:
        return Identity(refusal=Verdict("invalid", "unknown_delegate"))
    if key is None:
        return Identity(refusal=Verdict("invalid", "unknown_key"))
    public, retired = key
    issued = delegate["digest"]
    if not genuine(text, claims, issued, public):
        return Identity(refusal=Verdict("invalid", "bad_signature"))
    record = None
    if issued is None:
        record = (claims.delegate_id, claims.version, claims.kid, code_digest(text))
    # Genuine from here on: the door is shown whose badge it is, whatever the answer.
    if retired:
        return Identity(delegate, Verdict("invalid", "retired_key"), record)
    if delegate["revoked"]:
        return Identity(delegate, Verdict("revoked", "revoked"), record)
    if delegate["credential_version"] != claims.version or delegate["site_id"] != claims.site_id:
        return Identity(delegate, Verdict("revoked", "superseded"), record)
    return Identity(delegate, None, record)


def identify_manual(delegate: Mapping[str, Any] | None) -> Identity:
    """A delegate picked by name at the kiosk: no code to check, but a revoked delegate
    stays refused."""
    if delegate is None:
        return Identity(refusal=Verdict("invalid", "unknown_delegate"))
    if delegate["revoked"]:
        return Identity(delegate, Verdict("revoked", "revoked"))
    return Identity(delegate)

"""Signed QR credentials `DC1.<payload>.<signature>`: encode, sign, verify. Pure functions.

Nothing here touches the database or the network, so the service, the Python kiosk
client and the tests share one set of rules, and a kiosk verifies offline with nothing
but the conference's JWK set.

The payload is the unpadded upper-case base32 (RFC 4648) of a 19-byte record:
format (1 byte, 1), key id (4 bytes), conference id, delegate id, site id (u32 each) and
credential version (u16), big-endian: 31 characters. The signature is the base32 of the
64-byte Ed25519 signature over the ASCII text `DC1.<payload>`: 103 characters. The whole
code is 139 characters of the QR alphanumeric set, inside the 154 a version-6 code holds
at level M. No personal data: a code names numbers only.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from diemcau.errors import Msg

PREFIX = "DC1"
FORMAT = 1
_RECORD = struct.Struct(">B4sIIIH")
PAYLOAD_CHARS = 31  # ceil(19 * 8 / 5)
SIGNATURE_CHARS = 103  # ceil(64 * 8 / 5)
LENGTH = len(PREFIX) + 1 + PAYLOAD_CHARS + 1 + SIGNATURE_CHARS  # 139
# Used with fullmatch: `$` would also match before a trailing newline ("code\n" passed).
_SHAPE = re.compile(rf"{PREFIX}\.([A-Z2-7]{{{PAYLOAD_CHARS}}})\.([A-Z2-7]{{{SIGNATURE_CHARS}}})")
U32 = 2**32 - 1
U16 = 2**16 - 1

# Why a code was refused; a kiosk shows the message, the service answers `invalid`.
REASONS: dict[str, Msg] = {
    "lowercase": Msg("Mã phải viết hoa", "the code must be upper case"),
    "malformed": Msg("Mã không đúng định dạng", "not a diemcau code"),
    "unsupported_format": Msg("Mã thuộc phiên bản không hỗ trợ", "unsupported code format"),
    "unknown_key": Msg("Mã ký bằng khóa không còn hiệu lực", "signed with an unknown key"),
    "wrong_conference": Msg("Mã của hội nghị khác", "a code of another conference"),
    "bad_signature": Msg("Chữ ký của mã không đúng", "the signature does not match"),
}


class InvalidCredential(ValueError):
    """A code that does not verify; `reason` is one of REASONS."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid credential: {reason}")
        self.reason = reason

    @property
    def message(self) -> Msg:
        return REASONS[self.reason]


@dataclass(frozen=True, slots=True)
class Claims:
    """What a code says: who, for which conference and site, which version, which key."""

    kid: str
    conference_id: int
    delegate_id: int
    site_id: int
    version: int


@dataclass(frozen=True, slots=True)
class Signed:
    """A code split into its claims, the signed text and the signature, not yet verified."""

    claims: Claims
    message: bytes
    signature: bytes


def b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


_B32_DIGITS = re.compile(r"[A-Z2-7]*")
# RFC 4648 base32 letters to the digits of int(..., 32): a whole field decodes as one
# integer, ten times faster than base64.b32decode (this runs once per scan).
_B32_TO_INT = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghijklmnopqrstuv")


def _unb32(text: str, size: int) -> bytes:
    """Strict decoding: exactly `size` bytes, and only the canonical spelling of them.

    The unused low bits of the last character must be zero; otherwise two texts would
    carry the same bytes, and a signature could be re-spelled without the key.
    """
    spare = len(text) * 5 - size * 8
    if not 0 <= spare < 5 or _B32_DIGITS.fullmatch(text) is None:
        raise InvalidCredential("malformed")
    value = int(text.translate(_B32_TO_INT), 32) if text else 0
    if value & ((1 << spare) - 1):
        raise InvalidCredential("malformed")
    return (value >> spare).to_bytes(size, "big")


def kid_of(key_id: bytes) -> str:
    """The JWK `kid` of a 4-byte key id: 8 upper-case hex characters."""
    return key_id.hex().upper()


def key_id_of(kid: str) -> bytes:
    if not re.fullmatch(r"[0-9A-F]{8}", kid):
        raise ValueError(f"a kid is 8 upper-case hex characters, got {kid!r}")
    return bytes.fromhex(kid)


def _limits(claims: Claims) -> tuple[tuple[str, int, int], ...]:
    return (
        ("conference_id", claims.conference_id, U32),
        ("delegate_id", claims.delegate_id, U32),
        ("site_id", claims.site_id, U32),
        ("version", claims.version, U16),
    )


def fits(claims: Claims) -> bool:
    """Whether the claims' numbers fit the record (ids u32, version u16)."""
    return all(0 <= value <= top for _, value, top in _limits(claims))


def payload(claims: Claims) -> str:
    """`DC1.<payload>`: the text that gets signed."""
    for name, value, top in _limits(claims):
        if not 0 <= value <= top:
            raise ValueError(f"{name} {value} does not fit the code")
    record = _RECORD.pack(
        FORMAT,
        key_id_of(claims.kid),
        claims.conference_id,
        claims.delegate_id,
        claims.site_id,
        claims.version,
    )
    return f"{PREFIX}.{b32(record)}"


def sign(claims: Claims, private_key: Ed25519PrivateKey) -> str:
    """The full code for these claims, signed with the key whose kid the claims name."""
    head = payload(claims)
    return f"{head}.{b32(private_key.sign(head.encode('ascii')))}"


def parse(text: str) -> Signed:
    """Split and decode a code, checking its shape only (not its signature)."""
    if not isinstance(text, str):
        raise InvalidCredential("malformed")
    if text != text.upper():
        raise InvalidCredential("lowercase")
    match = _SHAPE.fullmatch(text)  # `$` alone would let a trailing newline through
    if match is None:
        raise InvalidCredential("malformed")
    record = _unb32(match.group(1), _RECORD.size)
    signature = _unb32(match.group(2), 64)
    fmt, key_id, conference_id, delegate_id, site_id, version = _RECORD.unpack(record)
    if fmt != FORMAT:
        raise InvalidCredential("unsupported_format")
    claims = Claims(kid_of(key_id), conference_id, delegate_id, site_id, version)
    return Signed(claims, text[: len(PREFIX) + 1 + PAYLOAD_CHARS].encode("ascii"), signature)


def read_claims(text: str) -> Claims:
    """The claims of a code of the right shape, without decoding or checking its signature.

    For the check-in path, which then compares the whole text with the codes the service
    issued (diemcau.checkin.codes); anything it does not recognise goes through `parse`
    and `check_signature`. Raises InvalidCredential like `parse`.
    """
    if not isinstance(text, str) or _SHAPE.fullmatch(text) is None:
        return parse(text).claims  # raises the precise reason
    record = _unb32(text[len(PREFIX) + 1 : len(PREFIX) + 1 + PAYLOAD_CHARS], _RECORD.size)
    fmt, key_id, conference_id, delegate_id, site_id, version = _RECORD.unpack(record)
    if fmt != FORMAT:
        raise InvalidCredential("unsupported_format")
    return Claims(kid_of(key_id), conference_id, delegate_id, site_id, version)


def check_signature(signed: Signed, public_key: Ed25519PublicKey) -> Claims:
    """The claims, once the signature is checked against this key."""
    try:
        public_key.verify(signed.signature, signed.message)
    except InvalidSignature:
        raise InvalidCredential("bad_signature") from None
    return signed.claims


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def jwk(kid: str, public_key: bytes, *, conference: str, conference_id: int) -> dict[str, Any]:
    """One public key as an RFC 8037 JWK, naming the conference it belongs to."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "kid": kid,
        "x": b64url(public_key),
        "use": "sig",
        "alg": "EdDSA",
        "conference": conference,
        "conference_id": conference_id,
    }


def _public_key(key: Mapping[str, Any]) -> Ed25519PublicKey | None:
    """The key of an Ed25519 JWK, or None for any other or broken JWK (skipped, per RFC 7517)."""
    if key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
        return None
    x = key.get("x")
    if not isinstance(x, str):
        return None
    try:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        return None


def _keys(jwks: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if isinstance(jwks, Mapping):
        return list(jwks.get("keys", []))
    return list(jwks)


class Verifier:
    """Verifies codes against a JWK set; build it once and reuse it (keys are parsed once).

    With `conference_id`, a code of any other conference is refused even if the set holds
    that conference's keys too; each JWK's own `conference_id`, when present, must also
    match the code's.
    """

    def __init__(
        self,
        jwks: Mapping[str, Any] | Iterable[Mapping[str, Any]],
        *,
        conference_id: int | None = None,
    ) -> None:
        self.conference_id = conference_id
        self._keys: dict[str, tuple[Ed25519PublicKey, int | None]] = {}
        for key in _keys(jwks):
            public = _public_key(key)
            kid = key.get("kid")
            if public is not None and isinstance(kid, str):
                self._keys[kid] = (public, key.get("conference_id"))

    def verify(self, text: str) -> Claims:
        """The claims of a valid code; raises InvalidCredential(reason) otherwise."""
        signed = parse(text)
        claims = signed.claims
        if self.conference_id is not None and claims.conference_id != self.conference_id:
            raise InvalidCredential("wrong_conference")
        found = self._keys.get(claims.kid)
        if found is None:
            raise InvalidCredential("unknown_key")
        public, owner = found
        if owner is not None and owner != claims.conference_id:
            raise InvalidCredential("wrong_conference")
        return check_signature(signed, public)


def verify(
    text: str,
    jwks: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    *,
    conference_id: int | None = None,
) -> Claims:
    """Verify one code offline with only a JWK set; raises InvalidCredential(reason)."""
    return Verifier(jwks, conference_id=conference_id).verify(text)

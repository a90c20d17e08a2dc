"""The pure verifier: a code verifies with the conference's JWK set alone, and every kind
of forgery or damage is refused with a stable reason (no database, no network)."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from diemcau import credentials
from diemcau.credentials import Claims, InvalidCredential, verify

KID_A, KID_B = "0A1B2C3D", "DEADBEEF"
KEY_A, KEY_B = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
CLAIMS = Claims(KID_A, conference_id=7, delegate_id=123456, site_id=42, version=3)


def jwk_of(kid: str, key: Ed25519PrivateKey, conference_id: int) -> dict:
    public = key.public_key().public_bytes_raw()
    return credentials.jwk(
        kid, public, conference=f"HN{conference_id}", conference_id=conference_id
    )


JWKS_A = {"keys": [jwk_of(KID_A, KEY_A, 7)]}


def refused(text: str, jwks: object = JWKS_A, **kw: int) -> str:
    with pytest.raises(InvalidCredential) as info:
        verify(text, jwks, **kw)  # type: ignore[arg-type]
    assert info.value.reason in credentials.REASONS
    return info.value.reason


def test_code_round_trips_and_fits_qr_alphanumeric_version_6_m() -> None:
    code = credentials.sign(CLAIMS, KEY_A)
    assert verify(code, JWKS_A) == CLAIMS
    assert verify(code, JWKS_A, conference_id=7) == CLAIMS
    assert len(code) == credentials.LENGTH == 139
    assert len(code) <= 154  # alphanumeric capacity of a version-6 code at level M
    assert re.fullmatch(r"DC1\.[A-Z2-7]{31}\.[A-Z2-7]{103}", code)


def test_payload_is_the_documented_binary_record() -> None:
    code = credentials.sign(CLAIMS, KEY_A)
    payload = code.split(".")[1]
    record = base64.b32decode(payload + "=" * (-len(payload) % 8))
    assert record == bytes([1]) + bytes.fromhex(KID_A) + (7).to_bytes(4, "big") + (123456).to_bytes(
        4, "big"
    ) + (42).to_bytes(4, "big") + (3).to_bytes(2, "big")
    signature = base64.b32decode(code.split(".")[2] + "=" * (-103 % 8))
    KEY_A.public_key().verify(signature, code.rsplit(".", 1)[0].encode("ascii"))


def test_jwk_is_rfc_8037_and_names_its_conference() -> None:
    key = JWKS_A["keys"][0]
    assert {k: key[k] for k in ("kty", "crv", "kid", "use", "alg")} == {
        "kty": "OKP",
        "crv": "Ed25519",
        "kid": KID_A,
        "use": "sig",
        "alg": "EdDSA",
    }
    assert "=" not in key["x"]
    raw = base64.urlsafe_b64decode(key["x"] + "=")
    assert raw == KEY_A.public_key().public_bytes_raw()
    assert key["conference_id"] == 7


def test_tampered_payload_is_refused() -> None:
    code = credentials.sign(CLAIMS, KEY_A)
    other = credentials.payload(Claims(KID_A, 7, 123457, 42, 3))
    forged = other + "." + code.rsplit(".", 1)[1]
    assert refused(forged) == "bad_signature"


def test_tampered_signature_is_refused() -> None:
    code = credentials.sign(CLAIMS, KEY_A)
    i = len(code) - 20
    flipped = code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1 :]
    assert refused(flipped) == "bad_signature"


def test_signature_by_another_conference_key_is_refused() -> None:
    # Conference 9's key signs a code claiming conference 7 under conference 9's kid.
    forged = credentials.sign(Claims(KID_B, 7, 123456, 42, 3), KEY_B)
    assert refused(forged) == "unknown_key"
    # A kiosk holding both sets still refuses: the key belongs to conference 9.
    both = {"keys": [*JWKS_A["keys"], jwk_of(KID_B, KEY_B, 9)]}
    assert refused(forged, both) == "wrong_conference"
    # The same key id as conference 7's, but signed with conference 9's private key.
    assert refused(credentials.sign(CLAIMS, KEY_B)) == "bad_signature"


def test_code_of_another_conference_is_refused_when_expected_one_is_named() -> None:
    code = credentials.sign(Claims(KID_B, 9, 1, 1, 1), KEY_B)
    jwks = {"keys": [jwk_of(KID_B, KEY_B, 9)]}
    assert verify(code, jwks).conference_id == 9
    assert refused(code, jwks, conference_id=7) == "wrong_conference"


def test_truncated_code_is_refused() -> None:
    code = credentials.sign(CLAIMS, KEY_A)
    assert refused(code[:-1]) == "malformed"
    assert refused(code[:40]) == "malformed"
    assert refused("DC1.") == "malformed"
    assert refused("") == "malformed"


def test_a_code_must_match_in_full() -> None:
    # `$` in a regular expression also matches before a final newline: a scanner that
    # sends "code\n" (or anything after it) must not pass.
    code = credentials.sign(CLAIMS, KEY_A)
    for text in (code + "\n", code + "\r\n", "\n" + code, code + " ", code + "\x00"):
        assert refused(text) == "malformed", repr(text)


def test_lower_case_is_refused() -> None:
    code = credentials.sign(CLAIMS, KEY_A)
    assert refused(code.lower()) == "lowercase"
    assert refused(code[:-1] + code[-1].lower()) == "lowercase"


def test_non_canonical_base32_is_refused() -> None:
    # The last of 103 characters carries 2 data bits and 3 zero bits; setting a zero bit
    # would decode to the same signature if the decoder were lax.
    code = credentials.sign(CLAIMS, KEY_A)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    last = alphabet.index(code[-1])
    assert last % 8 == 0  # canonical: the three unused bits are zero
    assert refused(code[:-1] + alphabet[last | 1]) == "malformed"


def test_garbage_and_other_formats_are_refused() -> None:
    code = credentials.sign(CLAIMS, KEY_A)
    assert refused("DC2" + code[3:]) == "malformed"
    assert refused(code + ".X") == "malformed"
    assert refused("https://example.vn/?q=1") == "lowercase"
    assert refused("HELLO WORLD") == "malformed"
    record = bytes([2]) + bytes(18)
    head = "DC1." + credentials.b32(record)
    assert refused(head + "." + credentials.b32(KEY_A.sign(head.encode()))) == "unsupported_format"


def test_unknown_or_broken_jwks_entries_are_skipped() -> None:
    code = credentials.sign(CLAIMS, KEY_A)
    noisy = [{"kty": "RSA", "kid": "X"}, {"kty": "OKP", "crv": "Ed25519", "kid": KID_A, "x": "!!"}]
    assert refused(code, noisy) == "unknown_key"
    assert verify(code, [*noisy, *JWKS_A["keys"]]) == CLAIMS


def test_values_outside_the_record_are_refused_at_signing() -> None:
    with pytest.raises(ValueError):
        credentials.sign(Claims(KID_A, 7, 2**32, 1, 1), KEY_A)
    with pytest.raises(ValueError):
        credentials.sign(Claims(KID_A, 7, 1, 1, 2**16), KEY_A)
    with pytest.raises(ValueError):
        credentials.sign(Claims("abc", 7, 1, 1, 1), KEY_A)


def test_verifier_reuses_parsed_keys() -> None:
    verifier = credentials.Verifier(JWKS_A, conference_id=7)
    codes = [credentials.sign(Claims(KID_A, 7, i, 42, 1), KEY_A) for i in range(1, 20)]
    assert [verifier.verify(c).delegate_id for c in codes] == list(range(1, 20))

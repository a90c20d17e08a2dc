"""The secret that protects signing keys, and the conferences' Ed25519 keys in the database.

Private keys are stored encrypted with AES-GCM under a key derived (HKDF-SHA256) from
DIEMCAU_SECRET_KEY or, when it is unset, from a random secret generated once into
`<data_dir>/secret.key`. Several hosts on one database need the same DIEMCAU_SECRET_KEY.
A conference gets its first key lazily, the first time it needs one.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from diemcau import audit, credentials
from diemcau.auth import Principal
from diemcau.config import Config, ConfigError
from diemcau.errors import Msg, Problem
from diemcau.queries import credentials as q

log = logging.getLogger("diemcau.keystore")

SECRET_FILE = "secret.key"
_HKDF_INFO = b"diemcau conference signing keys v1"
_MISMATCH = Msg(
    "Không mở được khóa ký của hội nghị: DIEMCAU_SECRET_KEY (hoặc tệp secret.key) khác với "
    "khóa đã dùng khi tạo chúng",
    "cannot open the conferences' signing keys: DIEMCAU_SECRET_KEY (or the data dir's "
    "secret.key) is not the one they were encrypted with",
)


class KeystoreError(ConfigError):
    """The secret is missing, unreadable, or not the one the stored keys were sealed with."""


def load_secret(config: Config) -> bytes:
    """DIEMCAU_SECRET_KEY, else `<data_dir>/secret.key`, generated on first use."""
    if config.secret_key:
        return config.secret_key.encode("utf-8")
    return _secret_file(Path(config.data_dir))


def _read_secret(path: Path) -> bytes:
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise KeystoreError(
            Msg(f"không đọc được {path}: {exc.strerror}", f"cannot read {path}: {exc.strerror}")
        ) from None
    if len(secret) < 32:
        raise KeystoreError(
            Msg(
                f"{path} không chứa khóa bí mật dùng được (dưới 32 ký tự)",
                f"{path} holds no usable secret (under 32 characters)",
            )
        )
    return secret


def _secret_file(data_dir: Path) -> bytes:
    """Create the secret once: written whole to a private temporary file, then hard-linked
    into place, which fails if another process got there first (like O_EXCL) and never
    exposes a half-written file. Every process then reads the one that won."""
    path = data_dir / SECRET_FILE
    if path.exists():
        return _read_secret(path)
    tmp = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_hex(32).encode("ascii") + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise KeystoreError(
            Msg(
                f"không tạo được {path} ({exc.strerror}): cho phép ghi vào {data_dir} "
                "hoặc đặt DIEMCAU_SECRET_KEY",
                f"cannot create {path} ({exc.strerror}): make {data_dir} writable "
                "or set DIEMCAU_SECRET_KEY",
            )
        ) from None
    return _read_secret(path)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey

    @property
    def raw(self) -> bytes:
        return self.private.private_bytes_raw()


class Keystore:
    """Seals and opens private keys; holds only the derived key, never the secret."""

    def __init__(self, secret: bytes) -> None:
        key = HKDF(hashes.SHA256(), 32, salt=None, info=_HKDF_INFO).derive(secret)
        self._aead = AESGCM(key)

    @classmethod
    def from_config(cls, config: Config) -> Keystore:
        return cls(load_secret(config))

    @staticmethod
    def _aad(conference_id: int, kid: str) -> bytes:
        # Bound in so that a sealed key copied to another row does not open there.
        return f"{conference_id}:{kid}".encode("ascii")

    def seal(self, private_raw: bytes, conference_id: int, kid: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, private_raw, self._aad(conference_id, kid))

    def open(self, row: asyncpg.Record | dict[str, Any]) -> SigningKey:
        """The private key of a stored row; KeystoreError when the secret is not the one."""
        sealed = bytes(row["private_key_enc"])
        try:
            raw = self._aead.decrypt(
                sealed[:12], sealed[12:], self._aad(row["conference_id"], row["kid"])
            )
        except InvalidTag:
            raise KeystoreError(_MISMATCH) from None
        return SigningKey(row["kid"], Ed25519PrivateKey.from_private_bytes(raw))


def secret_mismatch() -> Problem:
    return Problem("secret_key_mismatch", _MISMATCH)


async def check_secret(conn: asyncpg.Connection, store: Keystore) -> bool:
    """True when the stored keys open with this secret (or there are none yet)."""
    row = await q.fetch_some_key(conn)
    if row is None:
        return True
    try:
        store.open(row)
    except KeystoreError:
        return False
    return True


def _key_audit(row: asyncpg.Record) -> dict[str, Any]:
    return {"kid": row["kid"], "signing": row["signing"], "retired": row["retired_at"] is not None}


async def _create_key(
    conn: asyncpg.Connection, store: Keystore, conference_id: int
) -> asyncpg.Record | None:
    private = Ed25519PrivateKey.generate()
    kid = credentials.kid_of(os.urandom(4))
    sealed = store.seal(private.private_bytes_raw(), conference_id, kid)
    public = private.public_key().public_bytes_raw()
    return await q.insert_key(conn, conference_id, kid, public, sealed)


async def signing_key(
    conn: asyncpg.Connection, store: Keystore, conference_id: int, caller: Principal
) -> SigningKey:
    """The conference's signing key, created on first need.

    Two workers asking at once both try to insert; the partial unique index lets one
    win and the other reads the winner's key (ON CONFLICT DO NOTHING, then read again).
    """
    for _ in range(5):
        row = await q.fetch_signing_key(conn, conference_id)
        if row is None:
            async with conn.transaction():
                row = await _create_key(conn, store, conference_id)
                if row is not None:
                    await audit.record(
                        conn, caller, "create", "conference_key", row["kid"], after=_key_audit(row)
                    )
        if row is not None:
            try:
                return store.open(row)
            except KeystoreError:
                raise secret_mismatch() from None
    raise RuntimeError("could not create a signing key")  # five kid collisions in a row


async def jwks(
    conn: asyncpg.Connection, conference: asyncpg.Record | dict[str, Any]
) -> dict[str, Any]:
    """The JWK set of every live key of the conference."""
    rows = await q.fetch_live_keys(conn, conference["id"])
    keys = []
    for row in rows:
        key = credentials.jwk(
            row["kid"],
            bytes(row["public_key"]),
            conference=conference["code"],
            conference_id=conference["id"],
        )
        key["signing"] = row["signing"]
        key["created_at"] = row["created_at"].isoformat()
        keys.append(key)
    return {"keys": keys}


async def rotate(
    conn: asyncpg.Connection, store: Keystore, conference_id: int, caller: Principal
) -> str:
    """A new signing key; the previous ones keep verifying until retired. Answers its kid."""
    async with conn.transaction():
        # Serialise rotations of one conference: two at once would both demote the old key.
        await conn.execute("SELECT 1 FROM conferences WHERE id = $1 FOR UPDATE", conference_id)
        await conn.execute(
            "UPDATE conference_keys SET signing = false WHERE conference_id = $1 AND signing",
            conference_id,
        )
        row = None
        while row is None:  # only a kid collision (1 in 4 billion) loops
            row = await _create_key(conn, store, conference_id)
        await audit.record(
            conn, caller, "rotate", "conference_key", row["kid"], after=_key_audit(row)
        )
    return row["kid"]


async def retire(conn: asyncpg.Connection, conference_id: int, kid: str, caller: Principal) -> None:
    """Stop accepting codes signed by this key. The signing key must be rotated out first."""
    async with conn.transaction():
        row = await conn.fetchrow(
            f"""SELECT {q.KEY_COLUMNS} FROM conference_keys
                 WHERE conference_id = $1 AND kid = $2 FOR UPDATE""",
            conference_id,
            kid,
        )
        if row is None or row["retired_at"] is not None:
            raise Problem("not_found", Msg("Không có khóa này", "no such live key"))
        if row["signing"]:
            raise Problem(
                "conflict",
                Msg(
                    "Khóa đang dùng để ký; hãy đổi khóa (rotate) trước khi thu hồi",
                    "this key signs new codes; rotate before retiring it",
                ),
            )
        after = await conn.fetchrow(
            f"UPDATE conference_keys SET retired_at = now() WHERE id = $1 RETURNING {q.KEY_COLUMNS}",
            row["id"],
        )
        await audit.record(
            conn,
            caller,
            "retire",
            "conference_key",
            kid,
            before=_key_audit(row),
            after=_key_audit(after),
        )

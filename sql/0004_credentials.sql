-- Signing keys of the conferences' QR credentials (Ed25519). The private half is stored
-- encrypted (AES-GCM under a key derived from DIEMCAU_SECRET_KEY or <data_dir>/secret.key);
-- the public half is served as a JWK set. Several keys of a conference may be live at once
-- (a rotation): one signs new codes, the others still verify until they are retired.

CREATE TABLE conference_keys (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conference_id    BIGINT NOT NULL REFERENCES conferences (id),
    -- The 4-byte key id carried in every code, as 8 upper-case hex characters. Unique
    -- across conferences so that an offline verifier holding several sets never mixes
    -- two keys up.
    kid              TEXT NOT NULL,
    public_key       BYTEA NOT NULL,
    -- 12-byte nonce followed by the AES-GCM ciphertext of the 32-byte private key; the
    -- conference id and kid are bound in as associated data.
    private_key_enc  BYTEA NOT NULL,
    signing          BOOLEAN NOT NULL DEFAULT true,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    retired_at       TIMESTAMPTZ,
    CONSTRAINT conference_keys_kid_key UNIQUE (kid),
    CONSTRAINT conference_keys_kid_format CHECK (kid ~ '^[0-9A-F]{8}$'),
    CONSTRAINT conference_keys_public_key_check CHECK (length(public_key) = 32),
    CONSTRAINT conference_keys_retired_not_signing CHECK (NOT (signing AND retired_at IS NOT NULL))
);

-- One signing key per conference: two workers issuing the first code at the same moment
-- cannot both create one (the loser's INSERT does nothing and it reads the winner's).
CREATE UNIQUE INDEX conference_keys_one_signing ON conference_keys (conference_id) WHERE signing;
CREATE INDEX conference_keys_conference_idx ON conference_keys (conference_id, created_at);

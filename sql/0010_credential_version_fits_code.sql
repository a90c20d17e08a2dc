-- A delegate's credential version travels in the QR code as a u16 (DESIGN, QR credential):
-- a move or reissue past 65535 would store a version no code can carry, and every code of
-- that delegate would then fail to sign. The database refuses it for every writer (PATCH,
-- roster re-import, reissue, and what comes later), by this name.
--
-- NOT VALID: rows written before this rule are not rescanned (a long lock on a big
-- roster, and a start-up that fails on one bad row); every new write is checked.
ALTER TABLE delegates ADD CONSTRAINT delegates_version_fits_code
    CHECK (credential_version <= 65535) NOT VALID;

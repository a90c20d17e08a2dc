-- Foundation: the unit tree, bridge points (sites) with their link tests, access tokens,
-- websocket tickets and the audit log.

CREATE TABLE units (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL,
    parent_id   BIGINT REFERENCES units (id),
    -- Materialised path of codes, '/VN/LC/LC-TP/': a subtree is one `LIKE 'prefix%'`.
    path        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT units_code_key UNIQUE (code),
    CONSTRAINT units_level_check
        CHECK (level IN ('national', 'province', 'district', 'commune', 'agency')),
    CONSTRAINT units_code_format CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')
);
CREATE INDEX units_parent_idx ON units (parent_id);
CREATE INDEX units_path_idx ON units (path text_pattern_ops);

CREATE TABLE sites (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code               TEXT NOT NULL,
    name               TEXT NOT NULL,
    unit_id            BIGINT NOT NULL REFERENCES units (id),
    level              TEXT NOT NULL,
    address            TEXT,
    capacity           INTEGER,
    technician_name    TEXT,
    technician_phone   TEXT,
    endpoint_protocol  TEXT,
    endpoint_uri       TEXT,
    endpoint_provider  TEXT,
    status             TEXT NOT NULL DEFAULT 'registered',
    status_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Lower-case text without diacritics (code, name, address) for search: "lai chau"
    -- finds "Lai Châu". Written by the service; PostgreSQL here has no unaccent.
    search_text        TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT sites_code_key UNIQUE (code),
    CONSTRAINT sites_code_format CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    CONSTRAINT sites_level_check
        CHECK (level IN ('national', 'province', 'district', 'commune', 'agency')),
    CONSTRAINT sites_capacity_check CHECK (capacity IS NULL OR capacity >= 0),
    CONSTRAINT sites_protocol_check
        CHECK (endpoint_protocol IS NULL
               OR endpoint_protocol IN ('sip', 'h323', 'webrtc', 'meeting_link')),
    CONSTRAINT sites_status_check
        CHECK (status IN ('registered', 'tested', 'ready', 'connected', 'degraded', 'lost'))
);
CREATE INDEX sites_unit_idx ON sites (unit_id, code);
CREATE INDEX sites_status_idx ON sites (status, code);

CREATE TABLE tokens (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- SHA-256 of the token: tokens are 256 random bits, so a fast hash is enough and a
    -- stolen table gives no usable token.
    token_hash     BYTEA NOT NULL,
    role           TEXT NOT NULL,
    label          TEXT NOT NULL DEFAULT '',
    unit_id        BIGINT REFERENCES units (id),
    conference_id  BIGINT,
    site_id        BIGINT REFERENCES sites (id),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by     BIGINT REFERENCES tokens (id),
    revoked_at     TIMESTAMPTZ,
    last_used_at   TIMESTAMPTZ,
    CONSTRAINT tokens_hash_key UNIQUE (token_hash),
    CONSTRAINT tokens_role_check CHECK (role IN ('organiser', 'technician', 'kiosk', 'viewer')),
    CONSTRAINT tokens_technician_scope CHECK (role <> 'technician' OR unit_id IS NOT NULL),
    CONSTRAINT tokens_kiosk_scope
        CHECK (role <> 'kiosk' OR (conference_id IS NOT NULL AND site_id IS NOT NULL)),
    CONSTRAINT tokens_viewer_scope CHECK (role <> 'viewer' OR conference_id IS NOT NULL)
);

CREATE TABLE ws_tickets (
    ticket_hash  BYTEA PRIMARY KEY,
    token_id     BIGINT NOT NULL REFERENCES tokens (id),
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ
);
CREATE INDEX ws_tickets_expires_idx ON ws_tickets (expires_at);

CREATE TABLE link_tests (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id     BIGINT NOT NULL REFERENCES sites (id),
    kind        TEXT NOT NULL DEFAULT 'link_test',
    rtt_ms      DOUBLE PRECISION NOT NULL,
    jitter_ms   DOUBLE PRECISION NOT NULL,
    loss_pct    DOUBLE PRECISION NOT NULL,
    audio_ok    BOOLEAN NOT NULL,
    video_ok    BOOLEAN NOT NULL,
    passed      BOOLEAN NOT NULL,
    note        TEXT,
    tested_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    tested_by   BIGINT REFERENCES tokens (id),
    CONSTRAINT link_tests_kind_check CHECK (kind IN ('link_test', 'rehearsal')),
    CONSTRAINT link_tests_values_check
        CHECK (rtt_ms >= 0 AND jitter_ms >= 0 AND loss_pct BETWEEN 0 AND 100)
);
CREATE INDEX link_tests_site_idx ON link_tests (site_id, tested_at DESC);

CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    token_id    BIGINT REFERENCES tokens (id),
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_key  TEXT NOT NULL,
    before      JSONB,
    after       JSONB,
    request_id  TEXT
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_key, at);

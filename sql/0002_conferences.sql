-- Conferences, their participating sites, and delegate rosters.

CREATE TABLE conferences (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code               TEXT NOT NULL,
    title              TEXT NOT NULL,
    starts_at          TIMESTAMPTZ NOT NULL,
    ends_at            TIMESTAMPTZ NOT NULL,
    checkin_opens_at   TIMESTAMPTZ NOT NULL,
    timezone           TEXT NOT NULL DEFAULT 'Asia/Ho_Chi_Minh',
    host_site_id       BIGINT REFERENCES sites (id),
    policy_other_site  TEXT NOT NULL DEFAULT 'accept',
    targets            JSONB NOT NULL DEFAULT '{}',
    status             TEXT NOT NULL DEFAULT 'draft',
    signed_off_at      TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT conferences_code_key UNIQUE (code),
    CONSTRAINT conferences_code_format CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    CONSTRAINT conferences_window_check
        CHECK (checkin_opens_at <= starts_at AND starts_at < ends_at),
    CONSTRAINT conferences_policy_check CHECK (policy_other_site IN ('accept', 'reject')),
    CONSTRAINT conferences_status_check
        CHECK (status IN ('draft', 'open', 'live', 'closed', 'signed_off'))
);

ALTER TABLE tokens
    ADD CONSTRAINT tokens_conference_fkey FOREIGN KEY (conference_id) REFERENCES conferences (id);

CREATE TABLE conference_sites (
    conference_id  BIGINT NOT NULL REFERENCES conferences (id),
    site_id        BIGINT NOT NULL REFERENCES sites (id),
    PRIMARY KEY (conference_id, site_id)
);
CREATE INDEX conference_sites_site_idx ON conference_sites (site_id);

CREATE TABLE delegates (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conference_id       BIGINT NOT NULL REFERENCES conferences (id),
    external_id         TEXT NOT NULL,
    full_name           TEXT NOT NULL,
    category            TEXT NOT NULL,
    site_id             BIGINT NOT NULL,
    unit_id             BIGINT REFERENCES units (id),
    phone               TEXT,
    email               TEXT,
    credential_version  INTEGER NOT NULL DEFAULT 1,
    revoked             BOOLEAN NOT NULL DEFAULT false,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT delegates_external_id_key UNIQUE (conference_id, external_id),
    CONSTRAINT delegates_category_check CHECK (category IN ('member', 'non_member', 'guest')),
    CONSTRAINT delegates_name_check CHECK (length(btrim(full_name)) > 0),
    CONSTRAINT delegates_version_check CHECK (credential_version >= 1),
    -- A delegate's site must take part in the conference: removing a site that still
    -- has delegates is refused rather than leaving them nowhere.
    CONSTRAINT delegates_site_in_conference FOREIGN KEY (conference_id, site_id)
        REFERENCES conference_sites (conference_id, site_id)
);
CREATE INDEX delegates_site_idx ON delegates (conference_id, site_id, id);
CREATE INDEX delegates_unit_idx ON delegates (conference_id, unit_id, id);

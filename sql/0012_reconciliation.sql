-- After the session: what technicians counted in the rooms (headcounts), who did not
-- come and why (absences), the organisers' resolutions of reconciliation's flags, and
-- the sign-off that locks a conference with the hash of its report.

-- A headcount is never changed: a correction is a new row, and the latest of each moment
-- (by counted_at, then by id) is the one that counts; the history stays readable.
CREATE TABLE headcounts (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conference_id  BIGINT NOT NULL REFERENCES conferences (id),
    site_id        BIGINT NOT NULL REFERENCES sites (id),
    moment         TEXT NOT NULL,
    counted_at     TIMESTAMPTZ NOT NULL,
    members        INTEGER NOT NULL,
    non_members    INTEGER NOT NULL,
    guests         INTEGER NOT NULL,
    note           TEXT,
    -- Made once by an offline client (the Python kiosk's queue): sending the same
    -- headcount again answers the stored one and adds nothing.
    client_id      UUID,
    token_id       BIGINT REFERENCES tokens (id),
    actor          TEXT NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT headcounts_moment_check CHECK (moment IN ('start', 'after_break', 'end')),
    CONSTRAINT headcounts_numbers_check
        CHECK (members >= 0 AND non_members >= 0 AND guests >= 0),
    CONSTRAINT headcounts_client_id_key UNIQUE (client_id)
);
-- "The latest of each moment at each site" is the first entry of this index per
-- (conference, site, moment).
CREATE INDEX headcounts_latest_idx
    ON headcounts (conference_id, site_id, moment, counted_at DESC, id DESC);

-- One absence per delegate (a correction replaces it; the audit log keeps the earlier
-- one). Counted at the delegate's site as the roster holds it.
CREATE TABLE absences (
    delegate_id    BIGINT NOT NULL REFERENCES delegates (id) ON DELETE CASCADE,
    conference_id  BIGINT NOT NULL REFERENCES conferences (id),
    reason         TEXT NOT NULL,
    note           TEXT,
    makeup_owed    BOOLEAN NOT NULL DEFAULT false,
    token_id       BIGINT REFERENCES tokens (id),
    actor          TEXT NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT absences_pkey PRIMARY KEY (delegate_id),
    CONSTRAINT absences_reason_check CHECK (reason IN ('sick', 'on_duty', 'travel', 'other'))
);
CREATE INDEX absences_conference_idx ON absences (conference_id, delegate_id);

-- Flags are not stored: reconciliation computes them from the figures every time, each
-- named by its site and kind. A resolution is stored with a fingerprint of the numbers
-- the flag stood on; the flag stays resolved while its numbers are those, and opens
-- again when a correction changes them. Resolving again adds a row (the history).
CREATE TABLE flag_resolutions (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conference_id  BIGINT NOT NULL REFERENCES conferences (id),
    site_id        BIGINT NOT NULL REFERENCES sites (id),
    kind           TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    detail         JSONB NOT NULL,
    action         TEXT NOT NULL,
    figure         INTEGER,
    note           TEXT NOT NULL,
    token_id       BIGINT REFERENCES tokens (id),
    actor          TEXT NOT NULL,
    at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT flag_resolutions_kind_check CHECK (kind IN (
        'headcount_mismatch', 'over_capacity', 'no_checkins', 'no_headcount',
        'kiosk_silent', 'hall_emptied', 'under_target', 'many_moved')),
    CONSTRAINT flag_resolutions_action_check
        CHECK (action IN ('accept_headcount', 'accept_scans', 'corrected')),
    -- A corrected figure is a number of people; the other actions take the headcount's
    -- or the scans' own.
    CONSTRAINT flag_resolutions_figure_check
        CHECK ((action = 'corrected') = (figure IS NOT NULL) AND (figure IS NULL OR figure >= 0))
);
CREATE INDEX flag_resolutions_flag_idx ON flag_resolutions (conference_id, site_id, kind, id);

-- The sign-off: when, by whom, and the report's canonical content as it was signed
-- (gzip), so every later report prints the same figures and hash even if a site's
-- registry entry (its name, its capacity) changes afterwards.
CREATE TABLE sign_offs (
    conference_id  BIGINT PRIMARY KEY REFERENCES conferences (id),
    signed_off_at  TIMESTAMPTZ NOT NULL,
    report_sha256  TEXT NOT NULL,
    content        BYTEA NOT NULL,
    token_id       BIGINT REFERENCES tokens (id),
    actor          TEXT NOT NULL
);

-- Reconciliation counts a conference's walk-ins from its scans: this partial index holds
-- those scans only (a few per cent of all), so the count reads them alone instead of all
-- 2,000,000 check-ins, and a check-in pays for an index entry only when it is a walk-in.
CREATE INDEX checkins_walk_ins_idx ON checkins (conference_id, site_id)
    WHERE method = 'walk_in';

-- Check-in: kiosks and their enrollment codes, the scans, each delegate's attendance,
-- per-site tallies for the live board, and what kiosks need to stay in step offline.
--
-- Hot path (DESIGN: 20,000 scans/s): a scan writes one `checkins` row, one `attendances`
-- row (for a delegate) and adds to one `site_tallies` row per site per batch. None of
-- these carry foreign keys: each would cost an index probe and a row lock per scan,
-- and the ids come from rows the writer has just read (the kiosk's token, the delegate).

-- A kiosk is a kiosk token: enrolled with a code, or made by `diemcau token create`.
CREATE TABLE kiosks (
    token_id       BIGINT PRIMARY KEY REFERENCES tokens (id),
    conference_id  BIGINT NOT NULL REFERENCES conferences (id),
    site_id        BIGINT NOT NULL REFERENCES sites (id),
    device_name    TEXT NOT NULL DEFAULT '',
    enrolled_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    first_seen_at  TIMESTAMPTZ,
    -- Written at most every few seconds per kiosk (heartbeats and scans): the live
    -- board's `kiosk_online` is "seen within 30 s".
    last_seen_at   TIMESTAMPTZ,
    queue_length   INTEGER,
    app_version    TEXT
);
CREATE INDEX kiosks_site_idx ON kiosks (conference_id, site_id);

-- A gap of more than 5 minutes between two signs of life, recorded when the kiosk comes
-- back (reconciliation's `kiosk_silent` also looks at `last_seen_at` for a kiosk that
-- never came back).
CREATE TABLE kiosk_silences (
    token_id      BIGINT NOT NULL REFERENCES kiosks (token_id),
    silent_from   TIMESTAMPTZ NOT NULL,
    silent_until  TIMESTAMPTZ NOT NULL
);
CREATE INDEX kiosk_silences_kiosk_idx ON kiosk_silences (token_id, silent_from);

-- Single-use enrollment codes, stored hashed like tokens.
CREATE TABLE kiosk_codes (
    code_hash      BYTEA PRIMARY KEY,
    conference_id  BIGINT NOT NULL REFERENCES conferences (id),
    site_id        BIGINT NOT NULL REFERENCES sites (id),
    created_by     BIGINT REFERENCES tokens (id),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at     TIMESTAMPTZ NOT NULL,
    used_at        TIMESTAMPTZ,
    kiosk_id       BIGINT REFERENCES kiosks (token_id)
);
CREATE INDEX kiosk_codes_expires_idx ON kiosk_codes (expires_at);

-- Every scan, refusals included; append-only but for the stamp of an annulment.
-- `judged_at` is the time the rules used: the kiosk's `scanned_at`, or the arrival when
-- the kiosk's clock was more than 5 minutes ahead (`skewed`). The answer given is kept
-- (result, flags, and for a duplicate the first entry it named), so a retry of the
-- scan_id returns exactly that answer, whatever happened since.
CREATE TABLE checkins (
    id                BIGINT GENERATED ALWAYS AS IDENTITY,
    conference_id     BIGINT NOT NULL,
    scan_id           UUID NOT NULL,
    site_id           BIGINT NOT NULL,
    kiosk_id          BIGINT,
    delegate_id       BIGINT,
    method            TEXT NOT NULL,
    direction         TEXT NOT NULL,
    scanned_at        TIMESTAMPTZ NOT NULL,
    judged_at         TIMESTAMPTZ NOT NULL,
    received_at       TIMESTAMPTZ NOT NULL,
    result            TEXT NOT NULL,
    reason            TEXT,
    moved             BOOLEAN NOT NULL DEFAULT false,
    reentry           BOOLEAN NOT NULL DEFAULT false,
    skewed            BOOLEAN NOT NULL DEFAULT false,
    first_scanned_at  TIMESTAMPTZ,
    first_site_id     BIGINT,
    full_name         TEXT,
    category          TEXT,
    -- The text of a code that was not genuine (cleaned and cut short); genuine codes are
    -- known by delegate and version and are not stored again.
    qr                TEXT,
    -- SHA-256 (16 bytes) of what the scan said: the same scan_id with other content is
    -- refused (409) rather than answered with another scan's result.
    content_digest    BYTEA NOT NULL,
    annulment_id      BIGINT,
    -- scan ids are UUIDs, unique across conferences: keyed by the id alone, a lookup is
    -- one probe of a unique key however stale the table's statistics (keyed by
    -- conference first, a growing table was planned as a scan of the conference's scans).
    CONSTRAINT checkins_pkey PRIMARY KEY (scan_id),
    CONSTRAINT checkins_method_check CHECK (method IN ('qr', 'manual', 'walk_in')),
    CONSTRAINT checkins_direction_check CHECK (direction IN ('in', 'out')),
    CONSTRAINT checkins_result_check CHECK (result IN (
        'accepted', 'duplicate', 'wrong_site', 'revoked', 'invalid', 'not_open', 'closed'))
);
-- A site's scans in arrival order: the technician's list, the kiosks' scan counts,
-- walk-ins for reconciliation.
CREATE INDEX checkins_site_idx ON checkins (conference_id, site_id, id);

-- One row per delegate who has a valid scan: the unique key is the rule "one check-in
-- per delegate per conference" (a delegate belongs to one conference; two kiosks
-- scanning one badge at the same moment meet here, never in a read-then-write). `timeline` holds every valid entry and exit of the
-- delegate (packed by diemcau.checkin.timeline), from which the counted entry (the
-- earliest `in` by judged time, ties to the first to arrive), presence and exits are
-- derived whatever order the scans arrived in. The derived columns are what readers use.
CREATE TABLE attendances (
    conference_id   BIGINT NOT NULL,
    delegate_id     BIGINT NOT NULL,
    category        TEXT NOT NULL,        -- as counted in site_tallies
    home_site_id    BIGINT NOT NULL,      -- the delegate's own site, as counted
    site_id         BIGINT,               -- attributed: the counted entry's site (null: exits only)
    first_scan_id   UUID,
    first_at        TIMESTAMPTZ,
    present         BOOLEAN NOT NULL DEFAULT false,
    last_at         TIMESTAMPTZ,
    timeline        BYTEA NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT attendances_pkey PRIMARY KEY (delegate_id),
    CONSTRAINT attendances_category_check CHECK (category IN ('member', 'non_member', 'guest'))
);
-- No index by site: counts come from site_tallies, and a per-site list of who came (a
-- report) can afford one pass over a conference's rows; an index would cost every scan.

-- Running counts per participating site, changed in the same transaction as the scans,
-- so the live board and reconciliation read 40,000 rows, not millions of scans. `seq`
-- (from live_seq) marks the last change: "what changed since N" is one range read.
CREATE SEQUENCE live_seq;
CREATE TABLE site_tallies (
    conference_id          BIGINT NOT NULL,
    site_id                BIGINT NOT NULL,
    checked_in_member      INTEGER NOT NULL DEFAULT 0,
    checked_in_non_member  INTEGER NOT NULL DEFAULT 0,
    checked_in_guest       INTEGER NOT NULL DEFAULT 0,
    walk_ins_member        INTEGER NOT NULL DEFAULT 0,
    walk_ins_non_member    INTEGER NOT NULL DEFAULT 0,
    walk_ins_guest         INTEGER NOT NULL DEFAULT 0,
    moved_in               INTEGER NOT NULL DEFAULT 0,
    moved_out              INTEGER NOT NULL DEFAULT 0,
    present                INTEGER NOT NULL DEFAULT 0,
    exits                  INTEGER NOT NULL DEFAULT 0,
    reentries              INTEGER NOT NULL DEFAULT 0,
    accepted_scans         INTEGER NOT NULL DEFAULT 0,
    refused_scans          INTEGER NOT NULL DEFAULT 0,
    last_scan_at           TIMESTAMPTZ,
    seq                    BIGINT NOT NULL,
    CONSTRAINT site_tallies_pkey PRIMARY KEY (conference_id, site_id)
);
CREATE INDEX site_tallies_seq_idx ON site_tallies (conference_id, seq);

-- An annulled check-in: the scans it voided are stamped with its id, the counts follow.
CREATE TABLE annulments (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conference_id  BIGINT NOT NULL REFERENCES conferences (id),
    scan_id        UUID NOT NULL,
    delegate_id    BIGINT,
    reason         TEXT NOT NULL,
    token_id       BIGINT REFERENCES tokens (id),
    actor          TEXT NOT NULL,
    at             TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Codes the service has issued, by delegate, version and key: a scanned code is checked
-- by comparing its digest with this (a hash and an index probe) instead of an Ed25519
-- verification per scan (~0.1 ms of CPU). A code with no row here is verified with the
-- public key, and recorded once it passes.
CREATE TABLE issued_codes (
    delegate_id  BIGINT NOT NULL,
    version      INTEGER NOT NULL,
    kid          TEXT NOT NULL,
    digest       BYTEA NOT NULL,
    CONSTRAINT issued_codes_pkey PRIMARY KEY (delegate_id, version, kid)
);

-- Rosters kept in step offline: every change to a delegate that a kiosk holds takes a
-- new `roster_seq`; a delegate leaving a site (moved, deleted) leaves a row in
-- `roster_removals`; `roster_versions` moves a site's version when its roster changes,
-- so a kiosk's "anything new?" is one primary-key read. Writers of a conference's
-- delegates hold the conference row's lock, so within a conference the numbers are
-- handed out in commit order and "changes after N" never misses one committed later
-- with a smaller number.
CREATE SEQUENCE roster_seq;
ALTER TABLE delegates ADD COLUMN roster_seq BIGINT NOT NULL DEFAULT nextval('roster_seq');

CREATE TABLE roster_removals (
    conference_id  BIGINT NOT NULL,
    site_id        BIGINT NOT NULL,
    delegate_id    BIGINT NOT NULL,
    roster_seq     BIGINT NOT NULL
);
CREATE INDEX roster_removals_site_idx ON roster_removals (conference_id, site_id, roster_seq);

-- A site's version, and a conference's: a bulk write (an import: thousands of rows a
-- statement) moves the conference's version only, which stands for every site of it; a
-- small write moves the versions of the sites it touched. A site's version is the
-- greater of the two. Either row moves once per transaction (`xact`): moving a row again
-- in every statement of a 2,500,000-row import left chains of dead versions that each
-- later statement walked, and the import took ten times as long. Once is enough: the
-- version changes with each transaction that touches the site (so the snapshot's ETag
-- does), and a kiosk asking for the changes since may get a row of that transaction a
-- second time, never miss one.
CREATE TABLE roster_versions (
    conference_id  BIGINT NOT NULL,
    site_id        BIGINT NOT NULL,
    seq            BIGINT NOT NULL,
    xact           xid8 NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT roster_versions_pkey PRIMARY KEY (conference_id, site_id)
);
CREATE TABLE roster_conference_versions (
    conference_id  BIGINT PRIMARY KEY,
    seq            BIGINT NOT NULL,
    xact           xid8 NOT NULL DEFAULT pg_current_xact_id()
);

-- A kiosk cares for these fields only: a change of phone or e-mail keeps the number.
CREATE FUNCTION delegates_roster_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.external_id, NEW.full_name, NEW.category, NEW.site_id, NEW.unit_id,
        NEW.credential_version, NEW.revoked)
       IS DISTINCT FROM
       (OLD.external_id, OLD.full_name, OLD.category, OLD.site_id, OLD.unit_id,
        OLD.credential_version, OLD.revoked) THEN
        NEW.roster_seq := nextval('roster_seq');
        IF NEW.site_id <> OLD.site_id THEN
            INSERT INTO roster_removals (conference_id, site_id, delegate_id, roster_seq)
            VALUES (OLD.conference_id, OLD.site_id, OLD.id, NEW.roster_seq);
        END IF;
    ELSE
        NEW.roster_seq := OLD.roster_seq;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER delegates_roster_touch BEFORE UPDATE ON delegates
    FOR EACH ROW EXECUTE FUNCTION delegates_roster_touch();

CREATE FUNCTION delegates_roster_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_removals (conference_id, site_id, delegate_id, roster_seq)
    VALUES (OLD.conference_id, OLD.site_id, OLD.id, nextval('roster_seq'));
    RETURN NULL;
END $$;
CREATE TRIGGER delegates_roster_removed AFTER DELETE ON delegates
    FOR EACH ROW EXECUTE FUNCTION delegates_roster_removed();

-- Per statement: the versions of what the statement touched (see roster_versions).
CREATE FUNCTION roster_versions_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM changed_rows) > 1000 THEN
        INSERT INTO roster_conference_versions AS v (conference_id, seq)
        SELECT conference_id, max(roster_seq) FROM changed_rows GROUP BY 1
        ON CONFLICT (conference_id) DO UPDATE
            SET seq = greatest(v.seq, EXCLUDED.seq), xact = pg_current_xact_id()
            WHERE v.xact <> pg_current_xact_id();
    ELSE
        INSERT INTO roster_versions AS v (conference_id, site_id, seq)
        SELECT conference_id, site_id, max(roster_seq) FROM changed_rows GROUP BY 1, 2
        ON CONFLICT (conference_id, site_id) DO UPDATE
            SET seq = greatest(v.seq, EXCLUDED.seq), xact = pg_current_xact_id()
            WHERE v.xact <> pg_current_xact_id();
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER delegates_roster_versions_insert AFTER INSERT ON delegates
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION roster_versions_bump();
CREATE TRIGGER delegates_roster_versions_update AFTER UPDATE ON delegates
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION roster_versions_bump();
CREATE TRIGGER roster_removals_versions AFTER INSERT ON roster_removals
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION roster_versions_bump();

-- Every existing roster gets its first version.
INSERT INTO roster_conference_versions (conference_id, seq)
SELECT conference_id, max(roster_seq) FROM delegates GROUP BY 1;

-- Kiosk tokens made before this migration become kiosks.
INSERT INTO kiosks (token_id, conference_id, site_id, device_name, enrolled_at)
SELECT id, conference_id, site_id, label, created_at FROM tokens WHERE role = 'kiosk';

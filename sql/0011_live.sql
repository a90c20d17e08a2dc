-- The live board (diemcau.live, docs/live.md): each conference's change counter, what the
-- board shows of each participating site beside its tallies, and arrivals per minute.

-- A conference's change counter: the live view's `seq`. Every transaction that changes
-- what the board shows advances it in its very last statement, so the counter row's lock
-- is held from there to the commit: a second such transaction waits for the first to
-- commit before taking the next number, and a change committed later never carries a
-- smaller `seq` (a bare sequence hands numbers out at the start, and a reader of
-- "changed since N" could miss for good a change committed after a larger number). The
-- wait is one statement and one commit long, and per conference only.
CREATE TABLE live_counters (
    conference_id  BIGINT PRIMARY KEY,
    seq            BIGINT NOT NULL
);
-- Numbers never go back: each conference starts above every number it already used.
INSERT INTO live_counters (conference_id, seq)
SELECT conference_id, max(seq) FROM site_tallies GROUP BY conference_id;
DROP SEQUENCE live_seq;

-- Accepted entries (`in` scans and walk-ins) per minute of their judged time, per unit of
-- the site that took them; written by check-in beside the tallies, under the same `seq`.
-- By unit, not by site: a national rush fills 40,000 sites' minutes; the board rolls
-- units up its tree anyway.
CREATE TABLE live_arrivals (
    conference_id  BIGINT NOT NULL,
    unit_id        BIGINT NOT NULL,
    minute         TIMESTAMPTZ NOT NULL,
    arrivals       INTEGER NOT NULL,
    seq            BIGINT NOT NULL,
    CONSTRAINT live_arrivals_pkey PRIMARY KEY (conference_id, unit_id, minute)
);
CREATE INDEX live_arrivals_seq_idx ON live_arrivals (conference_id, seq);

-- What the board shows of each site besides its tallies, as last published by the sweep
-- (diemcau.live.sweep): the site's record, its expected roster, whether a kiosk is online
-- and the state of its link. Published rows carry a `seq` like the tallies, so "what
-- changed since N" covers them too, and every worker shows the same thing at one `seq`.
-- A site that leaves the conference keeps its row with `taking_part` false (a delta
-- then names it with null).
CREATE TABLE live_sites (
    conference_id        BIGINT NOT NULL,
    site_id              BIGINT NOT NULL,
    seq                  BIGINT NOT NULL,
    taking_part          BOOLEAN NOT NULL,
    code                 TEXT NOT NULL,
    name                 TEXT NOT NULL,
    unit_id              BIGINT NOT NULL,
    capacity             INTEGER,
    status               TEXT NOT NULL,
    expected_member      INTEGER NOT NULL DEFAULT 0,
    expected_non_member  INTEGER NOT NULL DEFAULT 0,
    expected_guest       INTEGER NOT NULL DEFAULT 0,
    kiosk_online         BOOLEAN NOT NULL DEFAULT false,
    link                 TEXT NOT NULL DEFAULT 'unknown',
    -- The latest headcount (null until headcounts are recorded).
    headcount            JSONB,
    CONSTRAINT live_sites_pkey PRIMARY KEY (conference_id, site_id),
    CONSTRAINT live_sites_link_check
        CHECK (link IN ('connected', 'degraded', 'lost', 'unknown'))
);
CREATE INDEX live_sites_seq_idx ON live_sites (conference_id, seq);

-- The units of the board (the participating sites' units and their ancestors) as last
-- published by the sweep: a unit renamed by an import shows under a new `seq` too.
CREATE TABLE live_units (
    conference_id  BIGINT NOT NULL,
    unit_id        BIGINT NOT NULL,
    seq            BIGINT NOT NULL,
    code           TEXT NOT NULL,
    name           TEXT NOT NULL,
    level          TEXT NOT NULL,
    parent_id      BIGINT,
    path           TEXT NOT NULL,
    CONSTRAINT live_units_pkey PRIMARY KEY (conference_id, unit_id)
);
CREATE INDEX live_units_seq_idx ON live_units (conference_id, seq);

-- One row per conference the board has been asked about: when it was last swept (one
-- worker sweeps at a time), which roster version its `expected_*` counts reflect, a mark
-- of the registry (when it has not moved, only the kiosks' liveness is compared), and
-- the conference as the board shows it (title, schedule, status, targets) with its `seq`.
CREATE TABLE live_sweeps (
    conference_id  BIGINT PRIMARY KEY,
    swept_at       TIMESTAMPTZ,
    roster_seq     BIGINT NOT NULL DEFAULT -1,
    registry       TEXT,   -- the registry's mark at the last sweep (queries.live_sweep)
    conference     JSONB,
    seq            BIGINT NOT NULL DEFAULT 0
);

-- What a kiosk's word is checked against (DESIGN, Rules: "An earlier time is believed
-- only when it could be late"; "A manual check-in names a delegate the kiosk may see").
--
-- Contact: the moments the service heard from a kiosk and answered it (a batch committed,
-- a heartbeat recorded, its websocket opened), kept as spells. Each worker extends its
-- own spell of a kiosk in memory and writes it at most every few seconds, keyed by
-- where the spell began: several workers serving one kiosk write several rows that
-- overlap, and the check joins them (diemcau.checkin.contact). A worker killed between
-- two writes loses its last seconds of contact only, so a scan is believed the more.
-- No foreign key: one write holds many kiosks' spells, and a kiosk gone must not refuse
-- the rest; the write joins `kiosks` instead.
CREATE TABLE kiosk_contacts (
    token_id       BIGINT NOT NULL,
    contact_from   TIMESTAMPTZ NOT NULL,
    contact_until  TIMESTAMPTZ NOT NULL,
    CONSTRAINT kiosk_contacts_pkey PRIMARY KEY (token_id, contact_from),
    CONSTRAINT kiosk_contacts_order_check CHECK (contact_from <= contact_until)
);

-- The roster a kiosk last took (`GET /api/v1/kiosk/roster?scope=`): a manual check-in
-- names a delegate of its site, or of its unit's scope once it took that scope.
ALTER TABLE kiosks ADD COLUMN roster_scope TEXT NOT NULL DEFAULT 'site'
    CONSTRAINT kiosks_roster_scope_check CHECK (roster_scope IN ('site', 'unit'));

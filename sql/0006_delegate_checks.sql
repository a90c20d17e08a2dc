-- Delegates' references checked once per statement instead of once per row.
--
-- A foreign key checks each inserted row on its own (one index probe and row lock each):
-- ~14 µs per row for delegates_site_in_conference and ~7 µs for the unit, 50 s of a
-- 2,500,000-row roster import. These statement-level triggers enforce the same two rules
-- set-based (one join over all the rows a statement wrote), with the same locks a foreign
-- key takes (FOR KEY SHARE on the referenced rows) and the same error: SQLSTATE 23503
-- naming the constraint, so callers map it exactly as before.

ALTER TABLE delegates DROP CONSTRAINT delegates_site_in_conference;
ALTER TABLE delegates DROP CONSTRAINT delegates_unit_id_fkey;

CREATE FUNCTION delegates_check_references() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    wanted integer;
    held integer;
BEGIN
    -- A delegate's site must take part in the conference.
    SELECT count(*) INTO wanted
      FROM (SELECT DISTINCT conference_id, site_id FROM new_rows) n;
    SELECT count(*) INTO held FROM (
        SELECT 1 FROM conference_sites cs
         WHERE (cs.conference_id, cs.site_id) IN (SELECT conference_id, site_id FROM new_rows)
           FOR KEY SHARE OF cs) locked;
    IF held < wanted THEN
        RAISE EXCEPTION 'a delegate''s site does not take part in the conference'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'delegates',
                  CONSTRAINT = 'delegates_site_in_conference';
    END IF;
    -- A delegate's unit, when given, must exist.
    SELECT count(*) INTO wanted
      FROM (SELECT DISTINCT unit_id FROM new_rows WHERE unit_id IS NOT NULL) n;
    SELECT count(*) INTO held FROM (
        SELECT 1 FROM units u WHERE u.id IN (SELECT unit_id FROM new_rows)
           FOR KEY SHARE OF u) locked;
    IF held < wanted THEN
        RAISE EXCEPTION 'a delegate''s unit does not exist'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'delegates',
                  CONSTRAINT = 'delegates_unit_id_fkey';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER delegates_references_insert AFTER INSERT ON delegates
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION delegates_check_references();
CREATE TRIGGER delegates_references_update AFTER UPDATE ON delegates
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION delegates_check_references();

-- The other side of the rules: a site leaves a conference, or a unit goes, only when no
-- delegate points at it (a foreign key's ON DELETE NO ACTION).
CREATE FUNCTION conference_sites_check_delegates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM old_rows o
                 JOIN delegates d ON d.conference_id = o.conference_id AND d.site_id = o.site_id
                WHERE NOT EXISTS (SELECT 1 FROM conference_sites cs
                                   WHERE cs.conference_id = o.conference_id
                                     AND cs.site_id = o.site_id)) THEN
        RAISE EXCEPTION 'the site still has delegates in the conference'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'conference_sites',
                  CONSTRAINT = 'delegates_site_in_conference';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER conference_sites_delegates_delete AFTER DELETE ON conference_sites
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION conference_sites_check_delegates();
CREATE TRIGGER conference_sites_delegates_update AFTER UPDATE ON conference_sites
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION conference_sites_check_delegates();

CREATE FUNCTION units_check_delegates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM old_rows o JOIN delegates d ON d.unit_id = o.id
                WHERE NOT EXISTS (SELECT 1 FROM units u WHERE u.id = o.id)) THEN
        RAISE EXCEPTION 'the unit still has delegates'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'units',
                  CONSTRAINT = 'delegates_unit_id_fkey';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER units_delegates_delete AFTER DELETE ON units
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION units_check_delegates();
CREATE TRIGGER units_delegates_update AFTER UPDATE ON units
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION units_check_delegates();

-- Delegates' (conference_id, id) index served one thing: the delegate list, paged by id.
-- The list now pages by external_id, the roster's own numbering, on the unique
-- (conference_id, external_id) index every roster already has. Dropping the index takes
-- one of four index insertions off each delegate written (about 16% of the WAL of a
-- 2,500,000-row roster import); per-site lists keep delegates_site_idx.
DROP INDEX delegates_conference_idx;

-- Delegates' (conference_id, unit_id, id) index cost about 10 s of a 2,500,000-row roster
-- import (of ~60 s, against a bar of 60 s) and served one thing: the delegate list's `unit`
-- filter, which matches a unit's whole subtree through a join on unit paths and pages by
-- id, so it walks (conference_id, id) either way. Counts roll up through sites, not
-- through delegates' own units.
DROP INDEX delegates_unit_idx;

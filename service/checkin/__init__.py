"""Check-in at the entrance: the rules for one scan, and how batches of scans are stored.

- `model`: the scan as a kiosk sends it (validated) and the result it gets back;
- `timeline`: a delegate's valid entries and exits, and what they add to each site's
  tallies, the same whatever order the scans arrived in;
- `rules`: the rule for one scan (pure: no database, no HTTP);
- `messages`: the answer's words, in Vietnamese and English;
- `records`: a scan on its way, a delegate's attendance, and the rows they become;
- `ingest`: one batch in one transaction (read the state, apply the rules, write);
- `batcher`: requests arriving together share a transaction (group commit).
"""

"""Check-in at the entrance: the rules for one scan, and how batches of scans are stored.

- `model`: the scan as a kiosk sends it (validated) and the result it gets back;
- `timeline`: a delegate's valid entries and exits, and what they add to each site's
  tallies, the same whatever order the scans arrived in;
- `rules`: the rule for one scan (pure: no database, no HTTP);
- `clocks`: each kiosk's clock offset, measured from the `sent_at` of what it sends;
- `contact`: when each kiosk was in contact, and whether a late scan's time is believed;
- `messages`: the answer's words, in Vietnamese and English;
- `records`: a scan on its way, a delegate's attendance, and the rows they become;
- `ingest`: one batch in one transaction (read the state, apply the rules, write);
- `batcher`: requests arriving together share a transaction (group commit), one
  kiosk's in the order it sent them;
- `annul`: voiding a mistaken check-in, or a refused or duplicate scan alone.
"""

"""The live board (DESIGN, Contract: live view; Live websocket; docs/live.md).

- `view`: a conference's board as one worker holds it, at one `seq`;
- `scopes`: what one client sees of it (the whole board or a unit's subtree) and the
  snapshot and delta messages made for it;
- `hub`: the worker's views, kept at the database's `seq`, and their watchers;
- `watcher`: one dashboard connection, its coalescing and the slow-client rule;
- `listener`: the worker's LISTEN connection that wakes the hub;
- `sweep`: what the board shows besides the tallies (records, roster, kiosks, links),
  published under a `seq` like the tallies;
- `access`: who may watch which part of a board.
"""

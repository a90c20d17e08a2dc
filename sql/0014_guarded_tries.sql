-- Brute-force guards kept in the database, so that every worker of every host counts the
-- same tries (the enrollment codes' guard: 10 wrong codes a minute per client address).
--
-- A row is a try not known to have succeeded. It is written, under a transaction-level
-- advisory lock on (guard, client), before the guarded action runs, so that tries sent
-- at once cannot all pass the count; it is deleted when the action succeeds, so only
-- failures stay counted. Rows older than the guard's window are swept as tries come in.
--
-- UNLOGGED: a counter of the last minute is not worth a WAL flush per try; a crash of
-- PostgreSQL empties it, which forgives a minute of wrong guesses at worst.
CREATE UNLOGGED TABLE guarded_tries (
    id        BIGSERIAL PRIMARY KEY,
    guard     TEXT NOT NULL,
    client    TEXT NOT NULL,
    tried_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX guarded_tries_client_idx ON guarded_tries (guard, client, tried_at);
CREATE INDEX guarded_tries_at_idx ON guarded_tries (tried_at);

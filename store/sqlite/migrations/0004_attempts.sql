-- Attempts that limits count (failed sign-ins, sign-ups), by subject:
-- "user:" and an account id, "id:" and a folded email or username, "addr:"
-- and a client address, "signup-addr:" and a client address. A reservation
-- records one row per subject in the same transaction that checks the
-- limits, so that no number of concurrent attempts gets past them; a
-- successful sign-in deletes its own rows again. expires_at is when the row
-- leaves the longest window that counts it, after which the sweeper may
-- delete it.
CREATE TABLE attempts (
    id         INTEGER PRIMARY KEY,
    subject    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX attempts_subject ON attempts (subject, created_at);
CREATE INDEX attempts_expires_at ON attempts (expires_at);

-- The failures recorded so far go on counting (their window was 15
-- minutes by default). signin_failures and signup_attempts are left in
-- place, unused, so that a server of the version before, still running
-- during a rolling upgrade, does not fail; a later migration drops them.
INSERT INTO attempts (subject, created_at, expires_at)
SELECT subject, created_at, created_at + 900000 FROM signin_failures;

-- Readiness writes here: a commit that proves the database can be written
-- (not read-only, not full).
CREATE TABLE readiness_probe (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    probed_at INTEGER NOT NULL
) STRICT;

INSERT INTO readiness_probe (id, probed_at) VALUES (1, 0);

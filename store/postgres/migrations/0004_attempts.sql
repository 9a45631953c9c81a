-- Attempts that limits count, by subject (see SQLite's 0004). A
-- reservation takes a transaction-scoped advisory lock per subject, then
-- checks the limits and records one row per subject, so that no number of
-- concurrent attempts, on any number of replicas, gets past them.
CREATE TABLE attempts (
    id         BIGSERIAL PRIMARY KEY,
    subject    TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX attempts_subject ON attempts (subject, created_at);
CREATE INDEX attempts_expires_at ON attempts (expires_at);

-- The failures recorded so far go on counting; the old tables stay, unused,
-- for a server of the version before during a rolling upgrade.
INSERT INTO attempts (subject, created_at, expires_at)
SELECT subject, created_at, created_at + 900000 FROM signin_failures;

-- Readiness writes here: a commit that proves the database can be written.
CREATE TABLE readiness_probe (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    probed_at BIGINT  NOT NULL
);

INSERT INTO readiness_probe (id, probed_at) VALUES (1, 0);

-- Times are Unix milliseconds (UTC) in INTEGER columns: they compare and
-- index cheaply and mean the same thing in SQLite and PostgreSQL.

CREATE TABLE users (
    id                 TEXT    PRIMARY KEY,
    email              TEXT    NOT NULL,
    -- Folded copies carry the uniqueness: "Ada@Example.com" and
    -- "ada@example.com" are one address, but each user sees what they typed.
    email_folded       TEXT    NOT NULL,
    username           TEXT,
    username_folded    TEXT,
    first_name         TEXT,
    last_name          TEXT,
    image_url          TEXT,
    phone_number       TEXT,
    password_hash      TEXT    NOT NULL,
    two_factor_enabled INTEGER NOT NULL DEFAULT 0 CHECK (two_factor_enabled IN (0, 1)),
    email_verified     INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    phone_verified     INTEGER NOT NULL DEFAULT 0 CHECK (phone_verified IN (0, 1)),
    -- version moves with every change; it is the ETag of GET/PATCH /me.
    version            INTEGER NOT NULL DEFAULT 1,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    CHECK ((username IS NULL) = (username_folded IS NULL))
) STRICT;

CREATE UNIQUE INDEX users_email_folded ON users (email_folded);
CREATE UNIQUE INDEX users_username_folded ON users (username_folded);

-- A browser session is what one __session cookie names. The token itself is
-- never stored, only its SHA-256.
CREATE TABLE browser_sessions (
    id              TEXT    PRIMARY KEY,
    token_hash      BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_active_at  INTEGER NOT NULL,
    -- The session ends when it has not been used for the idle timeout.
    idle_expires_at INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX browser_sessions_token_hash ON browser_sessions (token_hash);
CREATE INDEX browser_sessions_idle_expires_at ON browser_sessions (idle_expires_at);

-- One account signed in on a browser session. The active one is the one
-- with the highest activated_seq: activating a sign-in raises it, and when
-- the active one ends the most recently active of the rest takes over
-- without any other row changing.
CREATE TABLE signins (
    id            TEXT    PRIMARY KEY,
    session_id    TEXT    NOT NULL REFERENCES browser_sessions (id) ON DELETE CASCADE,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    -- The absolute lifetime runs from the moment the password was checked.
    expires_at    INTEGER NOT NULL,
    activated_seq INTEGER NOT NULL,
    UNIQUE (session_id, user_id)
) STRICT;

CREATE INDEX signins_user_id ON signins (user_id);
CREATE INDEX signins_expires_at ON signins (expires_at);

-- Failed sign-ins, kept so that the limits on them hold across every
-- replica that shares this database. subject is what a limit counts by:
-- "id:" and the folded email or username, or "addr:" and a client address.
-- A failure is recorded once per subject.
CREATE TABLE signin_failures (
    id         INTEGER PRIMARY KEY,
    subject    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX signin_failures_subject ON signin_failures (subject, created_at);
CREATE INDEX signin_failures_created_at ON signin_failures (created_at);

-- Sign-up attempts by client address, for a limit on sign-ups that is not
-- enforced yet.
CREATE TABLE signup_attempts (
    id         INTEGER PRIMARY KEY,
    subject    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX signup_attempts_subject ON signup_attempts (subject, created_at);
CREATE INDEX signup_attempts_created_at ON signup_attempts (created_at);

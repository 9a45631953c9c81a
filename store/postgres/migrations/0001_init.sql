-- PostgreSQL's schema, migration for migration the same as SQLite's
-- (store/sqlite/migrations): times are Unix milliseconds (UTC) in BIGINT
-- columns, which compare and index cheaply and mean the same in both.

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
    two_factor_enabled BOOLEAN NOT NULL DEFAULT false,
    email_verified     BOOLEAN NOT NULL DEFAULT false,
    phone_verified     BOOLEAN NOT NULL DEFAULT false,
    -- version moves with every change; it is the ETag of GET/PATCH /me.
    version            BIGINT  NOT NULL DEFAULT 1,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL,
    CHECK ((username IS NULL) = (username_folded IS NULL))
);

-- The store tells which member is taken by these names (SQLSTATE 23505
-- names the constraint).
CREATE UNIQUE INDEX users_email_folded ON users (email_folded);
CREATE UNIQUE INDEX users_username_folded ON users (username_folded);

-- A browser session is what one __session cookie names. The token itself is
-- never stored, only its SHA-256.
CREATE TABLE browser_sessions (
    id              TEXT   PRIMARY KEY,
    token_hash      BYTEA  NOT NULL,
    created_at      BIGINT NOT NULL,
    last_active_at  BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX browser_sessions_token_hash ON browser_sessions (token_hash);
CREATE INDEX browser_sessions_idle_expires_at ON browser_sessions (idle_expires_at);

-- One account signed in on a browser session; the active one has the
-- highest activated_seq.
CREATE TABLE signins (
    id            TEXT   PRIMARY KEY,
    session_id    TEXT   NOT NULL REFERENCES browser_sessions (id) ON DELETE CASCADE,
    user_id       TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    activated_seq BIGINT NOT NULL,
    UNIQUE (session_id, user_id)
);

CREATE INDEX signins_user_id ON signins (user_id);
CREATE INDEX signins_expires_at ON signins (expires_at);

-- Failed sign-ins and sign-ups, as SQLite's first schema had them (both
-- replaced by attempts in 0004).
CREATE TABLE signin_failures (
    id         BIGSERIAL PRIMARY KEY,
    subject    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX signin_failures_subject ON signin_failures (subject, created_at);
CREATE INDEX signin_failures_created_at ON signin_failures (created_at);

CREATE TABLE signup_attempts (
    id         BIGSERIAL PRIMARY KEY,
    subject    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX signup_attempts_subject ON signup_attempts (subject, created_at);
CREATE INDEX signup_attempts_created_at ON signup_attempts (created_at);

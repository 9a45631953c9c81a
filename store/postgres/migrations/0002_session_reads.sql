-- Reading a session is the work of every request.

-- A session's sign-ins are read oldest first, ties in the order they were
-- made: seq is what SQLite's rowid is to its table.
ALTER TABLE signins ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE INDEX signins_session_order ON signins (session_id, created_at, seq);

-- generation moves whenever anything a session read returns changes (see
-- 0003): a server may keep a session it has read and use it again as long
-- as the generation stored here is still the one it read.
ALTER TABLE browser_sessions ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;

-- Reading a session is the work of every request. Two changes make it cheap.

-- A session's sign-ins are read oldest first: with this index SQLite reads
-- them in that order instead of sorting them each time (the index ends
-- with the rowid, which breaks ties of created_at).
CREATE INDEX signins_session_order ON signins (session_id, created_at);

-- generation moves whenever anything a session read returns changes: the
-- session, its sign-ins, or one of their users. A server may keep a
-- session it has read and use it again as long as the generation stored
-- here is still the one it read (one indexed lookup instead of a join).
ALTER TABLE browser_sessions ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;

-- A session's generation moves with every change of what a session read
-- returns: the session itself, its sign-ins, or one of their users. Until
-- now the store's Go code moved it on each write path; triggers do it here,
-- in the same statement as the change, so that no write path and no edit by
-- hand can forget it. A server may keep a session it read and use it again
-- while the generation stored is still the one it read.

-- A user's change moves every session the user is signed in on. A row
-- written with the values it had is no change, and moves nothing (a PATCH
-- that changes nothing keeps the kept sessions good).
CREATE TRIGGER users_move_generation AFTER UPDATE ON users
WHEN OLD.id IS NOT NEW.id OR OLD.email IS NOT NEW.email OR OLD.username IS NOT NEW.username
  OR OLD.first_name IS NOT NEW.first_name OR OLD.last_name IS NOT NEW.last_name
  OR OLD.image_url IS NOT NEW.image_url OR OLD.phone_number IS NOT NEW.phone_number
  OR OLD.password_hash IS NOT NEW.password_hash OR OLD.two_factor_enabled IS NOT NEW.two_factor_enabled
  OR OLD.email_verified IS NOT NEW.email_verified OR OLD.phone_verified IS NOT NEW.phone_verified
  OR OLD.version IS NOT NEW.version OR OLD.created_at IS NOT NEW.created_at OR OLD.updated_at IS NOT NEW.updated_at
BEGIN
  UPDATE browser_sessions SET generation = generation + 1
  WHERE id IN (SELECT session_id FROM signins WHERE user_id = OLD.id);
END;

-- Before a user is deleted, while its sign-ins (deleted with it by ON DELETE
-- CASCADE) still say which sessions it was on.
CREATE TRIGGER users_delete_move_generation BEFORE DELETE ON users
BEGIN
  UPDATE browser_sessions SET generation = generation + 1
  WHERE id IN (SELECT session_id FROM signins WHERE user_id = OLD.id);
END;

CREATE TRIGGER signins_insert_move_generation AFTER INSERT ON signins
BEGIN
  UPDATE browser_sessions SET generation = generation + 1 WHERE id = NEW.session_id;
END;

CREATE TRIGGER signins_update_move_generation AFTER UPDATE ON signins
BEGIN
  UPDATE browser_sessions SET generation = generation + 1 WHERE id IN (OLD.session_id, NEW.session_id);
END;

CREATE TRIGGER signins_delete_move_generation AFTER DELETE ON signins
BEGIN
  UPDATE browser_sessions SET generation = generation + 1 WHERE id = OLD.session_id;
END;

-- A change of the session's own columns. The UPDATE inside sets only
-- generation, which this trigger does not watch, so it does not fire again.
CREATE TRIGGER browser_sessions_move_generation
AFTER UPDATE OF id, token_hash, created_at, last_active_at, idle_expires_at ON browser_sessions
WHEN NEW.generation = OLD.generation
BEGIN
  UPDATE browser_sessions SET generation = OLD.generation + 1 WHERE id = NEW.id;
END;

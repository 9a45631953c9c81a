-- A session's generation moves with every change of what a session read
-- returns: the session itself, its sign-ins, or one of their users. Triggers
-- do it in the same statement as the change, so that no write path and no
-- edit by hand can forget it.

-- A user's change (or deletion) moves every session the user is signed in
-- on. The sessions are locked in id order first, so that two transactions
-- moving overlapping sets of sessions never deadlock.
CREATE FUNCTION move_generation_of_user_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM browser_sessions
    WHERE id IN (SELECT session_id FROM signins WHERE user_id = OLD.id)
    ORDER BY id FOR UPDATE;
    UPDATE browser_sessions SET generation = generation + 1
    WHERE id IN (SELECT session_id FROM signins WHERE user_id = OLD.id);
    RETURN OLD; -- BEFORE DELETE goes on; AFTER UPDATE ignores it
END $$;

-- A row written with the values it had is no change, and moves nothing.
CREATE TRIGGER users_move_generation AFTER UPDATE ON users
FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
EXECUTE FUNCTION move_generation_of_user_sessions();

-- Before the deletion, while its sign-ins (deleted with it by ON DELETE
-- CASCADE) still say which sessions it was on.
CREATE TRIGGER users_delete_move_generation BEFORE DELETE ON users
FOR EACH ROW EXECUTE FUNCTION move_generation_of_user_sessions();

CREATE FUNCTION move_generation_of_signin_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE browser_sessions SET generation = generation + 1 WHERE id = OLD.session_id;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.session_id IS DISTINCT FROM OLD.session_id) THEN
        UPDATE browser_sessions SET generation = generation + 1 WHERE id = NEW.session_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER signins_move_generation AFTER INSERT OR UPDATE OR DELETE ON signins
FOR EACH ROW EXECUTE FUNCTION move_generation_of_signin_session();

-- A change of the session's own columns, made in the row itself.
CREATE FUNCTION move_generation_of_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.generation = OLD.generation
       AND (NEW.id, NEW.token_hash, NEW.created_at, NEW.last_active_at, NEW.idle_expires_at)
           IS DISTINCT FROM (OLD.id, OLD.token_hash, OLD.created_at, OLD.last_active_at, OLD.idle_expires_at) THEN
        NEW.generation := OLD.generation + 1;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER browser_sessions_move_generation BEFORE UPDATE ON browser_sessions
FOR EACH ROW EXECUTE FUNCTION move_generation_of_session();

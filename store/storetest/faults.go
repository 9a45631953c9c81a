package storetest

import (
	"fmt"
	"testing"
	"time"

	"meapi/store"
)

// checkNothingVisible: after a change of first_name to 'poison' failed, no
// trace of it is anywhere: in the database, in a read (kept copies
// included) of this instance or of another.
func checkNothingVisible(t *testing.T, s Engine, others []store.Engine, userID, token string) {
	t.Helper()
	if v, ok := s.Text(t, `SELECT first_name FROM users WHERE id = `+quote(userID)); ok && v == "poison" {
		t.Errorf("the database has first_name %q after the change failed", v)
	}
	for i, e := range append([]store.Engine{s}, others...) {
		if got := read(t, e, token).Active().User; str(got.FirstName) == "poison" {
			t.Errorf("instance %d serves first_name %q after the change failed", i, str(got.FirstName))
		}
	}
}

// faultCase runs the same story with a fault installed by install: a
// change that the fault makes fail, among good ones, then a good change
// after it.
func faultCase(install func(t *testing.T, e Engine)) func(t *testing.T, s Engine) {
	return func(t *testing.T, s Engine) {
		b := s.Another(t, nil)
		ids := accounts(t, s, 8)
		for i := range ids {
			read(t, s, fmt.Sprintf("own-%d", i)) // kept by both
			read(t, b, fmt.Sprintf("own-%d", i))
		}
		install(t, s)

		poison := "poison"
		if _, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: ids[0], Now: now.Add(time.Minute), FirstName: store.Change{Set: true, Value: &poison}}); err == nil {
			t.Fatal("the change the fault forbids succeeded")
		}
		checkNothingVisible(t, s, []store.Engine{b}, ids[0], "own-0")

		// Among others at once (an engine that shares transactions must
		// fail only the one at fault): every other change is answered
		// done and is there; the faulty one is answered failed and is not.
		errs := atOnce(len(ids), func(i int) error {
			v := fmt.Sprintf("good-%d", i)
			if i == 3 {
				v = poison
			}
			_, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: ids[i], Now: now.Add(2 * time.Minute), FirstName: store.Change{Set: true, Value: &v}})
			return err
		})
		for i, err := range errs {
			stored, _ := s.Text(t, `SELECT first_name FROM users WHERE id = `+quote(ids[i]))
			switch {
			case i == 3 && err == nil:
				t.Errorf("the faulty change was answered done")
			case i != 3 && err != nil:
				t.Errorf("change %d failed with the faulty one: %v", i, err)
			case i != 3 && stored != fmt.Sprintf("good-%d", i):
				t.Errorf("change %d was answered done but the database has %q", i, stored)
			}
		}
		checkNothingVisible(t, s, []store.Engine{b}, ids[3], "own-3")

		// The next good change of the same user: everything it shows is
		// what the database has (no rolled-back change comes back with it).
		ln := "Lovelace"
		if _, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: ids[0], Now: now.Add(3 * time.Minute), LastName: store.Change{Set: true, Value: &ln}}); err != nil {
			t.Fatal(err)
		}
		for i, e := range []store.Engine{s, b} {
			u := read(t, e, "own-0").Active().User
			if str(u.FirstName) != "good-0" || str(u.LastName) != "Lovelace" {
				t.Errorf("instance %d serves first_name %s, last_name %s; the database has good-0, Lovelace", i, str(u.FirstName), str(u.LastName))
			}
		}
	}
}

var _ = register("FailingTriggerLeavesNothing", faultCase(failingTrigger))

var _ = register("FailingCommitLeavesNothing", faultCase(deferredFailure))

// A store that cannot write is not ready.
var _ = register("ReadyNeedsAWrite", func(t *testing.T, s Engine) {
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	switch s.Dialect() {
	case "sqlite":
		mustExec(t, s, `CREATE TRIGGER fault_ready BEFORE UPDATE ON readiness_probe BEGIN SELECT RAISE(ABORT, 'disk full'); END`)
	case "postgres":
		mustExec(t, s, `CREATE FUNCTION fault_ready() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
			CREATE TRIGGER fault_ready BEFORE UPDATE ON readiness_probe FOR EACH ROW EXECUTE FUNCTION fault_ready()`)
	}
	if err := s.Ready(ctx); err == nil {
		t.Errorf("Ready succeeded although nothing can be written")
	}
})

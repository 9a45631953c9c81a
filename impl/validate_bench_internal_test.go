package impl

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"meapi/gen"
	"meapi/impl/validate"
	"meapi/store"
)

// BenchmarkValidateUserEnvelope is the response validator's work for one
// GET /me answer: without a memo; with the memo and 1,000 users, each seen
// before; and with the memo and 200,000 users, more than it holds (each
// answer is then checked in full, and the memo must cost little on top).
func BenchmarkValidateUserEnvelope(b *testing.B) {
	doc, err := gen.GetSwagger()
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 11, 28, 6, 18, 35, 123_000_000, time.UTC)
	str := func(s string) *string { return &s }
	body := func(i int) []byte {
		u := store.User{ID: fmt.Sprintf("user_%026d", i)[:31], Email: fmt.Sprintf("user%d@example.com", i), FirstName: str("Ada"), LastName: str("Lovelace"),
			Username: str(fmt.Sprintf("ada%d", i)), ImageURL: str("https://images.example.com/ada.png"), CreatedAt: t0, UpdatedAt: t0}
		u.ID = "user_" + fmt.Sprintf("%026d", i)
		u.ID = u.ID[:5] + string([]byte("abcdefghijklmnopqrstuvwxyz234567")[i%32]) + u.ID[6:]
		for j := 5; j < len(u.ID); j++ {
			if u.ID[j] >= '0' && u.ID[j] <= '1' || u.ID[j] >= '8' {
				u.ID = u.ID[:j] + "a" + u.ID[j+1:]
			}
		}
		st := &requestState{session: &store.Session{Signins: []store.Signin{{ID: "signin_7rdm2kq4xwz6hbnf3ptcyv5sja", User: u, CreatedAt: t0, ActivatedSeq: 1}}}}
		env := userEnvelope(st, 200, &u)
		return appendUserEnvelope(nil, &env)
	}
	h := http.Header{"Content-Type": {"application/json"}, "Etag": {`"user_2qpk3vbzjxh7wm4tfn6cdr5sye.3"`}, "X-Request-Id": {"7h2kq4xwz6hbnf3ptcyv5sjaqm"}}
	r := httptest.NewRequest("GET", "/me", nil)
	for _, c := range []struct{ memo, users int }{{0, 1000}, {memoSize, 1000}, {memoSize, 200_000}} {
		v, err := validate.New(doc, validate.Options{Formats: formats, MemoSize: c.memo, Unrouted: unrouted})
		if err != nil {
			b.Fatal(err)
		}
		op := v.Operation("GET", "/me")
		bodies := make([][]byte, c.users)
		for i := range bodies {
			bodies[i] = body(i)
		}
		b.Run(fmt.Sprintf("memo=%d/users=%d", c.memo, c.users), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if err := v.Response(context.Background(), op, r, 200, h, bodies[i%len(bodies)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

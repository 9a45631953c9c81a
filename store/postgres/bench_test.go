package postgres_test

import (
	"crypto/sha256"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"meapi/store"
)

// The store's operations alone, on a real PostgreSQL (pgtest), without
// HTTP, as store/sqlite's benchmarks are:
//
//	go test ./store/postgres -run '^$' -bench . -benchmem -count 6 | benchstat -

var now = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)

func hashOf(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func signUpB(b *testing.B, s store.Engine, email, token string) *store.Session {
	b.Helper()
	sess, err := s.SignUp(ctx, store.SignUp{User: store.NewUser{Email: email, PasswordHash: "x"}, Grant: store.Grant{
		TokenHash: hashOf(token), Now: now, IdleExpiresAt: now.Add(7 * 24 * time.Hour), SigninExpiresAt: now.Add(30 * 24 * time.Hour), MaxSignins: 5}})
	if err != nil {
		b.Fatal(err)
	}
	return sess
}

func BenchmarkSessionByTokenHash(b *testing.B) {
	s := open(b)
	signUpB(b, s, "a@example.com", "token")
	hash := hashOf("token")
	for b.Loop() {
		if _, err := s.SessionByTokenHash(ctx, hash, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdateProfile(b *testing.B) {
	s := open(b)
	id := signUpB(b, s, "a@example.com", "token").Active().User.ID
	i := 0
	for b.Loop() {
		i++
		name := fmt.Sprintf("Ada %d", i)
		if _, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: id, Now: now.Add(time.Duration(i) * time.Millisecond),
			FirstName: store.Change{Set: true, Value: &name}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPatchCycleParallel is what PATCH /me asks of the store, from 32
// goroutines at once: the session, then the update.
func BenchmarkPatchCycleParallel(b *testing.B) {
	s := open(b)
	for i := range 32 {
		signUpB(b, s, fmt.Sprintf("u%d@example.com", i), fmt.Sprintf("token-%d", i))
	}
	var n atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		hash := hashOf(fmt.Sprintf("token-%d", n.Add(1)%32))
		i := 0
		for pb.Next() {
			i++
			sess, err := s.SessionByTokenHash(ctx, hash, now)
			if err != nil {
				b.Error(err)
				return
			}
			name := fmt.Sprintf("Ada %d", i)
			if _, err := s.UpdateProfile(ctx, store.ProfileUpdate{UserID: sess.Active().User.ID, Now: now.Add(time.Duration(i) * time.Millisecond),
				FirstName: store.Change{Set: true, Value: &name}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

package impl

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPasswordHashVerifies(t *testing.T) {
	ctx := context.Background()
	h := newHasher(PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}, 2)
	enc, err := h.hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := h.hash(ctx, "correct horse battery staple")
	if enc == again {
		t.Errorf("two hashes of one password are equal: the salt is not random")
	}
	// A hasher with other parameters still checks it: the hash carries its own.
	other := newHasher(DefaultPasswordParams, 1)
	for _, tt := range []struct {
		password string
		want     bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapl", false},
		{"Correct horse battery staple", false},
		{"", false},
	} {
		got, err := other.verify(ctx, enc, tt.password)
		if err != nil || got != tt.want {
			t.Errorf("verify(%q): got %v, %v; want %v", tt.password, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5", strings.Replace(enc, "v=19", "v=16", 1), enc[:len(enc)-50] + "!!!"} {
		if _, err := other.verify(ctx, bad, "x"); err == nil {
			t.Errorf("verify accepted the malformed hash %q", bad)
		}
	}
}

func TestPasswordHashingWaitsForASlot(t *testing.T) {
	h := newHasher(PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	h.slots <- struct{}{} // the only slot is taken
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.hash(ctx, "password"); err == nil {
		t.Errorf("hash ran without a slot")
	}
}

// TestPasswordHashingGivesMemoryBack: once hashing stops, the hasher hands
// the memory of its hashes back once, and not while a hash still runs.
func TestPasswordHashingGivesMemoryBack(t *testing.T) {
	h := newHasher(PasswordParams{MemoryKiB: 1024, Time: 1, Threads: 1}, 2)
	trimmed := make(chan int, 10)
	var busy atomic.Int32
	h.trim = func() { trimmed <- int(busy.Load()) }

	ctx := context.Background()
	h.slots <- struct{}{} // a long hash holds a slot
	busy.Add(1)
	for range 3 {
		if _, err := h.hash(ctx, "password"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * trimDelay)
	if len(trimmed) != 0 {
		t.Fatalf("memory handed back while a hash was running")
	}
	busy.Add(-1)
	h.release() // the long hash ends
	select {
	case running := <-trimmed:
		if running != 0 {
			t.Errorf("handed back with %d hashes running", running)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("memory never handed back after hashing stopped")
	}
	time.Sleep(3 * trimDelay)
	if n := len(trimmed); n != 0 {
		t.Errorf("handed back %d more times with nothing hashed", n)
	}
}

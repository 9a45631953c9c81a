package password

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var cheap = Params{MemoryKiB: 64, Time: 1, Threads: 1}

func TestHashVerifies(t *testing.T) {
	ctx := context.Background()
	h := New(cheap, 2, 0)
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := h.Hash(ctx, "correct horse battery staple")
	if enc == again {
		t.Errorf("two hashes of one password are equal: the salt is not random")
	}
	// A hasher with other parameters still checks it: the hash carries its own.
	other := New(DefaultParams, 1, 0)
	for _, tt := range []struct {
		password string
		want     bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapl", false},
		{"Correct horse battery staple", false},
		{"", false},
	} {
		got, err := other.Verify(ctx, enc, tt.password)
		if err != nil || got != tt.want {
			t.Errorf("Verify(%q): got %v, %v; want %v", tt.password, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5", strings.Replace(enc, "v=19", "v=16", 1), enc[:len(enc)-50] + "!!!"} {
		if _, err := other.Verify(ctx, bad, "x"); err == nil {
			t.Errorf("Verify accepted the malformed hash %q", bad)
		}
	}
}

// TestHashingWaitsForASlot: with every slot taken, a hash waits, and gives
// up when its caller does.
func TestHashingWaitsForASlot(t *testing.T) {
	h := New(cheap, 1, 1)
	h.slots <- struct{}{} // the only slot is taken
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "password"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash without a slot and with its caller gone: %v, want context.Canceled", err)
	}
}

// TestQueueIsBounded: with every slot taken and queue callers waiting, the
// next is refused at once with ErrBusy; once a slot frees, the waiting ones
// run and a new caller is served again.
func TestQueueIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const queue = 3
		h := New(cheap, 1, queue)
		h.slots <- struct{}{} // a long hash holds the only slot
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, queue)
		for range queue {
			wg.Go(func() {
				_, err := h.Hash(ctx, "password")
				errs <- err
			})
		}
		synctest.Wait() // every one of them is waiting for the slot
		if _, err := h.Hash(ctx, "password"); !errors.Is(err, ErrBusy) {
			t.Fatalf("a hash past the queue: %v, want ErrBusy", err)
		}
		if _, err := h.Verify(ctx, "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5", "x"); !errors.Is(err, ErrBusy) {
			t.Fatalf("a check past the queue: %v, want ErrBusy", err)
		}
		h.release() // the long hash ends
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("a queued hash: %v", err)
			}
		}
		if _, err := h.Hash(ctx, "password"); err != nil {
			t.Errorf("a hash once the queue drained: %v", err)
		}
	})
}

// TestHashingGivesMemoryBack: once hashing stops, the hasher hands the
// memory of its hashes back once, and not while a hash still runs.
func TestHashingGivesMemoryBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := New(Params{MemoryKiB: 1024, Time: 1, Threads: 1}, 2, 0)
		trims := 0
		h.trim = func() { trims++ }

		ctx := context.Background()
		h.slots <- struct{}{} // a long hash holds a slot
		for range 3 {
			if _, err := h.Hash(ctx, "password"); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(3 * trimDelay) // the bubble's clock: no real waiting
		synctest.Wait()
		if trims != 0 {
			t.Fatalf("memory handed back %d times while a hash was running", trims)
		}
		h.release() // the long hash ends
		time.Sleep(trimDelay)
		synctest.Wait()
		if trims != 1 {
			t.Fatalf("memory handed back %d times after hashing stopped, want once", trims)
		}
		time.Sleep(10 * trimDelay)
		synctest.Wait()
		if trims != 1 {
			t.Errorf("handed back %d times in all with nothing hashed since, want once", trims)
		}
	})
}

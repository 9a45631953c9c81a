// Package password hashes and checks passwords with argon2id
// (golang.org/x/crypto), in the PHC string format, a bounded number at a
// time: each hash takes its MemoryKiB at once, so that a burst queues, and
// past a bounded queue is refused with ErrBusy rather than taking the
// process's memory.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters of new password hashes. Every
// hash records its own, so changing them never locks anyone out.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultParams is OWASP's first recommended argon2id configuration
// (19 MiB, 2 passes, 1 lane): about 40 ms a hash on one core of the
// machines meapi is measured on.
var DefaultParams = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

var b64 = base64.RawStdEncoding

// ErrBusy is the answer when as many hashes as may wait are waiting
// already: the caller should come back shortly (RetryAfter).
var ErrBusy = errors.New("too many passwords are being checked at once")

// Hasher hashes and checks passwords, at most `workers` at a time, with at
// most `queue` more waiting for a turn.
type Hasher struct {
	params  Params
	slots   chan struct{}
	queue   int32
	waiting atomic.Int32

	// trim hands the memory of finished hashes back to the system once
	// hashing has stopped for trimDelay. Each hash takes MemoryKiB (19 MiB
	// by default) at once and drops it: left to itself, the runtime keeps
	// that memory resident for minutes, so that a burst of sign-ups would
	// leave the process tens of MiB bigger than the rest of its work needs.
	mu      sync.Mutex
	trim    func()
	trimmer *time.Timer
}

const trimDelay = 100 * time.Millisecond

// New returns a hasher of new hashes with p that runs at most workers
// hashes at a time (at least one) and lets at most queue more wait.
func New(p Params, workers, queue int) *Hasher {
	return &Hasher{params: p, slots: make(chan struct{}, max(workers, 1)), queue: int32(max(queue, 0)), trim: debug.FreeOSMemory}
}

// RetryAfter is how long a caller refused with ErrBusy should wait: about
// the time the queue takes to drain.
func (h *Hasher) RetryAfter() time.Duration { return time.Second }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.queue {
		h.waiting.Add(-1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() {
	<-h.slots
	if h.params.MemoryKiB < 1024 {
		return // too little to be worth a collection
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.trimmer == nil {
		h.trimmer = time.AfterFunc(trimDelay, h.trimIfIdle)
	} else {
		h.trimmer.Reset(trimDelay)
	}
}

func (h *Hasher) trimIfIdle() {
	if len(h.slots) == 0 {
		h.trim()
	}
}

// Hash returns password's argon2id hash in the PHC string format:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>. It fails with ErrBusy
// when the queue is full, and with ctx's error when ctx ends first.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	var salt [saltLen]byte
	_, _ = rand.Read(salt[:]) // crypto/rand.Read never fails (Go 1.24+)
	p := h.params
	key := argon2.IDKey([]byte(password), salt[:], p.Time, p.MemoryKiB, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt[:]), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("not an argon2id PHC string")

// Verify reports whether password matches the encoded hash, in time that
// does not depend on where they differ. It fails as Hash does.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	p, salt, key, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

func parseHash(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, errBadHash
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, errBadHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) == 0 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

package impl

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
	"time"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id cost parameters of new password hashes.
// Every hash records its own, so changing them never locks anyone out.
type PasswordParams struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultPasswordParams is OWASP's first recommended argon2id
// configuration (19 MiB, 2 passes, 1 lane): about 40 ms a hash on one core
// of the machines meapi is measured on.
var DefaultPasswordParams = PasswordParams{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

var b64 = base64.RawStdEncoding

// hasher hashes and checks passwords, at most `slots` at a time: each hash
// holds MemoryKiB of memory, so a burst of sign-ups must queue rather than
// take the process's memory.
type hasher struct {
	params PasswordParams
	slots  chan struct{}

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

func newHasher(p PasswordParams, concurrency int) *hasher {
	return &hasher{params: p, slots: make(chan struct{}, max(concurrency, 1)), trim: debug.FreeOSMemory}
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() {
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

func (h *hasher) trimIfIdle() {
	if len(h.slots) == 0 {
		h.trim()
	}
}

// hash returns password's argon2id hash in the PHC string format:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
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

// verify reports whether password matches the encoded hash, in time that
// does not depend on where they differ.
func (h *hasher) verify(ctx context.Context, encoded, password string) (bool, error) {
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

func parseHash(encoded string) (p PasswordParams, salt, key []byte, err error) {
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

// HashPassword returns password's argon2id hash with the default
// parameters, as a sign-up stores it. `meapi seed` uses it to give a
// million accounts one password at the cost of one hash.
func HashPassword(password string) (string, error) {
	return newHasher(DefaultPasswordParams, 1).hash(context.Background(), password)
}

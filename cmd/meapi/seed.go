package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"meapi/impl"
	passwords "meapi/impl/password"
	"meapi/store"
)

// seedDB makes many users, each signed in on a browser session of its own,
// and writes their session cookies to a file: the database a load test over
// many users needs. One password hash serves all of them, so that a million
// take minutes rather than the hours a million argon2id hashes would.
func seedDB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var users, batch int
	var cookies, password string
	db, err := dbFlags("seed", "Makes --users accounts, each signed in, and writes one __session cookie value a line to --cookies.", args, stderr,
		func(fs *flag.FlagSet) {
			fs.IntVar(&users, "users", 1000, "how many accounts to make")
			fs.StringVar(&cookies, "cookies", "", "the file to write the session cookies to, one a line (must not exist)")
			fs.StringVar(&password, "password", "", "every account's password (default: a random one, printed)")
			fs.IntVar(&batch, "batch", 10000, "accounts per transaction")
		})
	if err != nil {
		return flagError(err)
	}
	if cookies == "" {
		return errors.New("--cookies is required")
	}
	if users <= 0 || batch <= 0 {
		return errors.New("--users and --batch must be positive")
	}
	if password == "" {
		password = rand.Text()
	}
	hash, err := passwords.New(passwords.DefaultParams, 1, 0).Hash(ctx, password)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, db, storeOptions{migrate: true})
	if err != nil {
		return err
	}
	defer st.Close()
	seeder, ok := st.(store.Seeder)
	if !ok {
		return fmt.Errorf("the %s store cannot seed", engineOf(db))
	}
	f, err := os.OpenFile(cookies, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	out := bufio.NewWriterSize(f, 1<<20)

	start := time.Now()
	run := strings.ToLower(rand.Text()[:8])
	now := time.Now().UTC().Truncate(time.Millisecond)
	in := make([]store.SignUp, 0, batch)
	first := "Seed"
	for done := 0; done < users; {
		in = in[:0]
		for i := done; i < min(users, done+batch); i++ {
			token, tokenHash := newSessionToken()
			fmt.Fprintln(out, token)
			in = append(in, store.SignUp{
				User: store.NewUser{Email: fmt.Sprintf("seed-%s-%d@example.com", run, i), PasswordHash: hash, FirstName: &first},
				Grant: store.Grant{TokenHash: tokenHash, Now: now, IdleExpiresAt: now.Add(impl.DefaultSessionIdleTimeout),
					SigninExpiresAt: now.Add(impl.DefaultSigninLifetime)},
			})
		}
		if err := seeder.SeedSignUps(ctx, in); err != nil {
			return err
		}
		done += len(in)
		if done%(10*batch) == 0 || done == users {
			fmt.Fprintf(stderr, "seeded %d of %d (%.0f/s)\n", done, users, float64(done)/time.Since(start).Seconds())
		}
	}
	if err := out.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d users into %s in %s; their cookies are in %s, one a line; every password is %s\n",
		users, redactDB(db), time.Since(start).Round(time.Millisecond), cookies, password)
	return nil
}

// newSessionToken is a session token as impl makes them (32 random bytes,
// unpadded base64url) and the SHA-256 the store keeps.
func newSessionToken() (string, []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	return token, sum[:]
}

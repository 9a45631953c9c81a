// Package pgxloop runs the statements that meapi's PostgreSQL store sends
// for GET and PATCH /me (store/postgres.Statements) in a plain loop over
// pgx, with no HTTP, no validation and no meapi around them: PostgreSQL's
// own limit on a machine, to which bench/loadmatrix compares meapi on
// PostgreSQL. Like the store, it keeps the sessions it read (by token, the
// same number) and confirms a kept one with the one-row generation lookup;
// otherwise it reads the session whole.
package pgxloop

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"meapi/loadtest"
	"meapi/store/postgres"
)

// Config says what to run.
type Config struct {
	URL         string
	Cookies     []string
	Op          string // get or patch
	Workers     int
	PoolSize    int
	Duration    time.Duration
	MaxRequests int
	// Kept is how many sessions the loop keeps (as the store does).
	Kept int
}

type kept struct {
	id, userID string
	generation int64
}

// Run loops until Duration is over and reports as a load test does.
func Run(ctx context.Context, cfg Config) (loadtest.Result, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return loadtest.Result{}, err
	}
	pcfg.MaxConns = int32(cfg.PoolSize)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return loadtest.Result{}, err
	}
	defer pool.Close()
	cache, err := lru.New[[32]byte, kept](cfg.Kept)
	if err != nil {
		return loadtest.Result{}, err
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = 10_000_000
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	var mu sync.Mutex
	var lat []time.Duration
	var errs, ok int
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			mine := make([]time.Duration, 0, 1<<16)
			bad := 0
			for i := 0; i < cfg.MaxRequests/cfg.Workers && ctx.Err() == nil; i++ {
				hash := sha256.Sum256([]byte(cfg.Cookies[rng.IntN(len(cfg.Cookies))]))
				t0 := time.Now()
				if err := request(ctx, pool, cache, cfg.Op, hash, i); err != nil {
					if ctx.Err() == nil {
						bad++
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			ok += len(mine)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res := loadtest.Result{Op: cfg.Op, Connections: cfg.Workers, Elapsed: time.Since(start), Requests: ok, Errors: errs}
	res.SetPercentiles(lat)
	return res, nil
}

// request is what one GET or PATCH /me asks of PostgreSQL.
func request(ctx context.Context, pool *pgxpool.Pool, cache *lru.Cache[[32]byte, kept], op string, hash [32]byte, i int) error {
	now := time.Now().UnixMilli()
	k, found := cache.Get(hash)
	if found {
		var id string
		var gen int64
		if err := pool.QueryRow(ctx, postgres.Statements.SessionGeneration, hash[:], now).Scan(&id, &gen); err != nil {
			return err
		}
		found = id == k.id && gen == k.generation
	}
	if !found {
		rows, err := pool.Query(ctx, postgres.Statements.SessionByToken, hash[:], now)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				rows.Close()
				return err
			}
			if n == 0 {
				// bs.id, bs.token_hash, bs.generation, …, then the user's id
				// first among its columns.
				k = kept{id: vals[0].(string), generation: vals[2].(int64), userID: vals[10].(string)}
			}
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if n == 0 {
			return errors.New("no session")
		}
		cache.Add(hash, k)
	}
	if op != "patch" {
		return nil
	}
	name := "Loop " + strconv.Itoa(i)
	b := &pgx.Batch{}
	b.Queue(postgres.Statements.UpdateProfile, true, name, false, nil, false, nil, nil, false, nil, now, k.userID, nil)
	b.Queue(postgres.Statements.SessionsOfUser, k.userID)
	br := pool.SendBatch(ctx, b)
	var discard [14]any
	ptrs := make([]any, len(discard))
	for j := range discard {
		ptrs[j] = &discard[j]
	}
	if err := br.QueryRow().Scan(ptrs...); err != nil {
		br.Close()
		return fmt.Errorf("update: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return err
	}
	for rows.Next() {
		var id string
		var th []byte
		var gen int64
		if err := rows.Scan(&id, &th, &gen); err != nil {
			rows.Close()
			br.Close()
			return err
		}
		if id == k.id {
			k.generation = gen
		}
	}
	rows.Close()
	if err := br.Close(); err != nil {
		return err
	}
	cache.Add(hash, k) // as the store's kept copy follows its own change
	return nil
}

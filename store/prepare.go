package store

import (
	"context"
	"database/sql"
	"sync"
)

// preparer prepares each query once per pool and keeps it: for the short
// queries of this store, SQLite spends more time parsing and planning a
// statement than running it. database/sql prepares a kept statement again
// on each connection the first time it is used there.
//
// The writer pool has one connection, which a transaction holds while it
// runs: a statement cannot be prepared on it then. So a query first met
// inside a transaction runs unprepared, is noted, and is prepared before
// the next transaction begins (prepareMissed), when the connection is free.
type preparer struct {
	db    *sql.DB
	stmts sync.Map // query → *sql.Stmt

	mu     sync.Mutex
	missed map[string]bool
}

func (p *preparer) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := p.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := p.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// miss notes a query met inside a transaction before it was prepared.
func (p *preparer) miss(query string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.missed == nil {
		p.missed = map[string]bool{}
	}
	p.missed[query] = true
}

// prepareMissed prepares the queries noted by miss. It must be called
// without a transaction open on the pool.
func (p *preparer) prepareMissed(ctx context.Context) {
	p.mu.Lock()
	missed := p.missed
	p.missed = nil
	p.mu.Unlock()
	for q := range missed {
		if _, err := p.stmt(ctx, q); err != nil {
			p.miss(q) // try again next time; the query itself reports the error
		}
	}
}

func (p *preparer) close() {
	p.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
}

// conn runs queries through prepared statements, inside tx when it is set.
type conn struct {
	p  *preparer
	tx *sql.Tx
}

// prepared returns the statement to run query with, or nil to run it
// unprepared (inside a transaction, the first time).
func (c conn) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if c.tx == nil {
		return c.p.stmt(ctx, query)
	}
	st, ok := c.p.stmts.Load(query)
	if !ok {
		c.p.miss(query)
		return nil, nil
	}
	return c.tx.StmtContext(ctx, st.(*sql.Stmt)), nil
}

func (c conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.prepared(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return c.tx.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (c conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.prepared(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return c.tx.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext falls back to an unprepared query when preparing fails,
// so that the *sql.Row carries the error as usual.
func (c conn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.prepared(ctx, query)
	switch {
	case err == nil && st != nil:
		return st.QueryRowContext(ctx, args...)
	case c.tx != nil:
		return c.tx.QueryRowContext(ctx, query, args...)
	}
	return c.p.db.QueryRowContext(ctx, query, args...)
}

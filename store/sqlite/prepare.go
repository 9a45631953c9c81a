package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// querier is what the store's queries run on: the read pool (reads), or an
// operation's place in the writer's transaction (wtx).
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readPool runs queries on the read pool through statements prepared once
// and kept: for the short queries of this store, SQLite spends more time
// parsing and planning a statement than running it. database/sql prepares a
// kept statement again on each connection the first time it is used there.
type readPool struct {
	db    *sql.DB
	stmts sync.Map // query → *sql.Stmt
}

func (p *readPool) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
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

func (p *readPool) close() {
	p.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
}

func (p *readPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (p *readPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext falls back to an unprepared query when preparing fails,
// so that the *sql.Row carries the error as usual.
func (p *readPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return p.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

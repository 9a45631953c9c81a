package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"

	"meapi/store"
)

// writer runs the store's writes on its single writer connection, in
// batches: each batch is one transaction (group commit). Under load many
// requests wait to write at once; one goroutine that takes them all and
// commits once does in one commit what would otherwise be as many commits,
// and no handoff of the connection from one waiting goroutine to the next
// (which, on a busy machine, waits for the scheduler every time) stands
// between them.
//
// The writer holds its connection for good (database/sql's Conn) and says
// BEGIN IMMEDIATE, SAVEPOINT, COMMIT and ROLLBACK itself, so that it always
// knows what state the transaction is in, and prepares each statement on
// that connection once.
//
// What it promises: no operation is answered before its fate is known; an
// operation answered nil was committed, and one answered with an error was
// not. Each operation runs in a savepoint, so that one failing with an
// answer of the store's contract (taken, not found, ...) undoes only
// itself. Any other error stops the batch: SQLite may have rolled the whole
// transaction back (FULL, IOERR, BUSY, INTERRUPT) or left it half done, so
// the writer rolls back, answers that operation with its error and runs the
// others again in a new transaction. When COMMIT itself fails (a deferred
// constraint) the operations run again one transaction each, so that only
// the one at fault fails. Nothing an operation read inside a transaction
// reaches a cache before that transaction has committed (AfterCommit).
type writer struct {
	s     *Store
	db    *sql.DB
	conn  *sql.Conn
	stmts map[string]*sql.Stmt // the writer goroutine's alone

	ops       chan *writeOp
	quit      chan struct{}
	closeOnce sync.Once
	done      sync.WaitGroup
}

// maxBatch bounds how many operations share a transaction, so that one
// batch never holds the write lock for long.
const maxBatch = 64

type writeOp struct {
	ctx context.Context
	// run is an operation of the store's contract, run inside a batch.
	run func(ctx context.Context, w *wtx) error
	// raw, instead, runs alone on the connection, outside any transaction
	// of the writer's (migrations, backups).
	raw  func(ctx context.Context, c *sql.Conn) error
	done chan error
	// afterCommit holds what run asked to do once its write has committed.
	afterCommit []func()
}

func newWriter(s *Store, db *sql.DB, conn *sql.Conn) *writer {
	w := &writer{s: s, db: db, conn: conn, stmts: map[string]*sql.Stmt{},
		ops: make(chan *writeOp, maxBatch), quit: make(chan struct{})}
	w.done.Add(1)
	go w.loop()
	return w
}

// write runs fn in the next batch and returns its error: nil once what it
// wrote has committed.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, w *wtx) error) error {
	return s.enqueue(&writeOp{ctx: ctx, run: fn, done: make(chan error, 1)})
}

// onConn runs fn alone on the writer's connection, between batches.
func (s *Store) onConn(ctx context.Context, fn func(ctx context.Context, c *sql.Conn) error) error {
	return s.enqueue(&writeOp{ctx: ctx, raw: fn, done: make(chan error, 1)})
}

func (s *Store) enqueue(op *writeOp) error {
	select {
	case <-s.wr.quit:
		return store.ErrClosed
	default:
	}
	select {
	case s.wr.ops <- op:
	case <-s.wr.quit:
		return store.ErrClosed
	case <-op.ctx.Done():
		return op.ctx.Err()
	}
	// Once queued, the operation may commit: wait for its answer whatever
	// ctx says (a batch takes milliseconds at most).
	return <-op.done
}

func (w *writer) loop() {
	defer w.done.Done()
	batch := make([]*writeOp, 0, maxBatch)
	for {
		select {
		case op := <-w.ops:
			batch = append(batch[:0], op)
		case <-w.quit:
			// Answer what is still queued.
			for {
				select {
				case op := <-w.ops:
					op.done <- store.ErrClosed
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case op := <-w.ops:
				batch = append(batch, op)
			default:
				break fill
			}
		}
		// Raw operations run alone, between the transactions of the rest.
		start := 0
		for i, op := range batch {
			if op.raw == nil {
				continue
			}
			w.runBatch(batch[start:i])
			w.runRaw(op)
			start = i + 1
		}
		w.runBatch(batch[start:])
	}
}

func (w *writer) runRaw(op *writeOp) {
	if err := op.ctx.Err(); err != nil {
		op.done <- err
		return
	}
	if err := w.ensureConn(); err != nil {
		op.done <- err
		return
	}
	// Prepared statements may name tables a migration changes: SQLite
	// prepares them again by itself when the schema moves.
	op.done <- w.recoverConn(op.raw(op.ctx, w.conn))
}

// runBatch runs ops in as few transactions as their failures allow, and
// answers each of them.
func (w *writer) runBatch(ops []*writeOp) {
	pending := ops
	for len(pending) > 0 {
		pending = w.attempt(pending)
	}
}

// attempt runs ops in one transaction. It answers every operation whose
// fate it knows and returns those that must run again.
func (w *writer) attempt(ops []*writeOp) (again []*writeOp) {
	ctx := context.Background() // each operation's own context is checked before it runs
	live := make([]*writeOp, 0, len(ops))
	for _, op := range ops {
		if err := op.ctx.Err(); err != nil {
			op.done <- err // given up before it ran: nothing written
			continue
		}
		live = append(live, op)
	}
	if len(live) == 0 {
		return nil
	}
	if err := w.ensureConn(); err != nil {
		answerAll(live, err)
		return nil
	}
	// A write acknowledged into a file that was deleted or replaced under
	// the server would be lost at the next start: refuse it instead. One
	// stat a batch, beside a commit, costs nothing to speak of.
	if err := w.s.stillThere(); err != nil {
		answerAll(live, err)
		return nil
	}
	if _, err := w.exec(ctx, `BEGIN IMMEDIATE`); err != nil {
		w.rollback()
		answerAll(live, fmt.Errorf("begin: %w", err))
		return nil
	}
	answers := make([]error, len(live))
	for i, op := range live {
		op.afterCommit = nil
		undone, err := w.runOne(ctx, op)
		if err == nil {
			continue
		}
		if undone && store.IsAnswer(err) {
			answers[i] = err // its own answer; it wrote nothing
			op.afterCommit = nil
			continue
		}
		// Not an answer the operation expects, or the transaction is no
		// longer what it was: stop, roll back, run the others again.
		w.rollback()
		op.done <- err
		return append(append(again, live[:i]...), live[i+1:]...)
	}
	if _, err := w.exec(ctx, `COMMIT`); err != nil {
		// A COMMIT refused for a deferred constraint leaves the
		// transaction open; one that failed for I/O has rolled it back.
		w.rollback()
		if len(live) == 1 {
			live[0].done <- fmt.Errorf("commit: %w", err)
			return nil
		}
		// Which operation the commit failed for is not known: each runs
		// again in a transaction of its own, and only that one fails.
		for _, op := range live {
			w.runBatch([]*writeOp{op})
		}
		return nil
	}
	for i, op := range live {
		if answers[i] == nil {
			for _, f := range op.afterCommit {
				f()
			}
		}
		op.afterCommit = nil
		op.done <- answers[i]
	}
	return nil
}

// runOne runs one operation in a savepoint. When the operation fails it
// rolls back to the savepoint; undone says whether that worked, leaving the
// transaction as it was before the operation.
func (w *writer) runOne(ctx context.Context, op *writeOp) (undone bool, err error) {
	if _, err := w.exec(ctx, `SAVEPOINT op`); err != nil {
		return false, w.recoverConn(fmt.Errorf("savepoint: %w", err))
	}
	// Once it runs, an operation runs to its end: interrupting SQLite in
	// the middle of a statement rolls the whole transaction back.
	err = safely(context.WithoutCancel(op.ctx), op, &wtx{w: w, op: op})
	if err == nil {
		if _, err := w.exec(ctx, `RELEASE op`); err != nil {
			return false, w.recoverConn(fmt.Errorf("release savepoint: %w", err))
		}
		return false, nil
	}
	if _, rbErr := w.exec(ctx, `ROLLBACK TO op`); rbErr != nil {
		return false, w.recoverConn(err)
	}
	if _, relErr := w.exec(ctx, `RELEASE op`); relErr != nil {
		return false, w.recoverConn(err)
	}
	return true, err
}

func answerAll(ops []*writeOp, err error) {
	for _, op := range ops {
		op.done <- err
	}
}

// rollback ends the transaction, if one is open.
func (w *writer) rollback() {
	if w.conn != nil {
		_, _ = w.conn.ExecContext(context.Background(), `ROLLBACK`) // "no transaction is active" is fine
	}
}

// ensureConn gets a new connection when the one held has gone bad.
func (w *writer) ensureConn() error {
	if w.conn != nil {
		return nil
	}
	c, err := w.db.Conn(context.Background())
	if err != nil {
		return fmt.Errorf("writer connection: %w", err)
	}
	w.conn = c
	return nil
}

// recoverConn drops the connection when err says it is unusable, so that
// the next batch gets a new one; it returns err.
func (w *writer) recoverConn(err error) error {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		for _, st := range w.stmts {
			st.Close()
		}
		w.stmts = map[string]*sql.Stmt{}
		w.conn.Close()
		w.conn = nil
	}
	return err
}

// stmt returns query prepared on the writer connection.
func (w *writer) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := w.stmts[query]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

func (w *writer) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := w.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (w *writer) close() {
	w.closeOnce.Do(func() { close(w.quit) })
	w.done.Wait()
	for _, st := range w.stmts {
		st.Close()
	}
	if w.conn != nil {
		w.conn.Close()
	}
}

// safely runs one operation; a panic in it fails that operation rather than
// the writer, which every other request needs.
func safely(ctx context.Context, op *writeOp, t *wtx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic in a store operation: %v", v)
		}
	}()
	return op.run(ctx, t)
}

// wtx is an operation's place in the writer's transaction: it runs
// statements prepared on the writer connection.
type wtx struct {
	w  *writer
	op *writeOp
}

// AfterCommit runs f once the transaction the operation is in has
// committed, and never if it does not.
func (t *wtx) AfterCommit(f func()) { t.op.afterCommit = append(t.op.afterCommit, f) }

func (t *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.w.exec(ctx, query, args...)
}

func (t *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.w.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext falls back to an unprepared query when preparing fails,
// so that the *sql.Row carries the error as usual.
func (t *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.w.stmt(ctx, query)
	if err != nil {
		return t.w.conn.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

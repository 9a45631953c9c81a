package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// writer runs the store's writes on its single writer connection, in
// batches: each batch is one transaction (group commit). Under load many
// requests wait to write at once; one goroutine that takes them all and
// commits once does in one commit what would otherwise be as many commits,
// and no handoff of the connection from one waiting goroutine to the next
// (which, on a busy machine, waits for the scheduler every time) stands
// between them. Nothing is answered before its batch has committed.
type writer struct {
	s         *SQLite
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
	run func(ctx context.Context, w conn) error
	// atomic is set for operations of more than one statement: they run
	// inside a savepoint, so that failing halfway undoes only them.
	atomic bool
	// readOnly is set for reads; a batch of nothing else runs without a
	// transaction, which would take the write lock for nothing.
	readOnly bool
	done     chan error
}

var errClosed = errors.New("store closed")

func newWriter(s *SQLite) *writer {
	w := &writer{s: s, ops: make(chan *writeOp, maxBatch), quit: make(chan struct{})}
	w.done.Add(1)
	go w.loop()
	return w
}

// inWriter runs fn in the next batch and returns its error, or the batch's
// when the batch could not commit.
func (s *SQLite) inWriter(ctx context.Context, atomic bool, fn func(ctx context.Context, w conn) error) error {
	return s.enqueue(&writeOp{ctx: ctx, run: fn, atomic: atomic, done: make(chan error, 1)})
}

// readInWriter runs fn, a read, on the writer connection in the next batch.
func (s *SQLite) readInWriter(ctx context.Context, fn func(ctx context.Context, w conn) error) error {
	return s.enqueue(&writeOp{ctx: ctx, run: fn, readOnly: true, done: make(chan error, 1)})
}

func (s *SQLite) enqueue(op *writeOp) error {
	ctx := op.ctx
	select {
	case s.wr.ops <- op:
	case <-s.wr.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
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
					op.done <- errClosed
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
		w.run(batch)
	}
}

// run runs one batch in one transaction and answers each operation.
func (w *writer) run(batch []*writeOp) {
	ctx := context.Background() // each operation's own context is checked before it runs
	results := make([]error, len(batch))
	w.s.w.prepareMissed(ctx)
	if readsOnly(batch) {
		c := w.s.write(nil)
		for _, op := range batch {
			if err := op.ctx.Err(); err != nil {
				op.done <- err
				continue
			}
			op.done <- safely(op, c)
		}
		return
	}
	tx, err := w.s.writer.BeginTx(ctx, nil)
	if err != nil {
		for _, op := range batch {
			op.done <- fmt.Errorf("begin: %w", err)
		}
		return
	}
	c := w.s.write(tx)
	for i, op := range batch {
		if err := op.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if !op.atomic {
			results[i] = safely(op, c)
			continue
		}
		if _, err := c.ExecContext(ctx, `SAVEPOINT op`); err != nil {
			results[i] = err
			continue
		}
		if results[i] = safely(op, c); results[i] != nil {
			if _, err := c.ExecContext(ctx, `ROLLBACK TO op`); err != nil {
				results[i] = errors.Join(results[i], err)
			}
		}
		if _, err := c.ExecContext(ctx, `RELEASE op`); err != nil && results[i] == nil {
			results[i] = err
		}
	}
	if err := tx.Commit(); err != nil {
		// Nothing of the batch is written: those that succeeded learn it.
		for i := range results {
			if results[i] == nil {
				results[i] = fmt.Errorf("commit: %w", err)
			}
		}
	}
	for i, op := range batch {
		op.done <- results[i]
	}
}

func readsOnly(batch []*writeOp) bool {
	for _, op := range batch {
		if !op.readOnly {
			return false
		}
	}
	return true
}

// safely runs one operation; a panic in it fails that operation rather than
// the writer, which every other request needs.
func safely(op *writeOp, c conn) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic in a store operation: %v", v)
		}
	}()
	return op.run(op.ctx, c)
}

func (w *writer) close() {
	w.closeOnce.Do(func() { close(w.quit) })
	w.done.Wait()
}

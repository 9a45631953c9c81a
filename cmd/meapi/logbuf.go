package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"
)

// bufferedLog batches log lines into few writes: at thousands of requests a
// second, one write system call per log line costs the server more than the
// line itself. Lines are written at least every flushEvery, when a batch
// reaches flushAt bytes, on Flush (which flushOnError calls for an ERROR
// record), and on Close. A kill -9 can lose the lines of the last
// flushEvery; data is never at stake.
type bufferedLog struct {
	mu   sync.Mutex
	w    io.Writer
	buf  bytes.Buffer
	quit chan struct{}
	done chan struct{}
}

const (
	flushEvery = 100 * time.Millisecond
	flushAt    = 32 << 10
)

// newBufferedLog writes to w at least every interval (flushEvery in meapi
// serve).
func newBufferedLog(w io.Writer, every time.Duration) *bufferedLog {
	b := &bufferedLog{w: w, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				b.Flush()
			case <-b.quit:
				b.Flush()
				return
			}
		}
	}()
	return b
}

func (b *bufferedLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.buf.Len() >= flushAt {
		return len(p), b.flushLocked()
	}
	return len(p), nil
}

// Flush writes what is buffered.
func (b *bufferedLog) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *bufferedLog) flushLocked() error {
	if b.buf.Len() == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf.Bytes())
	b.buf.Reset()
	return err
}

// Close flushes and stops the flusher.
func (b *bufferedLog) Close() error {
	close(b.quit)
	<-b.done
	return nil
}

// flushOnError is a slog.Handler that hands records to its Handler and,
// for one at ERROR or above, flushes the buffered log at once: an error is
// written out before whatever comes next can happen to the process.
type flushOnError struct {
	slog.Handler
	flush func() error
}

func (f flushOnError) Handle(ctx context.Context, r slog.Record) error {
	err := f.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelError {
		err = errors.Join(err, f.flush())
	}
	return err
}

func (f flushOnError) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushOnError{f.Handler.WithAttrs(attrs), f.flush}
}

func (f flushOnError) WithGroup(name string) slog.Handler {
	return flushOnError{f.Handler.WithGroup(name), f.flush}
}

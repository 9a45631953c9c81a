package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type syncWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

func (w *syncWriter) snapshot() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.writes
}

// TestBufferedLogBatchesLines: info records wait in the buffer; an error
// record, told by its level and not by its text, flushes everything before
// it at once, in either format.
func TestBufferedLogBatchesLines(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			out := &syncWriter{}
			// No timed flush may come between the writes and the checks of
			// what they wrote; the timed flush has a test of its own.
			b := newBufferedLog(out, time.Hour)
			plain, err := newLogger(b, format, "info")
			if err != nil {
				t.Fatal(err)
			}
			log := slog.New(flushOnError{Handler: plain.Handler(), flush: b.Flush}).With("component", "test")
			for range 100 {
				log.Info("request", "msg2", `"level":"ERROR"`) // text that looks like an error level
			}
			if s, n := out.snapshot(); n != 0 || s != "" {
				t.Errorf("info lines were written at once: %d writes", n)
			}
			log.ErrorContext(context.Background(), "request failed")
			if s, n := out.snapshot(); n != 1 || strings.Count(s, "\n") != 101 {
				t.Errorf("an error line must flush everything before it: %d writes, %d lines", n, strings.Count(s, "\n"))
			}
			log.Info("last")
			b.Close()
			if s, _ := out.snapshot(); !strings.Contains(s[strings.LastIndex(s[:len(s)-1], "\n")+1:], "last") {
				t.Errorf("Close lost the last line:\n%s", s)
			}
		})
	}
}

func TestBufferedLogFlushesInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &syncWriter{}
		b := newBufferedLog(out, flushEvery)
		defer b.Close()
		b.Write([]byte(`{"level":"INFO","msg":"later"}` + "\n"))
		time.Sleep(flushEvery / 2) // the bubble's clock: no real waiting
		synctest.Wait()
		if _, n := out.snapshot(); n != 0 {
			t.Errorf("the line was written before its time")
		}
		time.Sleep(flushEvery)
		synctest.Wait()
		if s, _ := out.snapshot(); !strings.Contains(s, "later") {
			t.Errorf("a line was not written within %s", flushEvery)
		}
	})
}

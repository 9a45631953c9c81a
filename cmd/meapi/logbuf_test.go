package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
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

func TestBufferedLogBatchesLines(t *testing.T) {
	out := &syncWriter{}
	// No timed flush may come between the writes and the checks of what
	// they wrote; the timed flush has a test of its own.
	b := newBufferedLog(out, time.Hour)
	for range 100 {
		b.Write([]byte(`{"level":"INFO","msg":"request"}` + "\n"))
	}
	if s, n := out.snapshot(); n != 0 || s != "" {
		t.Errorf("info lines were written at once: %d writes", n)
	}
	b.Write([]byte(`{"level":"ERROR","msg":"request failed"}` + "\n"))
	if s, n := out.snapshot(); n != 1 || strings.Count(s, "\n") != 101 {
		t.Errorf("an error line must flush everything before it: %d writes, %d lines", n, strings.Count(s, "\n"))
	}
	b.Write([]byte(`{"level":"INFO","msg":"last"}` + "\n"))
	b.Close()
	if s, _ := out.snapshot(); !strings.HasSuffix(s, `"msg":"last"}`+"\n") {
		t.Errorf("Close lost the last line")
	}
}

func TestBufferedLogFlushesInTime(t *testing.T) {
	out := &syncWriter{}
	b := newBufferedLog(out, flushEvery)
	defer b.Close()
	b.Write([]byte(`{"level":"INFO","msg":"later"}` + "\n"))
	time.Sleep(3 * flushEvery)
	if s, _ := out.snapshot(); !strings.Contains(s, "later") {
		t.Errorf("a line was not written within %s", 3*flushEvery)
	}
}

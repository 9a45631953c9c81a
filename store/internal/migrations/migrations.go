// Package migrations reads an engine's numbered migration files. Both
// engines number theirs the same way, and migration N of one does what
// migration N of the other does, so that a schema version means the same
// thing whatever the engine.
package migrations

import (
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Unapplied returns the migrations after version newest, the newest a
// database has applied. A database newer than the binary is refused: its
// schema may hold what this code does not know how to keep.
func Unapplied(ms []Migration, newest int) ([]Migration, error) {
	if newest > len(ms) {
		return nil, fmt.Errorf("the database is at schema version %d, newer than this binary's %d: run a newer meapi", newest, len(ms))
	}
	return ms[newest:], nil
}

// Load returns the migrations in the root of fsys in order. File names are
// NNNN_description.sql; the numbers must be 1, 2, 3, ... without gaps.
func Load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %q: name must be NNNN_description.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %q: expected number %d", m.Name, i+1)
		}
	}
	return ms, nil
}

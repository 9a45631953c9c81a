// Package pgtest gives tests a fresh PostgreSQL database each: on the server
// MEAPI_TEST_POSTGRES_URL names when it is set, otherwise on a throwaway
// cluster it starts itself once per test binary (initdb into a temporary
// folder, a free port on 127.0.0.1, fsync off) and stops and removes at the
// end, failed tests or not. A package that uses it runs its tests through
// Main:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// With neither PostgreSQL's server binaries nor the variable, every test
// that asks for a database fails, saying how to get one: PostgreSQL's tests
// are never skipped.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable that points the tests at a server of one's own:
// a URL whose user may create and drop databases.
const EnvURL = "MEAPI_TEST_POSTGRES_URL"

const howTo = "PostgreSQL's tests need a server: install PostgreSQL's server binaries " +
	"(Debian: apt-get install postgresql; the tests look for /usr/lib/postgresql/*/bin/initdb and start a throwaway cluster), " +
	"or set " + EnvURL + " to a postgres:// URL of a user who may create databases"

var (
	once     sync.Once
	adminURL string // where databases are created
	startErr error
	cluster  *server
	seq      atomic.Int64
)

// Main runs the tests of a package, then stops the cluster it may have
// started. It never returns.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		cluster.stop()
	}
	os.Exit(code)
}

// URL returns the URL of a new, empty database, dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { adminURL, startErr = admin() })
	if startErr != nil {
		t.Fatalf("pgtest: %v", startErr)
	}
	name := fmt.Sprintf("meapi_test_%d_%d", os.Getpid(), seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dbURL, err := CreateDatabase(ctx, adminURL, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Errorf("pgtest: connect to drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return dbURL
}

// CreateDatabase creates the database name through the server adminURL
// names, and returns its URL.
func CreateDatabase(ctx context.Context, adminURL, name string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// Cluster is a throwaway PostgreSQL cluster that this process started.
type Cluster struct{ s *server }

// StartCluster starts a throwaway cluster, for programs other than tests
// (make loadtest). settings are extra -c name=value of postgres.
func StartCluster(settings ...string) (*Cluster, error) {
	bin, err := binaries()
	if err != nil {
		return nil, err
	}
	s, err := start(bin, settings...)
	if err != nil {
		return nil, err
	}
	return &Cluster{s}, nil
}

// URL is the URL of the cluster's postgres database, as its superuser.
func (c *Cluster) URL() string { return c.s.url }

// Stop stops the cluster and removes its files.
func (c *Cluster) Stop() { c.s.stop() }

// admin returns the URL to create databases through: the variable's, or
// that of a cluster started now.
func admin() (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return u, nil
	}
	bin, err := binaries()
	if err != nil {
		return "", err
	}
	s, err := start(bin)
	if err != nil {
		return "", err
	}
	cluster = s
	return s.url, nil
}

// binaries finds the newest PostgreSQL's server binaries.
func binaries() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	if len(found) > 0 {
		return filepath.Dir(found[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New(howTo)
}

func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// server is a cluster this process started.
type server struct {
	dir     string
	cmd     *exec.Cmd
	url     string
	release chan struct{}
}

// start makes a cluster in a new temporary folder and runs it on a free
// port of 127.0.0.1. As root it runs as the postgres system user (initdb
// refuses root).
func start(bin string, settings ...string) (*server, error) {
	dir, err := os.MkdirTemp("", "meapi-pgtest-")
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		// Throwaway data: durability buys nothing here.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=128MB")
	for _, kv := range settings {
		cmd.Args = append(cmd.Args, "-c", kv)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// The cluster dies with this process, even when it is killed. The
	// signal comes when the thread that started postgres ends, so that
	// thread is kept, locked to a goroutine that waits for stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	release := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		started <- cmd.Start()
		<-release
	}()
	if err := <-started; err != nil {
		close(release)
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &server{dir: dir, cmd: cmd, release: release, url: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.url)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			go func() { <-exited }()
			return s, nil
		}
		select {
		case werr := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres exited: %v\n%s", werr, log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			s.stop()
			return nil, fmt.Errorf("postgres did not answer within 30 s: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop shuts the cluster down (fast: open sessions are ended) and removes
// its folder.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	deadline := time.Now().Add(20 * time.Second)
	for s.cmd.Process.Signal(syscall.Signal(0)) == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_ = s.cmd.Process.Kill()
	close(s.release)
	os.RemoveAll(s.dir)
}

// credential is the postgres system user's, when this process runs as
// root; nil otherwise.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and no postgres user to run PostgreSQL as (initdb refuses root): %w; %s", err, howTo)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Exec runs statements on the database at dbURL directly.
func Exec(ctx context.Context, dbURL, query string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, query)
	return err
}

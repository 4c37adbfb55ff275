package enginetest

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisServer is a real redis-server a test started on a loopback port,
// with nothing saved to disk and DEBUG allowed from loopback (to slow it
// down on purpose). It stops when the test ends.
type RedisServer struct {
	Port int
	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{}
}

// StartRedis starts a redis-server, or skips the test, saying what to
// install, where there is none.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed, so the shared limits cannot be tested against a real Redis; install it (apt-get install redis-server) to run this test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &RedisServer{Port: port, t: t}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// URL is the server's address as --redis takes it.
func (r *RedisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port) }

// Addr is host:port.
func (r *RedisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// Start starts the server on its port (again, after Stop) and waits until
// it answers.
func (r *RedisServer) Start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--enable-debug-command", "local", "--loglevel", "warning")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(r.cmd, r.done)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r.Do("PING") == "+PONG" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("redis-server on port %d did not answer PING within 10 s", r.Port)
}

// Stop kills the server, as a crash would.
func (r *RedisServer) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// Do sends one command over a connection of its own and returns the first
// line of the answer ("" if there is none): for a test to look at keys
// or slow the server down, without the client under test.
func (r *RedisServer) Do(args ...string) string {
	conn, err := net.DialTimeout("tcp", r.Addr(), time.Second)
	if err != nil {
		return ""
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return ""
	}
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimRight(line, "\r\n")
}

// AwayFromAMinuteTurn waits, if need be, until the wall clock has at
// least need left in its minute: shared fixed windows are clock minutes,
// and a test that counts what one window lets through must not straddle
// two.
func AwayFromAMinuteTurn(t testing.TB, need time.Duration) {
	t.Helper()
	now := time.Now()
	if left := now.Truncate(time.Minute).Add(time.Minute).Sub(now); left < need {
		time.Sleep(left + 100*time.Millisecond)
	}
}

//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// limitsDoc is a small valid scenario file; the cases below add one bad
// value to it. It has 13 lines.
const limitsDoc = `[[scenario]]
name = "s"
title = "t"
  [[scenario.account]]
  name = "a"
  [[scenario.deployment]]
  name = "d"
  model = "m"
  rpm = 1
  [[scenario.tenant]]
  name = "app"
  rpm = 1
  requests = 1
`

// spillwayWithin runs the command like spillway does, but fails the test
// instead of hanging it when the command blocks (as reading a FIFO did).
func spillwayWithin(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	type result struct {
		status         int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		s, o, e := spillway(args...)
		done <- result{s, o, e}
	}()
	select {
	case r := <-done:
		return r.status, r.stdout, r.stderr
	case <-time.After(30 * time.Second):
		t.Fatalf("spillway %q has not returned after 30s; bad input must be refused at once", args)
		return 0, "", ""
	}
}

// TestLimitsRefusedByTheCommand: input that used to hang the tool, exhaust
// memory or give nonsense is refused with exit status 2, before anything
// runs, and with the file, line, column and key where there is one.
func TestLimitsRefusedByTheCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	deep := write("deep.toml", "x = "+strings.Repeat("{a=", 20_000)+"1"+strings.Repeat("}", 20_000)+"\n")
	factor := write("factor.toml", limitsDoc+"  [[scenario.fault]]\n  kind = \"latency\"\n  factor = 1e308\n")
	weight := write("weight.toml", strings.Replace(limitsDoc, "  rpm = 1\n", "  rpm = 1\n  weight = 1.7e308\n", 1))
	jitter := write("jitter.toml", limitsDoc+"  [scenario.gateway]\n  jitter = nan\n")
	poll := write("poll.toml", limitsDoc+"[scenario.logs]\npoll_every = \"1ns\"\n")
	stagger := write("stagger.toml", limitsDoc+"  stagger = \"2562047h\"\n")
	big := write("big.toml", "")
	if err := os.Truncate(big, 9_650_000); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "pipe.toml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // releases a reader blocked in open, should there be one
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})

	const speedRange = "--speed must be a number from 0.01 to 100000 (1 is real time, 20 is 20× faster) or max"
	for _, tc := range []struct {
		args []string
		want string // the start of stderr, after "spillway: "
	}{
		{[]string{"validate", deep}, deep + ":1:1: x: nested 20001 levels deep; scenario files nest at most 32"},
		{[]string{"validate", "/dev/zero"}, "/dev/zero: not a regular file (a character device); give a scenario file's path"},
		{[]string{"validate", "/dev/urandom"}, "/dev/urandom: not a regular file (a character device)"},
		{[]string{"validate", dir}, dir + ": not a regular file (a directory)"},
		{[]string{"validate", fifo}, fifo + ": not a regular file (a named pipe)"},
		{[]string{"run", "--scenarios", fifo}, fifo + ": not a regular file (a named pipe)"},
		{[]string{"validate", big}, big + ": 9.2 MiB is over the 4 MiB limit for a scenario file"},
		{[]string{"validate", factor}, factor + ":16:3: scenario.fault.factor: "},
		{[]string{"validate", weight}, weight + ":10:3: scenario.deployment.weight: "},
		{[]string{"validate", jitter}, jitter + ":15:3: scenario.gateway.jitter: "},
		{[]string{"validate", poll}, poll + ":15:1: scenario.logs.poll_every: "},
		{[]string{"validate", stagger}, stagger + ":14:3: scenario.tenant.stagger: "},
		{[]string{"run", "--speed", "1e-300"}, speedRange + `, got "1e-300"`},
		{[]string{"run", "--speed", "0.001"}, speedRange},
		{[]string{"run", "--speed", "1e6"}, speedRange},
		{[]string{"run", "--speed", "NaN"}, speedRange},
		{[]string{"emulator", "--addr", "127.0.0.1:0", "--speed", "1e-300"}, speedRange},
		{[]string{"emulator", "--addr", "127.0.0.1:0", "--log-retention", "5"}, `--log-retention must be a duration such as 24h or 90m, or 0 to keep every record, got "5"`},
		{[]string{"emulator", "--addr", "127.0.0.1:0", "--log-retention", "-1h"}, "--log-retention must be a duration"},
		{[]string{"emulator", "--addr", "127.0.0.1:0", "--max-log-records", "lots"}, `--max-log-records must be a whole number such as 200000, or 0 to keep every record, got "lots"`},
		{[]string{"emulator", "--addr", "127.0.0.1:0", "--max-log-records", "-5"}, "--max-log-records must be a whole number"},
	} {
		status, stdout, stderr := spillwayWithin(t, tc.args...)
		if status != 2 || !strings.HasPrefix(stderr, "spillway: "+tc.want) {
			t.Errorf("spillway %q: status %d, stderr %q; want 2 and a message starting %q", tc.args, status, stderr, tc.want)
		}
		if stdout != "" {
			t.Errorf("spillway %q printed %q on stdout; bad input must be refused before anything runs", tc.args, stdout)
		}
	}
}

// TestLimitsKeepWhatWorks: the built-in scenarios and the engine's test
// files still validate, and the speed range's edges are accepted.
func TestLimitsKeepWhatWorks(t *testing.T) {
	for _, args := range [][]string{
		{"validate"},
		{"validate", "scenarios.toml"},
		{"validate", "engine/testdata/steady-600rpm.toml"},
		{"validate", "engine/testdata/bulk-100k.toml"},
	} {
		if status, stdout, stderr := spillwayWithin(t, args...); status != 0 || !strings.Contains(stdout, ": ok, ") {
			t.Errorf("spillway %q: status %d, stdout %q, stderr %q", args, status, stdout, stderr)
		}
	}
	for _, s := range []string{"0.01", "100000", "max", "1", "20"} {
		if _, err := parseSpeed(s); err != nil {
			t.Errorf("parseSpeed(%q): %v", s, err)
		}
	}
}

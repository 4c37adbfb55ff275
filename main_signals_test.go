package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"spillway/engine/simaws/emulator"
	"spillway/scenarios"
)

// stopSignals lists the signals that stop a run as Ctrl-C does.
var stopSignalList = []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// trials is how many times each signal is tried: a race shows up in some
// runs only.
const trials = 3

// exitDeadline bounds how long a stopped process may take to exit before a
// test calls it hung. It detects hangs; it is not a speed target.
const exitDeadline = 20 * time.Second

// command is the spillway command running as a child process, its output
// read line by line.
type command struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  *bufio.Scanner
	stdout io.ReadCloser
	out    strings.Builder
	stderr bytes.Buffer
}

func startCommand(t *testing.T, env []string, args ...string) *command {
	t.Helper()
	return startProcess(t, env, exec.Command(os.Args[0], args...))
}

// startUnderNohup runs the command with SIGHUP ignored, as nohup starts it.
func startUnderNohup(t *testing.T, args ...string) *command {
	t.Helper()
	return startProcess(t, nil, exec.Command("sh", append([]string{"-c", `trap '' HUP; exec "$0" "$@"`, os.Args[0]}, args...)...))
}

func startProcess(t *testing.T, env []string, cmd *exec.Cmd) *command {
	t.Helper()
	c := &command{t: t, cmd: cmd}
	c.cmd.Env = append(append(os.Environ(), "SPILLWAY_TEST_AS_COMMAND=1"), env...)
	c.cmd.Stderr = &c.stderr
	var err error
	if c.stdout, err = c.cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.cmd.Process.Kill() })
	c.lines = bufio.NewScanner(c.stdout)
	return c
}

// readUntil reads output lines until one contains text.
func (c *command) readUntil(text string) {
	c.t.Helper()
	for c.lines.Scan() {
		c.out.WriteString(c.lines.Text() + "\n")
		if strings.Contains(c.lines.Text(), text) {
			return
		}
	}
	c.t.Fatalf("the output ended without %q:\n%s\n%s", text, c.out.String(), c.stderr.String())
}

func (c *command) signal(sig syscall.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatal(err)
	}
}

// wait reads the rest of the output and returns the exit status.
func (c *command) wait() int {
	c.t.Helper()
	done := make(chan error, 1)
	go func() {
		for c.lines.Scan() {
			c.out.WriteString(c.lines.Text() + "\n")
		}
		done <- c.cmd.Wait()
	}()
	select {
	case err := <-done:
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &exit):
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				c.t.Fatalf("spillway was killed by %v:\n%s\n%s", ws.Signal(), c.out.String(), c.stderr.String())
			}
			return exit.ExitCode()
		}
		c.t.Fatal(err)
	case <-time.After(exitDeadline):
		c.t.Fatalf("spillway did not exit within %s:\n%s\n%s", exitDeadline, c.out.String(), c.stderr.String())
	}
	return -1
}

// runRecord is what the tests read back from a --json export.
type runRecord struct {
	Interrupted bool `json:"interrupted"`
	Summary     struct {
		Planned, Requests, Succeeded, Cancelled int
	} `json:"summary"`
	Requests []map[string]any `json:"requests"`
	Events   []map[string]any `json:"events"`
}

func readRecord(t *testing.T, path string) runRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no record: %v", err)
	}
	var r runRecord
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("the record is not valid JSON: %v", err)
	}
	if len(r.Requests) != r.Summary.Requests || len(r.Events) == 0 {
		t.Fatalf("incomplete record: summary %+v, %d requests, %d events", r.Summary, len(r.Requests), len(r.Events))
	}
	return r
}

// wasStopped checks a record of a run stopped early.
func wasStopped(t *testing.T, path string) {
	t.Helper()
	r := readRecord(t, path)
	if !r.Interrupted || r.Summary.Succeeded < 1 || r.Summary.Requests >= r.Summary.Planned {
		t.Fatalf("want an interrupted record of a run stopped early: interrupted=%v summary=%+v", r.Interrupted, r.Summary)
	}
}

// Each stop signal, sent to a headless run, stops sending, prints the
// summary so far, writes the record and exits 0, as Ctrl-C does.
func TestStopSignalsHeadless(t *testing.T) {
	for _, sig := range stopSignalList {
		for trial := 1; trial <= trials; trial++ {
			t.Run(fmt.Sprintf("%s/%d", sigName(sig), trial), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "run.json")
				c := startCommand(t, nil, "run", "tuning", "--speed", "20", "--json", path)
				c.readUntil("→") // answers are coming in: stop now
				c.signal(sig)
				if status := c.wait(); status != 0 {
					t.Fatalf("exit status %d after %s, want 0:\n%s", status, sig, c.stderr.String())
				}
				if !strings.Contains(c.out.String(), "TUNING RESULTS (INTERRUPTED)") ||
					!strings.Contains(c.out.String(), "Stopped by SIG"+sigName(sig)) {
					t.Fatalf("no interrupted summary saying what stopped it:\n%s", c.out.String())
				}
				wasStopped(t, path)
			})
		}
	}
}

// A closing terminal often sends SIGHUP twice; the second, arriving while
// the run is stopping, must not cut the write-out short.
func TestRepeatedHangupStillWritesTheRecord(t *testing.T) {
	endpoint, env := stalledLogs(t)
	path := filepath.Join(t.TempDir(), "run.json")
	c := startCommand(t, env, "run", "tuning", "--headless", "--backend", "aws", "--endpoint", endpoint,
		"--speed", "20", "--json", path)
	c.readUntil("→")
	c.signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond) // now it waits on the stalled log read
	c.signal(syscall.SIGHUP)
	if status := c.wait(); status != 0 {
		t.Fatalf("exit status %d, want 0:\n%s", status, c.stderr.String())
	}
	wasStopped(t, path)
}

// Started under nohup, a run outlives its terminal as asked: SIGHUP does
// not stop it, and Ctrl-C still does.
func TestNohupKeepsTheRunGoing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	c := startUnderNohup(t, "run", "tuning", "--speed", "20", "--json", path)
	c.readUntil("→")
	c.signal(syscall.SIGHUP)
	// The run goes on: more answers come in after the hangup.
	for range 3 {
		c.readUntil("→")
	}
	c.signal(syscall.SIGINT)
	if status := c.wait(); status != 0 {
		t.Fatalf("exit status %d, want 0:\n%s", status, c.stderr.String())
	}
	if out := c.out.String(); !strings.Contains(out, "Stopped by SIGINT") || strings.Contains(out, "SIGHUP") {
		t.Fatalf("want the run stopped by SIGINT, not by the hangup:\n%s", out)
	}
	wasStopped(t, path)
}

// stalledLogs serves the built-in scenarios' accounts on a local endpoint
// whose CloudWatch Logs calls never answer, so a stopping run waits out its
// last log read (up to five seconds) and a second signal finds it still
// stopping. It returns the endpoint and the environment that gives the
// AWS SDK the emulator's profiles.
func stalledLogs(t *testing.T) (endpoint string, env []string) {
	t.Helper()
	f, err := scenarios.Parse(builtinName, builtinScenarios)
	if err != nil {
		t.Fatal(err)
	}
	emu := emulator.New(emulator.World(f, 20), f.Models, 42, time.Now(), emulator.Options{Sleep: true})
	stalled := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "Logs_") {
			select {
			case <-stalled:
			case <-r.Context().Done():
			}
			return
		}
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		close(stalled)
		srv.Close()
	})
	dir := t.TempDir()
	creds, conf, err := emu.WriteProfiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL, []string{"AWS_SHARED_CREDENTIALS_FILE=" + creds, "AWS_CONFIG_FILE=" + conf}
}

// A second SIGINT or SIGTERM while the run is stopping exits at once, with
// 128 + the signal's number, and says what was not written.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	endpoint, env := stalledLogs(t)
	for _, pair := range [][2]syscall.Signal{
		{syscall.SIGINT, syscall.SIGINT},
		{syscall.SIGTERM, syscall.SIGTERM},
		{syscall.SIGHUP, syscall.SIGINT},
	} {
		t.Run(sigName(pair[0])+"-then-"+sigName(pair[1]), func(t *testing.T) {
			dir := t.TempDir()
			c := startCommand(t, env, "run", "tuning", "--headless", "--backend", "aws", "--endpoint", endpoint,
				"--speed", "20", "--json", filepath.Join(dir, "run.json"))
			c.readUntil("→")
			c.signal(pair[0])
			time.Sleep(300 * time.Millisecond) // now it waits on the stalled log read
			c.signal(pair[1])
			if status, want := c.wait(), 128+int(pair[1]); status != want {
				t.Fatalf("exit status %d, want %d:\n%s", status, want, c.stderr.String())
			}
			if msg := "while stopping; exiting at once: --json was not written"; !strings.Contains(c.stderr.String(), msg) {
				t.Fatalf("stderr does not say %q:\n%s", msg, c.stderr.String())
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("a forced exit left %v behind", entries)
			}
		})
	}
}

// A reader that goes away early (spillway … | head) does not kill the run
// before its record is written.
func TestClosedOutputDoesNotLoseTheRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	c := startCommand(t, nil, "run", "fallback", "--speed", "20", "--json", path)
	c.readUntil("SIMULATED")
	c.stdout.Close()
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("spillway ended with %v after its reader went away:\n%s", err, c.stderr.String())
	}
	if r := readRecord(t, path); r.Interrupted || r.Summary.Succeeded != 10 {
		t.Fatalf("want the whole run recorded: %+v", r.Summary)
	}
}

// The standalone emulator stops on each stop signal and removes the
// directory of AWS profiles it wrote.
func TestEmulatorStopsCleanlyOnEverySignal(t *testing.T) {
	for _, sig := range stopSignalList {
		t.Run(sigName(sig), func(t *testing.T) {
			c := startCommand(t, nil, "emulator", "--addr", "127.0.0.1:0")
			var dir string
			for c.lines.Scan() {
				line := c.lines.Text()
				c.out.WriteString(line + "\n")
				if rest, ok := strings.CutPrefix(line, "Profiles for every account are in "); ok {
					dir = strings.TrimSuffix(rest, ". In another shell:")
				}
				if strings.HasPrefix(line, "Serving until") {
					break
				}
			}
			if _, err := os.Stat(dir); err != nil {
				t.Fatalf("no profile directory %q: %v\n%s", dir, err, c.out.String())
			}
			c.signal(sig)
			if status := c.wait(); status != 0 {
				t.Fatalf("exit status %d:\n%s", status, c.stderr.String())
			}
			if !strings.Contains(c.out.String(), "Emulator stopped") {
				t.Fatalf("no goodbye:\n%s", c.out.String())
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s was left behind (%v)", dir, err)
			}
		})
	}
}

// --- the dashboard in a real terminal ---

// finishedLane matches a lane whose request has been answered.
const finishedLane = `#\d+ (web|batch) .* (primary-[ab]|fallback) us-[a-z]+-\d [\d.]+s`

// dashboardInAShell runs spillway with args in a tmux pane the way a person
// starts it from a shell, then reports its exit status on the pane and
// keeps the pane open to read what the terminal was left like.
func dashboardInAShell(t *testing.T, env []string, args ...string) *terminal {
	t.Helper()
	requireTmux(t)
	command := spillwayBinary(t) + " " + strings.Join(args, " ") + `; echo "spillway exited $?"; exec sleep 600`
	return startPane(t, 160, 48, env, command)
}

// spillwayPID is the process the pane's shell started.
func (term *terminal) spillwayPID() int {
	term.t.Helper()
	shell, err := strconv.Atoi(strings.TrimSpace(term.tmux("display", "-p", "-t", "spillway", "#{pane_pid}")))
	if err != nil {
		term.t.Fatal(err)
	}
	for _, stat := range must(filepath.Glob("/proc/[0-9]*/stat")) {
		data, err := os.ReadFile(stat)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so read after ')'.
		fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(shell) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(stat)))
			return pid
		}
	}
	term.t.Fatalf("no process under the pane's shell %d", shell)
	return 0
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// restored checks that the terminal is as the shell needs it: the normal
// screen, a visible cursor, no mouse reporting.
func (term *terminal) restored() {
	term.t.Helper()
	state := term.tmux("display", "-p", "-t", "spillway",
		"alternate=#{alternate_on} cursor=#{cursor_flag} mouse=#{mouse_any_flag}#{mouse_button_flag}#{mouse_standard_flag}#{mouse_sgr_flag}")
	if want := "alternate=0 cursor=1 mouse=0000"; strings.TrimSpace(state) != want {
		term.t.Fatalf("the terminal was left %s, want %s:\n%s", strings.TrimSpace(state), want, term.screen())
	}
}

// The dashboard stops on each stop signal as on q: it gives the terminal
// back, prints the summary so far and writes the record.
func TestStopSignalsInATerminal(t *testing.T) {
	for _, sig := range stopSignalList {
		for trial := 1; trial <= trials; trial++ {
			t.Run(fmt.Sprintf("%s/%d", sigName(sig), trial), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "run.json")
				term := dashboardInAShell(t, nil, "run", "tuning", "--speed", "20", "--json", path)
				term.waitFor("the dashboard with lanes", `SIMULATED`, finishedLane)
				if err := syscall.Kill(term.spillwayPID(), sig); err != nil {
					t.Fatal(err)
				}
				screen := term.waitFor("spillway to exit", `spillway exited \d+`)
				if !strings.Contains(screen, "spillway exited 0") || !strings.Contains(screen, "TUNING RESULTS (INTERRUPTED)") {
					t.Fatalf("after %s the pane shows:\n%s", sig, screen)
				}
				term.restored()
				wasStopped(t, path)
			})
		}
	}
}

// gone reports whether pid has exited (a zombie counts: nobody may reap it
// once its tmux server is gone).
func gone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

// Closing the terminal itself (the pane and its pty go away, as when a
// window is closed or an SSH connection drops) still writes the record.
func TestClosingTheTerminalWritesTheRecord(t *testing.T) {
	requireTmux(t)
	for trial := 1; trial <= trials; trial++ {
		t.Run(strconv.Itoa(trial), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "run.json")
			term := startPane(t, 160, 48, nil, spillwayBinary(t)+" run tuning --speed 20 --json "+path)
			term.waitFor("the dashboard with lanes", `SIMULATED`, finishedLane)
			pid, err := strconv.Atoi(strings.TrimSpace(term.tmux("display", "-p", "-t", "spillway", "#{pane_pid}")))
			if err != nil {
				t.Fatal(err)
			}
			term.tmux("kill-server")
			deadline := time.Now().Add(exitDeadline)
			for !gone(pid) {
				if time.Now().After(deadline) {
					t.Fatalf("spillway (pid %d) is still running %s after its terminal closed", pid, exitDeadline)
				}
				time.Sleep(50 * time.Millisecond)
			}
			wasStopped(t, path)
		})
	}
}

// A second Ctrl-C while the dashboard's run is stopping exits at once and
// leaves the terminal usable.
func TestSecondSignalInATerminal(t *testing.T) {
	endpoint, env := stalledLogs(t)
	path := filepath.Join(t.TempDir(), "run.json")
	term := dashboardInAShell(t, env, "run", "tuning", "--backend", "aws", "--endpoint", endpoint, "--speed", "20", "--json", path)
	term.waitFor("the dashboard with lanes", `EMULATED ENDPOINT`, finishedLane)
	pid := term.spillwayPID()
	syscall.Kill(pid, syscall.SIGINT)
	// The dashboard has gone; the run waits on its last log read.
	deadline := time.Now().Add(exitDeadline)
	for strings.Contains(term.tmux("display", "-p", "-t", "spillway", "#{alternate_on}"), "1") {
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard did not leave the alternate screen:\n%s", term.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGINT)
	screen := term.waitFor("spillway to exit", `spillway exited \d+`)
	if !strings.Contains(screen, "spillway exited 130") || !regexp.MustCompile(`SIGINT \(Ctrl-C\) while stopping; exiting at once`).MatchString(screen) {
		t.Fatalf("after a second SIGINT the pane shows:\n%s", screen)
	}
	term.restored()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a record was written (%v), though the exit was forced", err)
	}
}

func sigName(sig syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGINT: "INT", syscall.SIGTERM: "TERM", syscall.SIGHUP: "HUP"}[sig]
}

// A second signal that arrives while the dashboard is still on screen
// exits at once and still gives the terminal back.
func TestForcedExitFromTheDashboardGivesTheTerminalBack(t *testing.T) {
	for trial := 1; trial <= trials; trial++ {
		t.Run(strconv.Itoa(trial), func(t *testing.T) {
			term := dashboardInAShell(t, nil, "run", "tuning", "--speed", "20")
			term.waitFor("the dashboard with lanes", `SIMULATED`, finishedLane)
			pid := term.spillwayPID()
			syscall.Kill(pid, syscall.SIGINT)
			syscall.Kill(pid, syscall.SIGTERM)
			screen := term.waitFor("spillway to exit", `spillway exited \d+`)
			// Which of the two counts as the second is the runtime's choice,
			// and a stop that finishes its write-out first exits 0.
			if !regexp.MustCompile(`spillway exited (0|130|143)\b`).MatchString(screen) {
				t.Fatalf("after SIGINT and SIGTERM at once the pane shows:\n%s", screen)
			}
			term.restored()
		})
	}
}

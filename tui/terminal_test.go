package tui

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// stuck is a program that cannot stop: its Kill never returns.
type stuck struct{}

func (stuck) Kill() { select {} }

// lockedBuffer is a terminal's output, written from another goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// When the program cannot give the terminal back, Release does it by hand:
// the normal screen, the cursor, and no mouse reporting.
func TestReleaseResetsTheTerminalWhenTheProgramCannot(t *testing.T) {
	out := &lockedBuffer{}
	screen := SaveTerminal(os.Stdin, out)
	screen.Release(stuck{})
	got := out.String()
	for _, want := range []string{ansi.ResetModeAltScreenSaveCursor, ansi.ShowCursor, ansi.ResetModeMouseAnyEvent,
		ansi.ResetModeMouseExtSgr, ansi.ResetModeBracketedPaste} {
		if !strings.Contains(got, want) {
			t.Errorf("the terminal was not sent %q; got %q", want, got)
		}
	}
}

// killed is a program that stops at once and restores the terminal itself.
type killed struct{ called bool }

func (k *killed) Kill() { k.called = true }

// A program that can stop gives the terminal back itself; Release adds
// nothing, since leaving an alternate screen twice moves the cursor.
func TestReleaseLeavesTheTerminalToAProgramThatStops(t *testing.T) {
	out := &lockedBuffer{}
	k := &killed{}
	SaveTerminal(os.Stdin, out).Release(k)
	if !k.called || out.String() != "" {
		t.Fatalf("killed=%v, wrote %q; want the program killed and nothing written", k.called, out.String())
	}
}

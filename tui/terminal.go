package tui

import (
	"io"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/term"
)

// Terminal is the terminal as it was before the dashboard took it over, kept
// so that a forced exit can give it back even when the program cannot.
type Terminal struct {
	in    *os.File
	out   io.Writer
	state *term.State // nil when in is not a terminal
}

// SaveTerminal remembers in's mode; out is where the dashboard draws.
func SaveTerminal(in *os.File, out io.Writer) *Terminal {
	state, _ := term.GetState(in.Fd())
	return &Terminal{in: in, out: out, state: state}
}

// releaseWait is how long a forced exit waits for the program to put the
// terminal back itself before doing it by hand.
const releaseWait = time.Second

// Killer is a program that can be stopped at once, giving the terminal
// back; *tea.Program is one.
type Killer interface{ Kill() }

var _ Killer = (*tea.Program)(nil)

// Release gives the terminal back before the process exits at once: the
// program restores it, if it can within releaseWait; otherwise the mode is
// restored and the modes the dashboard set are reset by hand, so the shell
// is never left in the alternate screen with the cursor hidden and mouse
// reporting on.
func (t *Terminal) Release(p Killer) {
	done := make(chan struct{})
	go func() {
		p.Kill()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(releaseWait):
	}
	if t.state != nil {
		term.Restore(t.in.Fd(), t.state)
	}
	// A terminal that no longer reads must not hold up the exit either.
	written := make(chan struct{})
	go func() {
		io.WriteString(t.out, resetModes)
		close(written)
	}()
	select {
	case <-written:
	case <-time.After(releaseWait):
	}
}

// resetModes undoes every mode the dashboard turns on.
var resetModes = strings.Join([]string{
	ansi.ResetModifyOtherKeys,
	ansi.PopKittyKeyboard(1),
	ansi.ResetModeMouseNormal,
	ansi.ResetModeMouseButtonEvent,
	ansi.ResetModeMouseAnyEvent,
	ansi.ResetModeMouseExtSgr,
	ansi.ResetModeFocusEvent,
	ansi.ResetModeBracketedPaste,
	ansi.ResetModeAltScreenSaveCursor,
	ansi.ShowCursor,
}, "")

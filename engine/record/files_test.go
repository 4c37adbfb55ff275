package record

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"spillway/engine"
)

// The timeline spool has no name on disk from the moment it is created, so
// a run killed with SIGKILL leaves nothing behind; exports still read it,
// and keep reading it as it grows.
func TestSpoolLeavesNoFileBehind(t *testing.T) {
	dir := t.TempDir()
	rec := New(Meta{Backend: "simulated"})
	if err := rec.KeepTimeline(dir); err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the spool has a name on disk: %v", entries)
	}
	rec.Handle(engine.Event{Kind: engine.RunStarted, Info: &engine.RunInfo{Scenario: "x", Planned: 2}})
	rec.Handle(engine.Event{Kind: engine.Admitted, Request: 1, Tenant: "app", At: time.Second})
	events := func() int {
		t.Helper()
		path := filepath.Join(t.TempDir(), "run.json")
		if err := rec.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		var doc struct{ Events []map[string]any }
		data, _ := os.ReadFile(path)
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("export is not JSON: %v\n%s", err, data)
		}
		return len(doc.Events)
	}
	if n := events(); n != 2 {
		t.Fatalf("first export has %d events, want 2", n)
	}
	rec.Handle(engine.Event{Kind: engine.Admitted, Request: 2, Tenant: "app", At: 2 * time.Second})
	if n := events(); n != 3 {
		t.Fatalf("second export has %d events, want 3: the spool must keep growing after an export", n)
	}
}

func writeRun(t *testing.T, path string) error {
	t.Helper()
	rec := New(Meta{Backend: "simulated"})
	rec.Handle(engine.Event{Kind: engine.RunStarted, Info: &engine.RunInfo{Scenario: "x"}})
	return rec.WriteFile(path)
}

func isJSON(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatalf("%s is not JSON: %q", path, data)
	}
}

// --json LINK writes the file the link names, and the link stays a link.
func TestExportFollowsSymbolicLinks(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		exists bool
	}{{"to an existing file", true}, {"to a file still to be made", false}} {
		t.Run(tc.name, func(t *testing.T) {
			sub := t.TempDir()
			target := filepath.Join(sub, "real.json")
			if tc.exists {
				os.WriteFile(target, []byte("old"), 0o644)
			}
			// A chain: link1 → link2 (relative) → real.json.
			os.Symlink("real.json", filepath.Join(sub, "link2"))
			link := filepath.Join(dir, tc.name+".json")
			os.Symlink(filepath.Join(sub, "link2"), link)
			if err := writeRun(t, link); err != nil {
				t.Fatal(err)
			}
			for _, l := range []string{link, filepath.Join(sub, "link2")} {
				if st, err := os.Lstat(l); err != nil || st.Mode()&os.ModeSymlink == 0 {
					t.Fatalf("%s was replaced: %v %v", l, st.Mode(), err)
				}
			}
			isJSON(t, target)
		})
	}
}

// A target that is not a regular file is refused and left as it was: the
// atomic rename would otherwise replace a pipe or, as root, /dev/null.
func TestExportRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	linkToFIFO := filepath.Join(dir, "link.json")
	os.Symlink(fifo, linkToFIFO)
	for _, path := range []string{fifo, linkToFIFO, dir} {
		err := writeRun(t, path)
		var nr *NotRegularError
		if !errors.As(err, &nr) {
			t.Fatalf("WriteFile(%s) = %v, want a NotRegularError", path, err)
		}
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the pipe was replaced: %v %v", st.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("refused writes left files behind: %v", entries)
	}
	if _, err := ExportTarget("/dev/null"); err == nil || err.Error() != "/dev/null is a character device, not a regular file" {
		t.Fatalf("ExportTarget(/dev/null) = %v", err)
	}
}

func TestSweepRemovesOnlyOurStaleFiles(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	old := now.Add(-2 * StaleAfter)
	files := map[string]time.Time{
		".run.json.tmp-123456":          old, // an older version's half-written export
		".run.json.spillway-tmp-987654": old,
		".spillway-events-42":           old,
		".spillway-requests-42":         old,
		".spillway-probe-7":             old,
		".fresh.json.spillway-tmp-1":    now, // a run writing right now
		".spillway-events-43":           now,
		".spillway-requests-43":         now,
		".bashrc.tmp-1":                 old, // not ours
		"run.json":                      old,
		".notes.json.tmp-draft":         old,
		".other.json.tmp-123":           old, // another program's atomic write, likely
	}
	for name, at := range files {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("x"), 0o644)
		os.Chtimes(p, at, at)
	}
	removed := SweepStale(dir, "run.json", now)
	slices.Sort(removed)
	want := []string{".run.json.spillway-tmp-987654", ".run.json.tmp-123456", ".spillway-events-42", ".spillway-probe-7", ".spillway-requests-42"}
	if !slices.Equal(removed, want) {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	for name := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if gone := errors.Is(err, os.ErrNotExist); gone != slices.Contains(want, name) {
			t.Errorf("%s: gone=%v", name, gone)
		}
	}
}

package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadWithin runs Load in a goroutine, so that a file that blocks or never
// ends fails the test instead of hanging the run. The timeout is a guard
// against a hang, not a measure of speed.
func loadWithin(t *testing.T, path string) (*File, error) {
	t.Helper()
	type result struct {
		f   *File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := Load(path)
		done <- result{f, err}
	}()
	select {
	case r := <-done:
		return r.f, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Load(%s) has not returned after 10s; it must refuse the file without reading it", path)
		return nil, nil
	}
}

// loadErr loads path, which must fail with one Error naming it, and
// returns the error's text.
func loadErr(t *testing.T, path string) string {
	t.Helper()
	f, err := loadWithin(t, path)
	if err == nil || f != nil {
		t.Fatalf("Load(%s) = %v, %v; want an error", path, f, err)
	}
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].File != path {
		t.Fatalf("Load(%s) error %#v; want one Error naming the file", path, err)
	}
	return err.Error()
}

func TestLoadRefusesADirectory(t *testing.T) {
	dir := t.TempDir()
	want := dir + ": not a regular file (a directory); give a scenario file's path"
	if got := loadErr(t, dir); got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}

func TestLoadRefusesAnOversizeFile(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.toml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// A sparse file: 9.2 MiB that take no room on disk.
	if err := f.Truncate(9_650_000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := big + ": 9.2 MiB is over the 4 MiB limit for a scenario file; scenario files are a few KB, so check the path"
	if got := loadErr(t, big); got != want {
		t.Errorf("error %q, want %q", got, want)
	}

	// One byte over is over.
	if err := os.Truncate(big, MaxFileSize+1); err != nil {
		t.Fatal(err)
	}
	if got := loadErr(t, big); !strings.Contains(got, ": 4194305 bytes is over the 4 MiB limit") {
		t.Errorf("error %q does not give the size in bytes", got)
	}
}

func TestLoadFollowsSymlinksToRegularFiles(t *testing.T) {
	target, err := filepath.Abs("../scenarios.toml")
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link.toml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	f, err := loadWithin(t, link)
	if err != nil {
		t.Fatalf("Load through a symlink: %v", err)
	}
	if f.Path != link || len(f.Scenarios) == 0 {
		t.Errorf("Path %q, %d scenarios", f.Path, len(f.Scenarios))
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := loadWithin(t, filepath.Join(t.TempDir(), "none.toml"))
	if err == nil || !strings.Contains(err.Error(), "cannot read scenario file") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v; want it to wrap os.ErrNotExist and say it cannot read the file", err)
	}
}

// TestParseRefusesAnOversizeDocument: Parse holds the same cap for callers
// that read the file themselves.
func TestParseRefusesAnOversizeDocument(t *testing.T) {
	src := base + "#" + strings.Repeat("x", MaxFileSize-len(base))
	es := parseErrs(t, src)
	if want := "f.toml: 4194305 bytes is over the 4 MiB limit for a scenario file; scenario files are a few KB, so check the path"; es.Error() != want {
		t.Errorf("error %q, want %q", es.Error(), want)
	}
}

package record

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"spillway/scenarios"
)

// tempInfix marks an export being written: ".run.json.spillway-tmp-123".
// Until the rename, the export lives under that name beside its target.
const tempInfix = ".spillway-tmp-"

// StaleAfter is how long one of our temporary files may go unmodified
// before a later run takes it for the leftover of a killed one. Every such
// file is written continuously while it is in use, so an hour of silence
// means nobody owns it.
const StaleAfter = time.Hour

// NotRegularError says an export target exists but is not a regular file,
// so writing it atomically would replace a device, a pipe or a socket.
type NotRegularError struct {
	Path string
	Kind string // as scenarios.FileKind names it: "a directory", "a named pipe", …
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, e.Kind)
}

// WriteAtomically writes target, a file others may be reading, with
// write: into a temporary file beside it, readable by all, synced, then
// renamed over it, so a reader never sees half a file. The temporary name
// is one SweepStale recognises, should the process die before the rename.
// written counts the bytes write wrote.
func WriteAtomically(target string, write func(io.Writer) error) (written int64, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+tempInfix+"*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	counted := &countingWriter{w: tmp}
	w := bufio.NewWriterSize(counted, 256<<10)
	err = write(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		// CreateTemp makes the file private; what is written here is
		// meant to be shared.
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), target)
	}
	return counted.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ExportTarget resolves where an export to path lands: path itself, or, for
// a symbolic link, the file it names at the end of the chain, even if that
// file does not exist yet. The atomic write replaces the target by renaming
// over it, so the link survives and its file gets the export. Anything
// that exists and is not a regular file is refused with a
// *NotRegularError: renaming over /dev/null, as root, would replace the
// device with a file.
func ExportTarget(path string) (string, error) {
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return "", &NotRegularError{Path: path, Kind: scenarios.FileKind(st.Mode())}
		}
		return filepath.EvalSymlinks(path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	// Nothing there yet, or a link to a file still to be made: follow the
	// links by hand, as EvalSymlinks stops at a missing target.
	p := path
	for range 40 { // the kernel's own limit on links in a chain
		st, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return p, nil
		case err != nil:
			return "", err
		case st.Mode()&fs.ModeSymlink == 0:
			return p, nil
		}
		link, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(p), link)
		}
		p = link
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

// SweepStale removes temporary files that runs killed before they could
// clean up left in dir: half-written exports, event and request spools and
// write probes that nobody has touched for StaleAfter. export, when not empty, is the
// name of the export this run writes in dir: older versions named its
// temporary files ".export.tmp-123", a name too common to remove anywhere
// else. It returns the names removed. Files of a run still going are fresh,
// so they are left alone.
func SweepStale(dir, export string, now time.Time) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !ours(e.Name(), export) {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < StaleAfter {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			removed = append(removed, e.Name())
		}
	}
	return removed
}

// ProbePattern names the empty file a run creates and removes at once to
// check, before anything is sent, that its export's directory is writable.
const ProbePattern = ".spillway-probe-*"

// ours reports whether name is one of Spillway's temporary files: an
// export being written (".run.json.spillway-tmp-123", or, for export
// "run.json", ".run.json.tmp-123" as older versions named it), an event
// or request spool, or a write probe.
func ours(name, export string) bool {
	if !strings.HasPrefix(name, ".") {
		return false
	}
	for _, pattern := range []string{SpoolPattern, RequestSpoolPattern, ProbePattern} {
		prefix := strings.TrimSuffix(pattern, "*")
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	if i := strings.LastIndex(name, tempInfix); i > 0 {
		return digits(name[i+len(tempInfix):])
	}
	if legacy := "." + export + ".tmp-"; export != "" && strings.HasPrefix(name, legacy) {
		return digits(name[len(legacy):])
	}
	return false
}

func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

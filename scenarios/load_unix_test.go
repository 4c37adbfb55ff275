//go:build unix

package scenarios

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLoadRefusesDevices: /dev/zero and /dev/urandom never end; reading
// them grew memory without limit.
func TestLoadRefusesDevices(t *testing.T) {
	for _, dev := range []string{"/dev/zero", "/dev/urandom"} {
		if _, err := os.Stat(dev); err != nil {
			t.Fatalf("%s: %v", dev, err)
		}
		want := dev + ": not a regular file (a character device); give a scenario file's path"
		if got := loadErr(t, dev); got != want {
			t.Errorf("error %q, want %q", got, want)
		}
	}
}

// TestLoadRefusesAFIFO: opening a FIFO blocks until someone writes to it,
// so Load must refuse it before opening it.
func TestLoadRefusesAFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe.toml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	// Should a Load block in open, a writer that comes and goes releases it.
	t.Cleanup(func() {
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})
	want := fifo + ": not a regular file (a named pipe); give a scenario file's path"
	if got := loadErr(t, fifo); got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}

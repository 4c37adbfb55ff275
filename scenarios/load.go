package scenarios

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Load reads and checks a scenario file from disk. It reads only a regular
// file (or a symlink to one) of at most MaxFileSize bytes: a device such as
// /dev/zero never ends, and opening a FIFO blocks until someone writes.
func Load(path string) (*File, error) {
	data, err := readScenarioFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// readScenarioFile checks what path is before opening it, then checks that
// what it opened is the same regular file, and reads at most one byte past
// the cap in case the file grew since.
func readScenarioFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, cannotRead(err)
	}
	if err := checkFileInfo(path, info); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should path become a FIFO after the Stat, opening it must
	// not block; the Stat below then refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, cannotRead(err)
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return nil, cannotRead(err)
	}
	if err := checkFileInfo(path, opened); err != nil {
		return nil, err
	}
	if !os.SameFile(info, opened) {
		return nil, Errors{{File: path, Msg: "the file changed while it was opened; try again"}}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, cannotRead(err)
	}
	if err := checkSize(path, int64(len(data))); err != nil {
		return nil, err
	}
	return data, nil
}

func cannotRead(err error) error {
	return fmt.Errorf("cannot read scenario file: %w (check the path given to --scenarios)", err)
}

// checkFileInfo refuses anything but a regular file within the size cap.
func checkFileInfo(path string, info fs.FileInfo) error {
	if !info.Mode().IsRegular() {
		return Errors{{File: path, Msg: fmt.Sprintf("not a regular file (%s); give a scenario file's path", FileKind(info.Mode()))}}
	}
	return checkSize(path, info.Size())
}

// checkSize refuses a document over MaxFileSize.
func checkSize(name string, size int64) error {
	if size <= MaxFileSize {
		return nil
	}
	return Errors{{File: name, Msg: fmt.Sprintf("%s is over the %d MiB limit for a scenario file; scenario files are a few KB, so check the path",
		sizeText(size), MaxFileSize>>20)}}
}

// sizeText gives a size over the cap in MiB, or in bytes when one decimal
// would not show that it is over.
func sizeText(size int64) string {
	mib := fmt.Sprintf("%.1f", float64(size)/(1<<20))
	if mib == fmt.Sprintf("%.1f", float64(MaxFileSize)/(1<<20)) {
		return fmt.Sprintf("%d bytes", size)
	}
	return mib + " MiB"
}

// FileKind names what a path that is not a regular file is, for messages
// such as "not a regular file (a named pipe)".
func FileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "an irregular file"
}

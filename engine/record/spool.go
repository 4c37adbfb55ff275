package record

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// spool is an append-only file of lines that has no name on disk: the
// name is removed as soon as the file is created, so the kernel frees it
// however the process ends, even after SIGKILL or a power cut. It is read
// back through its descriptor. A system that refuses to unlink an open
// file keeps the name until close, and the stale-file sweep (see
// SweepStale) removes what a killed process left there.
type spool struct {
	f *os.File
	w *bufio.Writer
	// size is the bytes handed to w: what a reader may read once w is
	// flushed.
	size int64
	// err is the first write error. Later lines are dropped, and a reader
	// is told, rather than given a file with a hole in it.
	err    error
	linked bool // the name could not be removed while the file is open
}

// openSpool creates a spool in dir, named after pattern as os.CreateTemp
// takes it.
func openSpool(dir, pattern string) (*spool, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	unlinked := os.Remove(f.Name()) == nil
	return &spool{f: f, w: bufio.NewWriterSize(f, 64<<10), linked: !unlinked}, nil
}

// write appends line, which ends in a newline.
func (s *spool) write(line []byte) {
	if s.err != nil {
		return
	}
	n, err := s.w.Write(line)
	s.size += int64(n)
	s.err = err
}

// fail stops the spool: what was written cannot be read back whole.
func (s *spool) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// contents flushes what was written and returns it for reading, without
// moving the write offset, so that writing can go on after.
func (s *spool) contents() (*io.SectionReader, error) {
	if s.err != nil {
		return nil, s.err
	}
	if err := s.w.Flush(); err != nil {
		s.err = err
		return nil, err
	}
	return io.NewSectionReader(s.f, 0, s.size), nil
}

var errSpoolClosed = errors.New("the recorder was closed")

// close releases the file, and its name where it still has one.
func (s *spool) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	if s.linked {
		err = errors.Join(err, os.Remove(s.f.Name()))
	}
	s.f = nil
	s.fail(errSpoolClosed)
	return err
}

// lineReader reads a spool's lines in order, and knows where each began.
type lineReader struct {
	rd   *bufio.Reader
	pos  int64  // offset of the next line
	long []byte // a line longer than rd's buffer, gathered
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{rd: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its newline, valid until the next
// call, and its offset; io.EOF after the last.
func (l *lineReader) next() (line []byte, at int64, err error) {
	at = l.pos
	line, err = l.rd.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		l.long = append(l.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = l.rd.ReadSlice('\n')
			l.long = append(l.long, line...)
		}
		line = l.long
	}
	l.pos += int64(len(line))
	switch {
	case err == io.EOF && len(line) > 0:
		return nil, at, fmt.Errorf("the spool ends in the middle of a line at byte %d", l.pos)
	case err != nil:
		return nil, at, err
	}
	return line[:len(line)-1], at, nil
}

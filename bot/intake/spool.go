package intake

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// Raw is one message as taken in: its bytes and, when it was spooled to
// disk, the file they are mapped from, which the pipeline may adopt as its
// kept copy instead of writing the bytes again.
type Raw struct {
	Bytes []byte
	// File is the spool file (mode 0600) holding Bytes, or "".
	File string
	// SHA256 is the hex digest of Bytes, when already known.
	SHA256  string
	release func()
}

// Release unmaps a spooled message and removes its file if the pipeline
// did not adopt it. Bytes must not be used afterwards.
func (r Raw) Release() {
	if r.release != nil {
		r.release()
	}
}

// Spool takes message literals in: small ones into memory, large ones to
// files under a directory, hashed while they stream and then mapped
// read-only, so a message of any size is held once, by the page cache.
type Spool struct {
	Dir string
	// InMemory is the largest literal read into memory (default 1 MiB).
	InMemory int64
}

// Take reads size bytes from r.
func (s *Spool) Take(r io.Reader, size int64) (Raw, error) {
	limit := int64(1 << 20)
	if s != nil && s.InMemory > 0 {
		limit = s.InMemory
	}
	if s == nil || s.Dir == "" || size <= limit {
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			return Raw{}, fmt.Errorf("reading message: %w", err)
		}
		return Raw{Bytes: b}, nil
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return Raw{}, err
	}
	f, err := os.CreateTemp(s.Dir, "msg-*.eml")
	if err != nil {
		return Raw{}, err
	}
	name := f.Name()
	fail := func(err error) (Raw, error) {
		f.Close()
		os.Remove(name)
		return Raw{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, size))
	if err != nil {
		return fail(fmt.Errorf("spooling message: %w", err))
	}
	if n != size {
		return fail(fmt.Errorf("spooling message: %d of %d bytes", n, size))
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	var data []byte
	if size > 0 {
		if data, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED); err != nil {
			return fail(fmt.Errorf("mapping spooled message: %w", err))
		}
	}
	f.Close()
	return Raw{Bytes: data, File: name, SHA256: hex.EncodeToString(h.Sum(nil)), release: func() {
		if data != nil {
			syscall.Munmap(data)
		}
		os.Remove(name) // gone already when adopted
	}}, nil
}

// Clean removes spool files a crash left behind: their messages are
// still in the mailbox, unmarked, and are fetched again.
func (s *Spool) Clean() {
	if s == nil || s.Dir == "" {
		return
	}
	old, _ := filepath.Glob(filepath.Join(s.Dir, "msg-*.eml"))
	for _, f := range old {
		os.Remove(f)
	}
}

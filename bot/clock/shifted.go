package clock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"tocsin/internal/atomicfile"
)

// Shifted is the wall clock moved forward by an offset that only grows
// and is kept in a file: the sandbox's clock control, so that a demo runs
// a day of deadlines in a minute and a restart never moves time back.
// Its timers run on real time; whoever advances it wakes the loops.
type Shifted struct {
	mu     sync.Mutex
	offset time.Duration
	path   string
}

type shiftedFile struct {
	Offset string `json:"offset"`
}

// LoadShifted reads the offset kept at path (none yet: zero).
func LoadShifted(path string) (*Shifted, error) {
	s := &Shifted{path: path}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, err
	}
	var f shiftedFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.offset, err = time.ParseDuration(f.Offset); err != nil || s.offset < 0 {
		return nil, fmt.Errorf("%s: offset %q is not a duration of zero or more", path, f.Offset)
	}
	return s, nil
}

// Now is the wall clock plus the offset.
func (s *Shifted) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Add(s.offset)
}

// After waits d of real time.
func (s *Shifted) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Advance moves the clock forward by d (never back) and keeps the offset;
// it returns the new time.
func (s *Shifted) Advance(d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, errors.New("the clock only moves forward")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := json.Marshal(shiftedFile{Offset: (s.offset + d).String()})
	if err := atomicfile.Write(s.path, append(b, '\n'), 0o600); err != nil {
		return time.Time{}, err
	}
	s.offset += d
	return time.Now().Add(s.offset), nil
}

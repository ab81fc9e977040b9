package clock

import (
	"testing"
	"time"
)

func TestFakeFiresInOrderWhenAdvanced(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	f := NewFake(start)
	late, early := f.After(2*time.Hour), f.After(time.Hour)
	select {
	case <-early:
		t.Fatal("fired before the clock moved")
	default:
	}
	f.Advance(90 * time.Minute)
	if got := <-early; !got.Equal(start.Add(90 * time.Minute)) {
		t.Errorf("early fired at %v", got)
	}
	select {
	case <-late:
		t.Fatal("late fired too soon")
	default:
	}
	if f.Waiters() != 1 {
		t.Errorf("%d waiters, want 1", f.Waiters())
	}
	f.Advance(time.Hour)
	<-late
	f.Advance(-time.Hour) // never back
	if !f.Now().Equal(start.Add(150 * time.Minute)) {
		t.Errorf("now %v", f.Now())
	}
	select {
	case <-f.After(0):
	default:
		t.Error("After(0) did not fire at once")
	}
}

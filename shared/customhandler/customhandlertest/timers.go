package customhandlertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/langsync/langsync/shared/config"
)

// schedule returns the parsed NCRONTAB schedule of a timer function, as the
// host reads it at start: %SETTING% must be resolved and valid.
func (h *Host) schedule(function string) (*config.Schedule, error) {
	_, b, err := h.trigger(function, "timerTrigger")
	if err != nil {
		return nil, err
	}
	if strings.Contains(b.Schedule, "%") {
		return nil, fmt.Errorf("customhandlertest: function %s: schedule %q names an app setting that is not set", function, b.Schedule)
	}
	s, err := config.ParseSchedule(b.Schedule)
	if err != nil {
		return nil, fmt.Errorf("customhandlertest: function %s: schedule %q: %w", function, b.Schedule, err)
	}
	return s, nil
}

// NextTimer returns when a timer function fires next after t.
func (h *Host) NextTimer(function string, after time.Time) (time.Time, error) {
	s, err := h.schedule(function)
	if err != nil {
		return time.Time{}, err
	}
	return s.Next(after), nil
}

// RunTimers fires every timer function on its NCRONTAB schedule (UTC, real
// clock) until ctx ends, with ScheduleStatus Next = the occurrence and Last
// = the previous one, as the host's monitor reports them. A schedule that
// does not resolve or parse is an error at once, as it is for the host.
func (h *Host) RunTimers(ctx context.Context) error {
	var timers []string
	for _, name := range h.names {
		if h.fns[name].Trigger().Type != "timerTrigger" {
			continue
		}
		if _, err := h.schedule(name); err != nil {
			return err
		}
		timers = append(timers, name)
	}
	var wg sync.WaitGroup
	for _, name := range timers {
		s, _ := h.schedule(name)
		b := h.fns[name].Trigger()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last time.Time
			for {
				next := s.Next(h.opts.Now())
				if next.IsZero() {
					return
				}
				t := time.NewTimer(time.Until(next))
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
				h.Invoke(ctx, name, TimerInvocation(*b, name, next, last, false, h.opts.Now()))
				last = next
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

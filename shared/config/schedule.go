package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed NCRONTAB expression as Azure Functions timer triggers
// use it: six fields, "second minute hour day month day-of-week", each a
// '*', a number, a range a-b, a list a,b,c or a step */n or a-b/n. Months
// and days of the week also accept English three-letter names. Times are UTC.
type Schedule struct {
	expr   string
	fields [6]uint64 // bit i set = value i allowed
}

var scheduleFields = [6]struct {
	name     string
	min, max int
	names    []string
}{
	{"second", 0, 59, nil},
	{"minute", 0, 59, nil},
	{"hour", 0, 23, nil},
	{"day", 1, 31, nil},
	{"month", 1, 12, []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{"day-of-week", 0, 6, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// ParseSchedule parses a six-field NCRONTAB expression.
func ParseSchedule(expr string) (*Schedule, error) {
	parts := strings.Fields(expr)
	if len(parts) != 6 {
		return nil, fmt.Errorf("want 6 NCRONTAB fields \"second minute hour day month day-of-week\" (e.g. \"0 0 2 * * *\"), got %d", len(parts))
	}
	s := &Schedule{expr: expr}
	for i, part := range parts {
		bits, err := parseCronField(part, i)
		if err != nil {
			return nil, fmt.Errorf("%s field %q: %w", scheduleFields[i].name, part, err)
		}
		s.fields[i] = bits
	}
	return s, nil
}

func parseCronField(s string, idx int) (uint64, error) {
	f := scheduleFields[idx]
	var bits uint64
	for _, item := range strings.Split(s, ",") {
		rng, stepStr, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("bad step %q", stepStr)
			}
			step = n
		}
		lo, hi := f.min, f.max
		if rng != "*" {
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = cronValue(a, f.min, f.max, f.names); err != nil {
				return 0, err
			}
			hi = lo
			if isRange {
				if hi, err = cronValue(b, f.min, f.max, f.names); err != nil {
					return 0, err
				}
				if hi < lo {
					return 0, fmt.Errorf("range %s runs backwards", rng)
				}
			} else if hasStep {
				hi = f.max
			}
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, nil
}

func cronValue(s string, min, max int, names []string) (int, error) {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return i + min, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("not a number" + nameHint(names))
	}
	if v < min || v > max {
		return 0, fmt.Errorf("%d is outside %d-%d", v, min, max)
	}
	return v, nil
}

func nameHint(names []string) string {
	if names == nil {
		return ""
	}
	return " or a name (" + strings.Join(names, ",") + ")"
}

// String returns the expression as written.
func (s *Schedule) String() string { return s.expr }

// Next returns the first time strictly after t (in UTC, whole seconds) that
// the schedule fires, or the zero time if none within four years.
func (s *Schedule) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Second).Add(time.Second)
	limit := t.AddDate(4, 0, 0)
	for t.Before(limit) {
		if !s.has(4, int(t.Month())) {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if !s.has(3, t.Day()) || !s.has(5, int(t.Weekday())) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if !s.has(2, t.Hour()) {
			t = t.Truncate(time.Hour).Add(time.Hour)
			continue
		}
		if !s.has(1, t.Minute()) {
			t = t.Truncate(time.Minute).Add(time.Minute)
			continue
		}
		if !s.has(0, t.Second()) {
			t = t.Add(time.Second)
			continue
		}
		return t
	}
	return time.Time{}
}

func (s *Schedule) has(field, v int) bool { return s.fields[field]&(1<<uint(v)) != 0 }

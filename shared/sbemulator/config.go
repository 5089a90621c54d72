package sbemulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"time"
)

// officialConfig is the shape of Microsoft's Service Bus emulator Config.json.
type officialConfig struct {
	UserConfig struct {
		Namespaces []struct {
			Name   string
			Queues []struct {
				Name       string
				Properties struct {
					DeadLetteringOnMessageExpiration    bool
					DefaultMessageTimeToLive            string
					DuplicateDetectionHistoryTimeWindow string
					ForwardDeadLetteredMessagesTo       string
					ForwardTo                           string
					LockDuration                        string
					MaxDeliveryCount                    int
					RequiresDuplicateDetection          bool
					RequiresSession                     bool
				}
			}
			Topics []json.RawMessage
		}
	}
}

// LoadConfig reads queues from a Config.json in the official emulator's
// format, so one file configures either. Every problem is reported at once;
// features the stand-in lacks (sessions, forwarding, topics) are refused
// rather than silently ignored.
func LoadConfig(r io.Reader) ([]QueueConfig, error) {
	var c officialConfig
	if err := json.NewDecoder(r).Decode(&c); err != nil {
		return nil, fmt.Errorf("sbemulator: config is not valid JSON: %w", err)
	}
	var qs []QueueConfig
	var errs []error
	for _, ns := range c.UserConfig.Namespaces {
		if len(ns.Topics) > 0 {
			errs = append(errs, fmt.Errorf("namespace %s: topics are not supported by the stand-in", ns.Name))
		}
		for i, q := range ns.Queues {
			at := fmt.Sprintf("namespace %s queue %d (%s)", ns.Name, i, q.Name)
			p := q.Properties
			qc := QueueConfig{
				Name:                   q.Name,
				MaxDeliveryCount:       p.MaxDeliveryCount,
				DuplicateDetection:     p.RequiresDuplicateDetection,
				DeadLetterOnExpiration: p.DeadLetteringOnMessageExpiration,
			}
			for _, d := range []struct {
				field string
				in    string
				out   *time.Duration
			}{
				{"LockDuration", p.LockDuration, &qc.LockDuration},
				{"DuplicateDetectionHistoryTimeWindow", p.DuplicateDetectionHistoryTimeWindow, &qc.DuplicateWindow},
				{"DefaultMessageTimeToLive", p.DefaultMessageTimeToLive, &qc.DefaultMessageTimeToLive},
			} {
				v, err := ParseISODuration(d.in)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %s: %w", at, d.field, err))
				}
				*d.out = v
			}
			if p.RequiresSession {
				errs = append(errs, fmt.Errorf("%s: RequiresSession is not supported by the stand-in", at))
			}
			if p.ForwardTo != "" || p.ForwardDeadLetteredMessagesTo != "" {
				errs = append(errs, fmt.Errorf("%s: ForwardTo and ForwardDeadLetteredMessagesTo are not supported by the stand-in", at))
			}
			if p.MaxDeliveryCount < 0 {
				errs = append(errs, fmt.Errorf("%s: MaxDeliveryCount must be positive", at))
			}
			qs = append(qs, qc)
		}
	}
	if len(qs) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no queues under UserConfig.Namespaces[].Queues"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sbemulator: config: %w", err)
	}
	return qs, nil
}

var isoDuration = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// ParseISODuration parses the ISO 8601 durations the emulator config uses
// (PT1M, PT20S, P1DT2H, ...). "" is 0 (use the default); the .NET maximum
// (P10675199DT2H48M5.4775807S), or anything beyond a time.Duration (292
// years), is 0 too, meaning no limit.
func ParseISODuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || s == "P" || s == "PT" {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration like PT1M or P1DT2H", s)
	}
	// Sum in float seconds: overflow past time.Duration means "never".
	var secs float64
	for i, unit := range []float64{86400, 3600, 60, 1} {
		if m[i+1] != "" {
			n, _ := strconv.ParseFloat(m[i+1], 64)
			secs += n * unit
		}
	}
	if secs*float64(time.Second) >= float64(math.MaxInt64) {
		return 0, nil
	}
	return time.Duration(secs * float64(time.Second)), nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

func statusCommand() Command {
	return Command{Name: "status", Summary: "show each pair: last replicated, fingerprint, lag, expiry, active run, quarantined backups, last error", Run: runStatus}
}

func runStatus(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "status")
	cfgPath := fs.String("config", "", "config file (langsync.yaml)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	a, err := newApp(ctx, env, cfg, false, nil)
	if err != nil {
		return err
	}
	st, err := a.Pipeline.Status(ctx)
	if err != nil {
		return err
	}
	alerting := 0
	var alerts []string
	for _, s := range st {
		if len(s.Alerts) > 0 {
			alerting++
		}
		for _, a := range s.Alerts {
			alerts = append(alerts, fmt.Sprintf("%s: %s: %s", s.Pair, a.Kind, a.Message))
		}
	}
	var alertErr error
	if alerting > 0 {
		alertErr = &alertError{pairs: alerting}
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return err
		}
		return alertErr
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PAIR\tLAST REPLICATED\tFINGERPRINT\tLAG\tEXPIRES\tACTIVE RUN\tLAST RUN\tQUARANTINED BACKUPS\tERROR")
	var full, notes, expiry []string
	for _, s := range st {
		for _, w := range s.ExpiryWarnings {
			expiry = append(expiry, fmt.Sprintf("%s: %s", s.Pair, w))
		}
		expires := "-"
		if !s.Expires.IsZero() {
			expires = s.Expires.UTC().Format(time.DateOnly)
			if len(s.ExpiryWarnings) > 0 {
				expires += " !"
			}
		}
		for _, vc := range s.VersionChanges {
			notes = append(notes, fmt.Sprintf("%s: %s", s.Pair, vc))
		}
		last, fp, lag, active, lastRun, quarantined, errText := "never", "-", "-", "-", "-", "-", "-"
		if !s.LastReplicated.IsZero() {
			last = s.LastReplicated.UTC().Format(time.RFC3339)
		}
		if s.Fingerprint != "" {
			fp = s.Fingerprint[:min(12, len(s.Fingerprint))]
		}
		if s.Error == "" {
			lag = s.Lag.Round(time.Second).String()
		}
		if s.ActiveRun != nil {
			active = fmt.Sprintf("%s (%s %d%%)", s.ActiveRun.ID, s.ActiveRun.Step, s.ActiveRun.Percent)
		}
		if s.LastRun != "" {
			lastRun = fmt.Sprintf("%s %s", s.LastRun, s.LastRunPhase)
		}
		if q := s.Quarantine; q != nil {
			quarantined = fmt.Sprintf("%d (newest %s: %s)", q.Count, q.Newest, bkCut(q.Reason, 80))
		}
		switch {
		case s.Error != "":
			errText = s.Error
		case s.ActiveRun != nil && s.ActiveRun.Retrying != "":
			errText = "retrying: " + s.ActiveRun.Retrying
		case s.LastError != "":
			errText = s.LastError
		}
		cell := statusErrorCell(errText)
		if cell != errText {
			full = append(full, fmt.Sprintf("%s: %s", s.Pair, oneLine(errText)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Pair, last, fp, lag, expires, active, lastRun, quarantined, cell)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printSection(env.Stdout, "ALERTS (alerts.maxLag, expiry windows; exit code 3):", alerts)
	printFullErrors(env.Stdout, full)
	printSection(env.Stdout, "expiry warnings (EXPIRES is the target's earliest; details in langsync status --json):", expiry)
	printSection(env.Stdout, "training config versions changed (the target does not offer or has expired the source's):", notes)
	return alertErr
}

func printSection(w io.Writer, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\n"+title)
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// statusErrorMax keeps the ERROR column from wrapping the table: longer
// errors are cut in the table and printed whole below it.
const statusErrorMax = 60

func statusErrorCell(s string) string {
	return bkCut(oneLine(s), statusErrorMax)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func printFullErrors(w io.Writer, full []string) {
	if len(full) == 0 {
		return
	}
	fmt.Fprintln(w, "\nerrors in full (also in langsync status --json):")
	for _, f := range full {
		fmt.Fprintf(w, "  %s\n", f)
	}
}

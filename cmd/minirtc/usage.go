package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

func newUsageCmd() *cobra.Command {
	var (
		dataDir, app, from, to, by string
		asJSON                     bool
	)
	cmd := &cobra.Command{
		Use:   "usage --app ID --from DATE --to DATE [--by hour|day] [--json]",
		Short: "Show an app's usage: call minutes by tier, online, publish and subscribe minutes, rooms, users, peaks",
		Long: `Show an app's usage per UTC day (or hour) in [--from, --to): --to is exclusive.
Dates are YYYY-MM-DD (midnight UTC) or RFC 3339 times (2025-06-01T08:00:00Z).
The table shows times in minutes; --json gives exact seconds. docs/usage.md
defines every figure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := usageQuery(app, from, to, by)
			if err != nil {
				return err
			}
			db, err := openDataStore(cmd.Context(), dataDir, false)
			if err != nil {
				return err
			}
			defer db.Close()
			// Usage outlives a deleted app, so an unknown app is not an
			// error; but it is most often a typo, worth a word.
			if _, err := db.GetApp(cmd.Context(), q.App); errors.Is(err, store.ErrNotFound) {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: app %q is not in %s (deleted, or a typo? see \"minirtc app list\")\n", q.App, db.Path())
			} else if err != nil {
				return err
			}
			periods, err := db.QueryUsage(cmd.Context(), q)
			if err != nil {
				return err
			}
			tot, err := db.UsageTotal(cmd.Context(), q)
			if err != nil {
				return err
			}
			rep := usageReport{App: q.App, From: q.From, To: q.To, By: q.By, Periods: densePeriods(q, periods), Total: tot}
			if asJSON {
				return writeIndentedJSON(cmd.OutOrStdout(), rep)
			}
			return rep.writeTable(cmd.OutOrStdout())
		},
	}
	addDataDirFlag(cmd, &dataDir)
	f := cmd.Flags()
	f.StringVar(&app, "app", "", "app id (required)")
	f.StringVar(&from, "from", "", "first day or hour, inclusive: YYYY-MM-DD or RFC 3339 (required)")
	f.StringVar(&to, "to", "", "end, exclusive: YYYY-MM-DD or RFC 3339 (required)")
	f.StringVar(&by, "by", string(store.ByDay), "period of each row: day or hour")
	f.BoolVar(&asJSON, "json", false, "print JSON (times in seconds) instead of a table")
	cmd.MarkFlagRequired("app")
	cmd.MarkFlagRequired("from")
	cmd.MarkFlagRequired("to")
	return cmd
}

// usageQuery checks the flags and names the flag at fault.
func usageQuery(app, from, to, by string) (store.UsageQuery, error) {
	q := store.UsageQuery{App: ids.AppID(app), By: store.UsageGranularity(by)}
	if err := q.App.Validate(); err != nil {
		return q, fmt.Errorf("--app: %w", err)
	}
	if q.By != store.ByDay && q.By != store.ByHour {
		return q, fmt.Errorf("--by %q: use day or hour", by)
	}
	var err error
	if q.From, err = parseUsageTime("--from", from); err != nil {
		return q, err
	}
	if q.To, err = parseUsageTime("--to", to); err != nil {
		return q, err
	}
	if !q.From.Before(q.To) {
		return q, fmt.Errorf("--to %s must be after --from %s; --to is exclusive: for the single day 2025-06-01 give --from 2025-06-01 --to 2025-06-02",
			cliTime(q.To), cliTime(q.From))
	}
	for flag, t := range map[string]time.Time{"--from": q.From, "--to": q.To} {
		if q.By == store.ByDay && !t.Equal(t.Truncate(24*time.Hour)) {
			return q, fmt.Errorf("%s %s is not midnight UTC; --by day needs whole UTC days (or use --by hour)", flag, cliTime(t))
		}
		if !store.IsUTCHour(t) {
			return q, fmt.Errorf("%s %s is not the start of an hour; --by hour needs whole UTC hours", flag, cliTime(t))
		}
	}
	if n := q.To.Sub(q.From) / time.Hour; q.By == store.ByHour && n > store.MaxUsageHours {
		return q, fmt.Errorf("--by hour shows at most %d hours (31 days), asked for %d; use --by day for longer ranges", store.MaxUsageHours, n)
	}
	if n := q.To.Sub(q.From) / (24 * time.Hour); n > store.MaxUsageDays {
		return q, fmt.Errorf("the range is %d days; at most %d", n, store.MaxUsageDays)
	}
	return q, q.Validate()
}

func parseUsageTime(flag, s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is neither a date (2025-06-01) nor an RFC 3339 time (2025-06-01T08:00:00Z)", flag, s)
	}
	return t.UTC(), nil
}

// usageReport is what the command prints; with --json, times are seconds.
type usageReport struct {
	App     ids.AppID              `json:"app"`
	From    time.Time              `json:"from"`
	To      time.Time              `json:"to"`
	By      store.UsageGranularity `json:"by"`
	Periods []store.UsagePeriod    `json:"periods"`
	// Total counts each user once over the whole range; its peaks are the
	// highest of the periods'.
	Total store.UsageFigures `json:"total"`
}

// densePeriods lists every period of the range, with zeros where nothing
// was recorded, so gaps show in the table.
func densePeriods(q store.UsageQuery, sparse []store.UsagePeriod) []store.UsagePeriod {
	have := make(map[int64]store.UsageFigures, len(sparse))
	for _, p := range sparse {
		have[p.Start.Unix()] = p.UsageFigures
	}
	var out []store.UsagePeriod
	for t := q.From; t.Before(q.To); t = t.Add(q.By.Duration()) {
		out = append(out, store.UsagePeriod{Start: t, UsageFigures: have[t.Unix()]})
	}
	return out
}

var usageHeader = []string{"PERIOD (UTC)", "ONLINE", "PUBLISH", "SUBSCRIBE",
	"CALL_AUDIO", "CALL_360P", "CALL_540P", "CALL_720P", "CALL_1080P", "CALL_ABOVE_1080P",
	"ROOMS", "PEAK_ROOMS", "USERS", "CALL_USERS", "PEAK_USERS", "PEAK_CALL_USERS"}

func (r usageReport) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "app %s, %s to %s (UTC), by %s; ONLINE to CALL_ABOVE_1080P in minutes\n",
		r.App, cliTime(r.From), cliTime(r.To), r.By)
	layout := time.DateOnly
	if r.By == store.ByHour {
		layout = "2006-01-02 15:04"
	}
	rows := [][]string{usageHeader}
	for _, p := range r.Periods {
		rows = append(rows, usageRow(p.Start.UTC().Format(layout), p.UsageFigures))
	}
	rows = append(rows, usageRow("TOTAL", r.Total))
	_, err := io.WriteString(w, alignColumns(rows))
	return err
}

// alignColumns lays rows out in columns two spaces apart: the first column
// left-aligned, the numbers right-aligned.
func alignColumns(rows [][]string) string {
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, c := range row {
			switch {
			case i == 0:
				fmt.Fprintf(&b, "%-*s", width[i], c)
			default:
				fmt.Fprintf(&b, "  %*s", width[i], c)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func usageRow(label string, f store.UsageFigures) []string {
	cells := []string{label, minutes(f.OnlineSeconds), minutes(f.PublishSeconds), minutes(f.SubscribeSeconds)}
	for t := store.TierAudio; t < store.NumTiers; t++ {
		cells = append(cells, minutes(f.Call.Get(t)))
	}
	for _, n := range []int64{f.RoomsCreated, f.PeakRooms, f.UniqueUsers, f.UniqueCallUsers, f.PeakUsers, f.PeakCallUsers} {
		cells = append(cells, fmt.Sprint(n))
	}
	return cells
}

// minutes shows seconds as minutes with two decimals (0.01 min = 0.6 s).
func minutes(secs int64) string { return fmt.Sprintf("%.2f", float64(secs)/60) }

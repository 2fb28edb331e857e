package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

func newReportCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Read the quality and state reports clients sent",
	}
	addDataDirFlag(cmd, &dataDir)
	cmd.AddCommand(newReportListCmd(&dataDir))
	return cmd
}

// maxTableData keeps one report per line in the table; --json has it all.
const maxTableData = 100

func newReportListCmd(dataDir *string) *cobra.Command {
	var (
		app, room, user, from, to string
		since                     time.Duration
		limit                     int
		asJSON                    bool
	)
	cmd := &cobra.Command{
		Use:   "list --app ID [--room R] [--user U] [--since 1h | --from TIME --to TIME] [--limit N] [--json]",
		Short: "List client reports, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := store.ReportQuery{App: ids.AppID(app), Room: ids.RoomID(room), User: ids.UserID(user), Limit: limit}
			if err := q.App.Validate(); err != nil {
				return fmt.Errorf("--app: %w", err)
			}
			if q.Room != "" {
				if err := q.Room.Validate(); err != nil {
					return fmt.Errorf("--room: %w", err)
				}
			}
			if q.User != "" {
				if err := q.User.Validate(); err != nil {
					return fmt.Errorf("--user: %w", err)
				}
			}
			if limit < 1 || limit > store.MaxReportLimit {
				return fmt.Errorf("--limit %d is out of range; use 1 to %d", limit, store.MaxReportLimit)
			}
			var err error
			if q.From, q.To, err = reportWindow(cmd, since, from, to); err != nil {
				return err
			}
			db, err := openDataStore(cmd.Context(), *dataDir, false)
			if err != nil {
				return err
			}
			defer db.Close()
			if _, err := db.GetApp(cmd.Context(), q.App); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("app %q not found in %s; see \"minirtc app list\"", q.App, db.Path())
			} else if err != nil {
				return err
			}
			reports, err := db.QueryReports(cmd.Context(), q)
			if err != nil {
				return err
			}
			if asJSON {
				if reports == nil {
					reports = []store.Report{} // [] rather than null for scripts
				}
				return writeIndentedJSON(cmd.OutOrStdout(), reports)
			}
			if len(reports) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no reports match")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tROOM\tUSER\tKIND\tSTREAM\tSESSION\tDATA")
			for _, r := range reports {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.At.UTC().Format("2006-01-02T15:04:05.000Z"),
					r.Room, r.User, r.Kind, dash(string(r.Stream)), dash(string(r.Session)), tableData(r.Data))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&app, "app", "", "app id (required)")
	f.StringVar(&room, "room", "", "only reports from this room")
	f.StringVar(&user, "user", "", "only reports from this user")
	f.DurationVar(&since, "since", 0, "only reports from the last DURATION (e.g. 15m, 2h); not with --from/--to")
	f.StringVar(&from, "from", "", "only reports at or after this time (RFC 3339, e.g. 2025-06-01T08:00:00Z)")
	f.StringVar(&to, "to", "", "only reports before this time (RFC 3339)")
	f.IntVar(&limit, "limit", store.DefaultReportLimit, fmt.Sprintf("at most this many reports, 1 to %d", store.MaxReportLimit))
	f.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	cmd.MarkFlagRequired("app")
	return cmd
}

// reportWindow turns --since or --from/--to into a [from, to) window.
func reportWindow(cmd *cobra.Command, since time.Duration, from, to string) (time.Time, time.Time, error) {
	if cmd.Flags().Changed("since") {
		if from != "" || to != "" {
			return time.Time{}, time.Time{}, errors.New("--since cannot be combined with --from or --to; use one or the other")
		}
		if since <= 0 {
			return time.Time{}, time.Time{}, fmt.Errorf("--since %s must be a positive duration such as 30m or 2h", since)
		}
		return time.Now().Add(-since), time.Time{}, nil
	}
	var f, t time.Time
	var err error
	if from != "" {
		if f, err = time.Parse(time.RFC3339, from); err != nil {
			return f, t, fmt.Errorf("--from %q is not an RFC 3339 time such as 2025-06-01T08:00:00Z", from)
		}
	}
	if to != "" {
		if t, err = time.Parse(time.RFC3339, to); err != nil {
			return f, t, fmt.Errorf("--to %q is not an RFC 3339 time such as 2025-06-01T09:00:00Z", to)
		}
	}
	if !f.IsZero() && !t.IsZero() && !f.Before(t) {
		return f, t, fmt.Errorf("--from %s must be before --to %s", from, to)
	}
	return f, t, nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// tableData shows report data on one line, cut short if long.
func tableData(data json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		buf.Reset()
		buf.Write(data)
	}
	s := buf.String()
	if len(s) <= maxTableData {
		return s
	}
	cut := maxTableData
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// Usage figures: what `minirtc usage` shows, over HTTP. docs/usage.md
// defines every figure; the rules for the range are the command's, so that
// the same question gets the same answer (or the same refusal) both ways.

// usageJSON is the answer: every period of the range, zeros included, so a
// chart or an invoice needs no gap filling, and the total of the range.
type usageJSON struct {
	App     ids.AppID              `json:"app"`
	From    int64                  `json:"from"` // unix ms, inclusive
	To      int64                  `json:"to"`   // unix ms, exclusive
	By      store.UsageGranularity `json:"by"`
	Periods []usagePeriodJSON      `json:"periods"`
	// Total counts each user once over the whole range; its peaks are the
	// highest of the periods'.
	Total store.UsageFigures `json:"total"`
}

type usagePeriodJSON struct {
	Start int64 `json:"start"` // unix ms
	store.UsageFigures
}

func (a *API) queryUsage(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	q, err := parseQuery(c.r, "from", "to", "by")
	if err != nil {
		return 0, nil, err
	}
	uq, err := usageQuery(c.app, q)
	if err != nil {
		return 0, nil, err
	}
	periods, serr := a.d.Store.QueryUsage(c.ctx, uq)
	if serr != nil {
		return 0, nil, internal(serr)
	}
	// A second read: a flush landing between the two can make the total
	// include a minute the periods do not (docs/api.md says so).
	total, serr := a.d.Store.UsageTotal(c.ctx, uq)
	if serr != nil {
		return 0, nil, internal(serr)
	}
	have := make(map[int64]store.UsageFigures, len(periods))
	for _, p := range periods {
		have[p.Start.UnixMilli()] = p.UsageFigures
	}
	out := usageJSON{App: c.app, From: uq.From.UnixMilli(), To: uq.To.UnixMilli(), By: uq.By, Total: total,
		Periods: make([]usagePeriodJSON, 0, uq.To.Sub(uq.From)/uq.By.Duration())}
	for t := uq.From; t.Before(uq.To); t = t.Add(uq.By.Duration()) {
		out.Periods = append(out.Periods, usagePeriodJSON{Start: t.UnixMilli(), UsageFigures: have[t.UnixMilli()]})
	}
	return http.StatusOK, out, nil
}

// usageQuery checks the query parameters as `minirtc usage` checks its
// flags, naming the parameter at fault.
func usageQuery(app ids.AppID, q query) (store.UsageQuery, *Error) {
	uq := store.UsageQuery{App: app, By: store.ByDay}
	if s, ok := q.str("by"); ok {
		uq.By = store.UsageGranularity(s)
		if uq.By != store.ByDay && uq.By != store.ByHour {
			return uq, fieldErr("by", "by is %q; use day (the default) or hour", truncate(s, 40))
		}
	}
	var err *Error
	if uq.From, err = usageTime(q, "from"); err != nil {
		return uq, err
	}
	if uq.To, err = usageTime(q, "to"); err != nil {
		return uq, err
	}
	if !uq.From.Before(uq.To) {
		return uq, fieldErr("to", "to (%s) must be after from (%s); to is exclusive: for the single day 2025-06-01 give from=2025-06-01&to=2025-06-02",
			rfc3339(uq.To), rfc3339(uq.From))
	}
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"from", uq.From}, {"to", uq.To}} {
		if uq.By == store.ByDay && !f.t.Equal(f.t.Truncate(24*time.Hour)) {
			return uq, fieldErr(f.name, "%s (%s) is not midnight UTC; by=day needs whole UTC days (or use by=hour)", f.name, rfc3339(f.t))
		}
		if !store.IsUTCHour(f.t) {
			return uq, fieldErr(f.name, "%s (%s) is not the start of a UTC hour; by=hour needs whole UTC hours", f.name, rfc3339(f.t))
		}
	}
	if n := uq.To.Sub(uq.From) / time.Hour; uq.By == store.ByHour && n > store.MaxUsageHours {
		return uq, fieldErr("to", "by=hour covers at most %d hours (31 days), asked for %d; use by=day for longer ranges", store.MaxUsageHours, n)
	}
	if d := uq.To.Sub(uq.From); d > store.MaxUsageDays*24*time.Hour {
		return uq, fieldErr("to", "the range is %d days; at most %d", d/(24*time.Hour), store.MaxUsageDays)
	}
	if verr := uq.Validate(); verr != nil {
		// The checks above cover everything Validate checks; this is a
		// safety net, still the caller's input at fault.
		return uq, &Error{Status: http.StatusBadRequest, Code: protocol.CodeInvalidField, Message: verr.Error()}
	}
	return uq, nil
}

// usageTime reads a required range bound: a date (midnight UTC), an RFC
// 3339 time (converted to UTC) or unix milliseconds like the API's other
// time parameters, from 1970 to 9999.
func usageTime(q query, name string) (time.Time, *Error) {
	s, ok := q.str(name)
	if !ok || s == "" {
		return time.Time{}, fieldErr(name, "%s is required: a date (2025-06-01, midnight UTC), an RFC 3339 time (2025-06-01T08:00:00Z) or unix milliseconds", name)
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	if err != nil {
		ms, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil {
			return time.Time{}, fieldErr(name, "%s must be a date (2025-06-01), an RFC 3339 time (2025-06-01T08:00:00Z) or unix milliseconds, got %q", name, truncate(s, 60))
		}
		t = time.UnixMilli(ms)
	}
	if t.Before(time.Unix(0, 0)) || t.UnixMilli() > maxUnixMilli {
		return time.Time{}, fieldErr(name, "%s is out of range (1970 to 9999)", name)
	}
	return t.UTC(), nil
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

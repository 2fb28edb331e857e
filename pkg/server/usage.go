package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
)

// Usage periods (UsageQuery.By).
const (
	UsageByDay  = "day"
	UsageByHour = "hour"
)

// UsageQuery selects the range of QueryUsage: [From, To) in UTC, aligned
// to the period (midnight UTC by day, a whole hour by hour); at most 744
// hours by hour and 366 days in all (docs/usage.md).
type UsageQuery struct {
	From, To time.Time
	By       string // UsageByDay (default when empty) or UsageByHour
}

// CallSeconds are call seconds by resolution tier: each second a
// participant subscribes to at least one stream counts in one tier, that of
// the sum of the picture sizes it receives (docs/usage.md §2).
type CallSeconds struct {
	Audio      int64 `json:"audio"`
	P360       int64 `json:"360p"`
	P540       int64 `json:"540p"`
	P720       int64 `json:"720p"`
	P1080      int64 `json:"1080p"`
	Above1080p int64 `json:"above_1080p"`
}

// UsageFigures are the figures of a period or of a whole range; times in
// seconds (docs/usage.md §1 defines each).
type UsageFigures struct {
	CallSeconds      CallSeconds `json:"call_seconds"`
	OnlineSeconds    int64       `json:"online_seconds"`    // participants' time in rooms
	PublishSeconds   int64       `json:"publish_seconds"`   // streams' live time
	SubscribeSeconds int64       `json:"subscribe_seconds"` // time of each (subscriber, stream) pair
	RoomsCreated     int64       `json:"rooms_created"`
	PeakRooms        int64       `json:"peak_rooms"`
	PeakUsers        int64       `json:"peak_users"`
	PeakCallUsers    int64       `json:"peak_call_users"`
	UniqueUsers      int64       `json:"unique_users"`
	UniqueCallUsers  int64       `json:"unique_call_users"`
}

// UsagePeriod is one period's figures and its start.
type UsagePeriod struct {
	Start Millis `json:"start"`
	UsageFigures
}

// Usage is the answer of QueryUsage: every period of the range, oldest
// first, zeros included, and the range's total.
type Usage struct {
	App     ids.AppID     `json:"app"`
	From    Millis        `json:"from"`
	To      Millis        `json:"to"`
	By      string        `json:"by"`
	Periods []UsagePeriod `json:"periods"`
	Total   UsageFigures  `json:"total"`
}

// QueryUsage returns the app's usage figures per period of q's range and
// their total. The server writes figures every usage.flush_interval (a
// minute by default), so the last minute may not show yet.
func (c *Client) QueryUsage(ctx context.Context, q UsageQuery) (*Usage, error) {
	p, err := c.appPath("usage")
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	// Unix milliseconds say the instant exactly; the server checks the
	// alignment and names the parameter at fault.
	v.Set("from", strconv.FormatInt(q.From.UnixMilli(), 10))
	v.Set("to", strconv.FormatInt(q.To.UnixMilli(), 10))
	if q.By != "" {
		v.Set("by", q.By)
	}
	var out Usage
	if err := c.do(ctx, http.MethodGet, p, v, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

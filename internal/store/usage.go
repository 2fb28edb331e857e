package store

import (
	"context"
	"fmt"
	"time"

	"github.com/minirtc/minirtc/pkg/ids"
)

// Usage accounting (internal/usage computes the figures; docs/usage.md
// defines each one). Stores keep one row of sums and peaks per app and UTC
// hour, plus the set of users seen per app, hour and kind; a day is the
// aggregate of its 24 hours, so nothing is kept twice.

// Tier is a call-minute tier: the resolution class of what a subscriber
// receives at a moment.
type Tier int

// Tiers, from audio only to above 1080p. Their order is the order of the
// CallSeconds fields.
const (
	TierAudio Tier = iota
	Tier360p
	Tier540p
	Tier720p
	Tier1080p
	TierAbove1080p
	NumTiers = 6
)

var tierNames = [NumTiers]string{"audio", "360p", "540p", "720p", "1080p", "above_1080p"}

// String is the tier's name as in JSON and docs: "audio", "360p", ...
func (t Tier) String() string {
	if t < 0 || t >= NumTiers {
		return fmt.Sprintf("tier(%d)", int(t))
	}
	return tierNames[t]
}

// CallSeconds are call seconds by tier.
type CallSeconds struct {
	Audio     int64 `json:"audio"`
	P360      int64 `json:"360p"`
	P540      int64 `json:"540p"`
	P720      int64 `json:"720p"`
	P1080     int64 `json:"1080p"`
	Above1080 int64 `json:"above_1080p"`
}

func (c *CallSeconds) field(t Tier) *int64 {
	switch t {
	case TierAudio:
		return &c.Audio
	case Tier360p:
		return &c.P360
	case Tier540p:
		return &c.P540
	case Tier720p:
		return &c.P720
	case Tier1080p:
		return &c.P1080
	case TierAbove1080p:
		return &c.Above1080
	}
	panic("store: no call tier " + t.String())
}

// Get returns the seconds of tier t.
func (c CallSeconds) Get(t Tier) int64 { return *c.field(t) }

// Add adds secs to tier t.
func (c *CallSeconds) Add(t Tier, secs int64) { *c.field(t) += secs }

// Total is the sum over all tiers.
func (c CallSeconds) Total() int64 {
	return c.Audio + c.P360 + c.P540 + c.P720 + c.P1080 + c.Above1080
}

// UsageUserKind says in which set a user is counted.
type UsageUserKind string

// The user sets of a period.
const (
	UsersOnline UsageUserKind = "online" // in a room at some instant of the hour
	UsersInCall UsageUserKind = "call"   // subscribed to a stream at some instant of the hour
)

// UsageDelta is what one app accrued in one UTC hour since the previous
// batch. The sums are added to the stored ones; the peaks are levels seen
// during the batch's time span, and the store keeps the maximum.
type UsageDelta struct {
	App  ids.AppID
	Hour time.Time // start of a UTC hour

	Call             CallSeconds
	OnlineSeconds    int64
	PublishSeconds   int64
	SubscribeSeconds int64
	RoomsCreated     int64

	PeakRooms     int64
	PeakUsers     int64
	PeakCallUsers int64
}

// UsageUser records that User was in set Kind during Hour. Recording the
// same user twice is harmless.
type UsageUser struct {
	App  ids.AppID
	Hour time.Time // start of a UTC hour
	Kind UsageUserKind
	User ids.UserID
}

// UsageBatch is one flush of the accountant: applied all or nothing, and at
// most once per ID.
type UsageBatch struct {
	// ID names the batch: 1 to MaxUsageBatchIDLen characters of
	// [A-Za-z0-9_-]. A retry of a failed flush carries the same ID.
	ID string
	// At is when the batch was made; it dates the ID for the retention.
	At     time.Time
	Deltas []UsageDelta
	Users  []UsageUser
}

// Limits of usage batches and queries.
const (
	MaxUsageBatchIDLen = 64
	// MaxUsageBatchItems bounds len(Deltas)+len(Users) of one batch, so one
	// transaction stays short; the accountant splits larger flushes.
	MaxUsageBatchItems = 5000
	// UsageBatchRetention is how long a store remembers applied batch IDs
	// (counted from their At): a retry within it is recognised.
	UsageBatchRetention = 7 * 24 * time.Hour
	// MaxUsageHours is the longest range of an hourly query (31 days).
	MaxUsageHours = 31 * 24
	// MaxUsageDays is the longest range of a daily or total query.
	MaxUsageDays = 366
)

// UsageGranularity is the period of a usage query.
type UsageGranularity string

// Granularities.
const (
	ByHour UsageGranularity = "hour"
	ByDay  UsageGranularity = "day"
)

// Duration is the length of one period.
func (g UsageGranularity) Duration() time.Duration {
	if g == ByDay {
		return 24 * time.Hour
	}
	return time.Hour
}

// UsageQuery selects an app's usage in [From, To), both aligned to By in
// UTC (a whole hour, or midnight UTC for days).
type UsageQuery struct {
	App      ids.AppID
	From, To time.Time
	By       UsageGranularity
}

// UsageFigures are the figures of one period (or of a whole range).
type UsageFigures struct {
	Call             CallSeconds `json:"call_seconds"`
	OnlineSeconds    int64       `json:"online_seconds"`
	PublishSeconds   int64       `json:"publish_seconds"`
	SubscribeSeconds int64       `json:"subscribe_seconds"`
	RoomsCreated     int64       `json:"rooms_created"`
	PeakRooms        int64       `json:"peak_rooms"`
	PeakUsers        int64       `json:"peak_users"`
	PeakCallUsers    int64       `json:"peak_call_users"`
	UniqueUsers      int64       `json:"unique_users"`
	UniqueCallUsers  int64       `json:"unique_call_users"`
}

// IsZero reports whether nothing at all was counted.
func (f UsageFigures) IsZero() bool { return f == UsageFigures{} }

// UsagePeriod is the figures of the period starting at Start.
type UsagePeriod struct {
	Start time.Time `json:"start"`
	UsageFigures
}

// Usage keeps usage figures.
type Usage interface {
	// ApplyUsage applies b (which must pass b.Validate) in one transaction:
	// for each delta, the sums are added to the (App, Hour) row and each
	// peak becomes the maximum of the stored and the delta's; each user is
	// added to its (App, Hour, Kind) set. If a batch with b.ID was applied
	// before (within UsageBatchRetention), nothing changes and nil is
	// returned. Applied IDs older than b.At minus UsageBatchRetention may be
	// forgotten. Usage is not tied to the apps table: deleting an app keeps
	// its usage, and a batch naming an unknown app is stored as is.
	ApplyUsage(ctx context.Context, b UsageBatch) error
	// QueryUsage returns the periods of q.By in [q.From, q.To) that have
	// anything recorded (a row or a user), oldest first. A period's sums
	// add up its hours, its peaks are the maximum over its hours, and its
	// unique counts are the distinct users of the period's hours, per kind.
	QueryUsage(ctx context.Context, q UsageQuery) ([]UsagePeriod, error)
	// UsageTotal is the figures of the whole range [q.From, q.To), computed
	// the same way as one period covering it (distinct users over the whole
	// range). q.By only sets the alignment rule.
	UsageTotal(ctx context.Context, q UsageQuery) (UsageFigures, error)
}

// IsUTCHour reports whether t is the start of a UTC hour.
func IsUTCHour(t time.Time) bool { return !t.IsZero() && t.Equal(t.Truncate(time.Hour)) }

// Validate checks a query: valid app, a known granularity, From before To,
// both aligned to it, and a range of at most MaxUsageHours hours (hourly) or
// MaxUsageDays days (daily).
func (q UsageQuery) Validate() error {
	if err := q.App.Validate(); err != nil {
		return fmt.Errorf("usage query: %w", err)
	}
	if q.By != ByHour && q.By != ByDay {
		return fmt.Errorf("usage query: by must be %q or %q, got %q", ByHour, ByDay, q.By)
	}
	if q.From.IsZero() || q.To.IsZero() {
		return fmt.Errorf("usage query: from and to are both required")
	}
	if !q.From.Before(q.To) {
		return fmt.Errorf("usage query: from (%s) must be before to (%s); to is exclusive",
			q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339))
	}
	d := q.By.Duration()
	for name, t := range map[string]time.Time{"from": q.From, "to": q.To} {
		if !t.Equal(t.Truncate(d)) {
			return fmt.Errorf("usage query: %s (%s) must be the start of a UTC %s", name, t.UTC().Format(time.RFC3339), q.By)
		}
	}
	n := int64(q.To.Sub(q.From) / d)
	if q.By == ByHour && n > MaxUsageHours {
		return fmt.Errorf("usage query: %d hours asked, at most %d (31 days) by hour; query by day for longer ranges", n, MaxUsageHours)
	}
	if q.To.Sub(q.From) > MaxUsageDays*24*time.Hour {
		return fmt.Errorf("usage query: the range is longer than %d days", MaxUsageDays)
	}
	return nil
}

// Validate checks a batch: an ID of 1 to MaxUsageBatchIDLen characters of
// [A-Za-z0-9_-], a time, at most MaxUsageBatchItems items, and items with
// valid app and user ids, UTC-hour starts, known kinds and no negative number.
func (b UsageBatch) Validate() error {
	if b.ID == "" || len(b.ID) > MaxUsageBatchIDLen {
		return fmt.Errorf("usage batch: id must be 1 to %d characters, got %d", MaxUsageBatchIDLen, len(b.ID))
	}
	for i := 0; i < len(b.ID); i++ {
		c := b.ID[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("usage batch: id has %q at byte %d; use letters, digits, '_' and '-'", c, i)
		}
	}
	if b.At.IsZero() {
		return fmt.Errorf("usage batch %s: time (At) is not set", b.ID)
	}
	if n := len(b.Deltas) + len(b.Users); n > MaxUsageBatchItems {
		return fmt.Errorf("usage batch %s: %d items, the limit is %d", b.ID, n, MaxUsageBatchItems)
	}
	for i, d := range b.Deltas {
		if err := d.validate(); err != nil {
			return fmt.Errorf("usage batch %s: delta %d: %w", b.ID, i, err)
		}
	}
	for i, u := range b.Users {
		if err := u.validate(); err != nil {
			return fmt.Errorf("usage batch %s: user %d: %w", b.ID, i, err)
		}
	}
	return nil
}

func (d UsageDelta) validate() error {
	if err := d.App.Validate(); err != nil {
		return err
	}
	if !IsUTCHour(d.Hour) {
		return fmt.Errorf("hour %s is not the start of a UTC hour", d.Hour.UTC().Format(time.RFC3339Nano))
	}
	values := map[string]int64{
		"call audio": d.Call.Audio, "call 360p": d.Call.P360, "call 540p": d.Call.P540, "call 720p": d.Call.P720,
		"call 1080p": d.Call.P1080, "call above 1080p": d.Call.Above1080,
		"online seconds": d.OnlineSeconds, "publish seconds": d.PublishSeconds, "subscribe seconds": d.SubscribeSeconds,
		"rooms created": d.RoomsCreated, "peak rooms": d.PeakRooms, "peak users": d.PeakUsers, "peak call users": d.PeakCallUsers,
	}
	for name, v := range values {
		if v < 0 {
			return fmt.Errorf("%s is negative (%d)", name, v)
		}
	}
	return nil
}

func (u UsageUser) validate() error {
	if err := u.App.Validate(); err != nil {
		return err
	}
	if err := u.User.Validate(); err != nil {
		return err
	}
	if !IsUTCHour(u.Hour) {
		return fmt.Errorf("hour %s is not the start of a UTC hour", u.Hour.UTC().Format(time.RFC3339Nano))
	}
	if u.Kind != UsersOnline && u.Kind != UsersInCall {
		return fmt.Errorf("kind must be %q or %q, got %q", UsersOnline, UsersInCall, u.Kind)
	}
	return nil
}

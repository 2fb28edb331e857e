package api

import (
	"net/http"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// Quality reports and ingest URLs.

func (a *API) queryReports(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	q, err := parseQuery(c.r, "room", "user", "from", "to", "limit")
	if err != nil {
		return 0, nil, err
	}
	rq := store.ReportQuery{App: c.app}
	if s, ok := q.str("room"); ok {
		rq.Room = ids.RoomID(s)
		if err := rq.Room.Validate(); err != nil {
			return 0, nil, fieldErr("room", "%v", err)
		}
	}
	if s, ok := q.str("user"); ok {
		rq.User = ids.UserID(s)
		if err := rq.User.Validate(); err != nil {
			return 0, nil, fieldErr("user", "%v", err)
		}
	}
	if rq.From, err = q.time("from"); err != nil {
		return 0, nil, err
	}
	if rq.To, err = q.time("to"); err != nil {
		return 0, nil, err
	}
	if !rq.From.IsZero() && !rq.To.IsZero() && !rq.From.Before(rq.To) {
		return 0, nil, fieldErr("to", "to must be after from")
	}
	if rq.Limit, err = q.int("limit", 1, store.MaxReportLimit, store.DefaultReportLimit); err != nil {
		return 0, nil, err
	}
	reports, serr := a.d.Store.QueryReports(c.ctx, rq)
	if serr != nil {
		return 0, nil, internal(serr)
	}
	out := reportsJSON{Reports: make([]reportJSON, 0, len(reports))}
	for _, r := range reports {
		out.Reports = append(out.Reports, reportJSON{ID: r.ID, Room: r.Room, User: r.User, Session: r.Session, Kind: r.Kind,
			Stream: r.Stream, Data: r.DataOrEmpty(), At: r.At.UnixMilli()})
	}
	return http.StatusOK, out, nil
}

type ingestRequest struct {
	Room       ids.RoomID `json:"room"`
	User       ids.UserID `json:"user"`
	Tag        ids.Tag    `json:"tag"`
	TTLSeconds *int64     `json:"ttl_seconds"`
}

// DefaultIngestTTL is how long an ingest URL can be used to start pushing
// when the request does not say (as `minirtc ingest create`).
const DefaultIngestTTL = time.Hour

func (a *API) createIngest(c *call) (int, any, *Error) {
	var req ingestRequest
	if err := c.body(&req, false); err != nil {
		return 0, nil, err
	}
	if err := req.Room.Validate(); err != nil {
		return 0, nil, fieldErr("room", "%v", err)
	}
	if err := req.User.Validate(); err != nil {
		return 0, nil, fieldErr("user", "%v", err)
	}
	tag := req.Tag.OrDefault()
	if err := tag.Validate(); err != nil {
		return 0, nil, fieldErr("tag", "%v", err)
	}
	ttl := DefaultIngestTTL
	if req.TTLSeconds != nil {
		if s := *req.TTLSeconds; s < 1 || s > int64(auth.MaxTTL/time.Second) {
			return 0, nil, fieldErr("ttl_seconds", "ttl_seconds is %d; it must be from 1 to %d (30 days)", s, int64(auth.MaxTTL/time.Second))
		}
		ttl = time.Duration(*req.TTLSeconds) * time.Second
	}
	now := a.now()
	in, err := a.d.Store.CreateIngest(c.ctx, store.Ingest{App: c.app, Room: req.Room, User: req.User,
		Stream: ids.Stream(req.User, tag), CreatedAt: now, ExpiresAt: now.Add(ttl).Truncate(time.Second)})
	if err != nil {
		return 0, nil, fromStore(err, "app "+string(c.app))
	}
	url, uerr := a.d.Media.IngestURL(c.ctx, auth.MediaGrant{Action: auth.ActionIngest, App: c.app, Room: in.Room,
		Stream: in.Stream, User: in.User, Expires: in.ExpiresAt})
	if uerr != nil {
		return 0, nil, internal(uerr)
	}
	out := newIngestJSON(in)
	out.URL = url
	return http.StatusCreated, out, nil
}

func (a *API) listIngests(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	list, err := a.d.Store.ListIngests(c.ctx, c.app, a.now())
	if err != nil {
		return 0, nil, internal(err)
	}
	out := ingestsJSON{Ingests: make([]ingestJSON, 0, len(list))}
	for _, in := range list {
		out.Ingests = append(out.Ingests, newIngestJSON(in))
	}
	return http.StatusOK, out, nil
}

func (a *API) getIngest(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	in, err := a.d.Store.GetIngest(c.ctx, c.app, c.r.PathValue("ingest"))
	if err != nil {
		return 0, nil, fromStore(err, "ingest "+truncate(c.r.PathValue("ingest"), 40))
	}
	return http.StatusOK, newIngestJSON(in), nil
}

// revokeIngest refuses the URL from now on and ends its push if one is
// running; a live-pusher or OBS reconnecting is refused too.
func (a *API) revokeIngest(c *call) (int, any, *Error) {
	if err := c.noBody(); err != nil {
		return 0, nil, err
	}
	in, err := a.d.Store.RevokeIngest(c.ctx, c.app, c.r.PathValue("ingest"), a.now())
	if err != nil {
		return 0, nil, fromStore(err, "ingest "+truncate(c.r.PathValue("ingest"), 40))
	}
	a.d.Media.EndIngest(in.App, in.Room, in.Stream, in.User)
	return http.StatusOK, newIngestJSON(in), nil
}

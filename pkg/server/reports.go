package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// QueryReports returns the quality and state reports clients sent, newest
// first. To page back, query again with To set to the At of the oldest
// report received plus one millisecond, and drop the ids already seen.
func (c *Client) QueryReports(ctx context.Context, q ReportQuery) ([]Report, error) {
	p, err := c.appPath("reports")
	if err != nil {
		return nil, err
	}
	v := url.Values{}
	if q.Room != "" {
		v.Set("room", string(q.Room))
	}
	if q.User != "" {
		v.Set("user", string(q.User))
	}
	if !q.From.IsZero() {
		v.Set("from", strconv.FormatInt(q.From.UnixMilli(), 10))
	}
	if !q.To.IsZero() {
		v.Set("to", strconv.FormatInt(q.To.UnixMilli(), 10))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out struct {
		Reports []Report `json:"reports"`
	}
	if err := c.do(ctx, http.MethodGet, p, v, nil, &out); err != nil {
		return nil, err
	}
	return out.Reports, nil
}

// ListIngests lists the ingests made through the API that have not expired
// (revoked ones included), newest first, at most 1000.
func (c *Client) ListIngests(ctx context.Context) ([]Ingest, error) {
	var out struct {
		Ingests []Ingest `json:"ingests"`
	}
	if err := c.call(ctx, http.MethodGet, nil, &out, "ingests"); err != nil {
		return nil, err
	}
	return out.Ingests, nil
}

// CreateIngest signs an RTMP URL (in the answer's URL, shown only here) an
// external encoder publishes into a room with, as req.User.
func (c *Client) CreateIngest(ctx context.Context, req IngestRequest) (*Ingest, error) {
	var out Ingest
	if err := c.call(ctx, http.MethodPost, req, &out, "ingests"); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetIngest gets one ingest (without its URL).
func (c *Client) GetIngest(ctx context.Context, id string) (*Ingest, error) {
	var out Ingest
	if err := c.call(ctx, http.MethodGet, nil, &out, "ingests", id); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeIngest revokes an ingest URL: a running push with it ends and
// later ones are refused. Revoking again changes nothing.
func (c *Client) RevokeIngest(ctx context.Context, id string) (*Ingest, error) {
	var out Ingest
	if err := c.call(ctx, http.MethodDelete, nil, &out, "ingests", id); err != nil {
		return nil, err
	}
	return &out, nil
}

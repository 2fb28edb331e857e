-- 0002: webhooks: per-app settings, per-room sequence counters, and the
-- outbox (events and one delivery per event per URL); the same data as
-- SQLite's 0002_webhooks.sql. Times are timestamptz at millisecond precision;
-- NULL where the Go side has a zero time.

CREATE TABLE webhook_settings (
    app_id     TEXT        PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
    urls       TEXT[]      NOT NULL,   -- in the order given
    secret     TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- The last sequence number given to an event of (app, room). Rows are kept
-- for good so numbering never restarts when a room is re-created.
CREATE TABLE webhook_room_seq (
    app_id   TEXT   NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    room_id  TEXT   NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (app_id, room_id)
);

-- data is BYTEA for the reason reports.data is (0001): kept verbatim.
CREATE TABLE webhook_events (
    id      TEXT        PRIMARY KEY,
    app_id  TEXT        NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    room_id TEXT        NOT NULL,
    user_id TEXT        NOT NULL DEFAULT '',
    type    TEXT        NOT NULL,
    seq     BIGINT      NOT NULL,
    at      TIMESTAMPTZ NOT NULL,
    data    BYTEA       NOT NULL
);

-- One row per event per URL. Identity ids are never reused, and enqueues of
-- one app are serialised (an advisory lock, see webhooks.go), so within a
-- queue a lower id is an earlier event even after purges.
-- head marks the first pending delivery of its queue (app, room, url): only
-- heads are claimed, which keeps each queue in order and lets the claim scan
-- only heads instead of every waiting delivery.
CREATE TABLE webhook_deliveries (
    id              BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        TEXT        NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    app_id          TEXT        NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    room_id         TEXT        NOT NULL,
    url             TEXT        NOT NULL,
    state           TEXT        NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    head            BOOLEAN     NOT NULL DEFAULT false,
    attempts        INTEGER     NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ,
    last_attempt_at TIMESTAMPTZ,
    last_status     INTEGER     NOT NULL DEFAULT 0,
    last_error      TEXT        NOT NULL DEFAULT '',
    done_at         TIMESTAMPTZ
);
-- Claims: due heads, earliest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE state = 'pending' AND head;
-- Finding a queue's next delivery (enqueue, completion).
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (app_id, room_id, url, id) WHERE state = 'pending';
-- Listings and counts per app.
CREATE INDEX webhook_deliveries_app ON webhook_deliveries (app_id, id);
CREATE INDEX webhook_deliveries_app_state ON webhook_deliveries (app_id, state, id);
-- Purges.
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (done_at) WHERE state <> 'pending';
-- ON DELETE CASCADE from webhook_events, and the purge of orphaned events.
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- 0002: webhooks: per-app settings, per-room sequence counters, and the
-- outbox (events and one delivery per event per URL).
-- Times are unix milliseconds (UTC); NULL where the Go side has a zero time.

CREATE TABLE webhook_settings (
    app_id     TEXT    PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
    urls       TEXT    NOT NULL,   -- JSON array of strings, in the order given
    secret     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The last sequence number given to an event of (app, room). Rows are kept
-- for good so numbering never restarts when a room is re-created.
CREATE TABLE webhook_room_seq (
    app_id   TEXT    NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    room_id  TEXT    NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (app_id, room_id)
) WITHOUT ROWID;

CREATE TABLE webhook_events (
    id      TEXT    PRIMARY KEY,
    app_id  TEXT    NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    room_id TEXT    NOT NULL,
    user_id TEXT    NOT NULL DEFAULT '',
    type    TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    data    TEXT    NOT NULL
);

-- One row per event per URL. AUTOINCREMENT: ids follow enqueue order and are
-- never reused, so "lower id" means "earlier" even after purges.
-- head = 1 marks the first pending delivery of its queue (app, room, url):
-- only heads are claimed, which keeps each queue in order and lets the claim
-- scan only heads instead of every waiting delivery.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT    NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    app_id          TEXT    NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    room_id         TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    head            INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER,
    last_attempt_at INTEGER,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    done_at         INTEGER
);
-- Claims: due heads, earliest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE state = 'pending' AND head = 1;
-- Finding a queue's next delivery (enqueue, completion).
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (app_id, room_id, url, id) WHERE state = 'pending';
-- Listings and counts per app.
CREATE INDEX webhook_deliveries_app ON webhook_deliveries (app_id, id);
CREATE INDEX webhook_deliveries_app_state ON webhook_deliveries (app_id, state, id);
-- Purges.
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (done_at) WHERE state <> 'pending';
-- ON DELETE CASCADE from webhook_events, and the purge of orphaned events.
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

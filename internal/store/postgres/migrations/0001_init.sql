-- 0001: apps, client reports, bans (the same data as SQLite's 0001_init.sql).
-- Times are timestamptz at millisecond precision (the Go side truncates);
-- NULL where the Go side has a zero time.

CREATE TABLE apps (
    id                    TEXT        PRIMARY KEY,
    -- seq keeps the order of creation for ListApps when two apps share a
    -- created_at millisecond (SQLite orders by its rowid).
    seq                   BIGINT      GENERATED ALWAYS AS IDENTITY UNIQUE,
    name                  TEXT        NOT NULL,
    secret                TEXT        NOT NULL,
    previous_secret       TEXT        NOT NULL DEFAULT '',
    previous_secret_until TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);

-- An identity column never hands out an id twice, even after old reports
-- are purged. data is BYTEA because the store keeps it verbatim: a JSON
-- object that Go accepts may hold bytes that are not UTF-8, which TEXT would
-- refuse and JSONB would rewrite (read it with convert_from(data, 'UTF8')).
CREATE TABLE reports (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id     TEXT        NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    room_id    TEXT        NOT NULL,
    user_id    TEXT        NOT NULL,
    session_id TEXT        NOT NULL DEFAULT '',
    kind       TEXT        NOT NULL,
    stream_id  TEXT        NOT NULL DEFAULT '',
    data       BYTEA       NOT NULL,
    at         TIMESTAMPTZ NOT NULL
);
-- Queries are newest first with id breaking ties: with id in the index a
-- limited query reads the index backwards and stops, without sorting.
CREATE INDEX reports_app_room_at ON reports (app_id, room_id, at, id);
CREATE INDEX reports_app_user_at ON reports (app_id, user_id, at, id);
-- The console lists an app's latest reports without a room or user filter.
CREATE INDEX reports_app_at ON reports (app_id, at, id);

CREATE TABLE bans (
    app_id    TEXT        NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    room_id   TEXT        NOT NULL,
    user_id   TEXT        NOT NULL,
    until     TIMESTAMPTZ,            -- NULL: until the ban is deleted
    banned_by TEXT        NOT NULL DEFAULT '',
    reason    TEXT        NOT NULL DEFAULT '',
    PRIMARY KEY (app_id, room_id, user_id)
);

-- 0001: apps, client reports, bans.
-- Times are unix milliseconds (UTC); NULL where the Go side has a zero time.

CREATE TABLE apps (
    id                    TEXT    PRIMARY KEY,
    name                  TEXT    NOT NULL,
    secret                TEXT    NOT NULL,
    previous_secret       TEXT    NOT NULL DEFAULT '',
    previous_secret_until INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

-- AUTOINCREMENT so that a report id is never reused, even after old reports are purged.
CREATE TABLE reports (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id     TEXT    NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    room_id    TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    session_id TEXT    NOT NULL DEFAULT '',
    kind       TEXT    NOT NULL,
    stream_id  TEXT    NOT NULL DEFAULT '',
    data       TEXT    NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX reports_app_room_at ON reports (app_id, room_id, at);
CREATE INDEX reports_app_user_at ON reports (app_id, user_id, at);
-- The console lists an app's latest reports without a room or user filter.
CREATE INDEX reports_app_at ON reports (app_id, at);

CREATE TABLE bans (
    app_id    TEXT    NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    room_id   TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    until     INTEGER,            -- NULL: until the ban is deleted
    banned_by TEXT    NOT NULL DEFAULT '',
    reason    TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (app_id, room_id, user_id)
) WITHOUT ROWID;

-- 0003: usage accounting (internal/usage; figures defined in docs/usage.md).
-- Hours are unix milliseconds of the start of a UTC hour. Rows are not tied
-- to apps: usage outlives a deleted app, and a flush never fails on one.

-- Sums and peaks of one app in one UTC hour. Sums are seconds or counts
-- added by each flush; peaks keep the maximum seen.
CREATE TABLE usage_hours (
    app_id             TEXT    NOT NULL,
    hour               INTEGER NOT NULL,
    call_audio_s       INTEGER NOT NULL DEFAULT 0,
    call_360p_s        INTEGER NOT NULL DEFAULT 0,
    call_540p_s        INTEGER NOT NULL DEFAULT 0,
    call_720p_s        INTEGER NOT NULL DEFAULT 0,
    call_1080p_s       INTEGER NOT NULL DEFAULT 0,
    call_above_1080p_s INTEGER NOT NULL DEFAULT 0,
    online_s           INTEGER NOT NULL DEFAULT 0,
    publish_s          INTEGER NOT NULL DEFAULT 0,
    subscribe_s        INTEGER NOT NULL DEFAULT 0,
    rooms_created      INTEGER NOT NULL DEFAULT 0,
    peak_rooms         INTEGER NOT NULL DEFAULT 0,
    peak_users         INTEGER NOT NULL DEFAULT 0,
    peak_call_users    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (app_id, hour)
) WITHOUT ROWID;

-- The users seen per app, hour and kind ('online' or 'call'): unique users
-- of any range are the distinct user ids of its hours.
CREATE TABLE usage_users (
    app_id  TEXT    NOT NULL,
    hour    INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    user_id TEXT    NOT NULL,
    PRIMARY KEY (app_id, hour, kind, user_id)
) WITHOUT ROWID;

-- Applied flush ids, so that a retried flush is not counted twice; pruned
-- after store.UsageBatchRetention.
CREATE TABLE usage_batches (
    id TEXT    PRIMARY KEY,
    at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX usage_batches_at ON usage_batches (at);

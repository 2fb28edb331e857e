-- 0004: REST API (issue 6): each app's own limits, and the ingest URLs the API
-- handed out (so that one can be revoked); the same data as SQLite's
-- 0004_api.sql.

-- 0 means "the server's limit" (store.AppLimits).
ALTER TABLE apps ADD COLUMN max_participants INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN max_rooms        INTEGER NOT NULL DEFAULT 0;

CREATE TABLE ingests (
    id         TEXT        PRIMARY KEY,
    app_id     TEXT        NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    room_id    TEXT        NOT NULL,
    user_id    TEXT        NOT NULL,
    stream_id  TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL, -- whole seconds, as in the signed URL
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ           -- NULL while not revoked
);
-- A push asks whether its URL was revoked by these fields.
CREATE INDEX ingests_grant ON ingests (app_id, room_id, stream_id, user_id, expires_at);
-- Listing unexpired ingests and purging expired ones.
CREATE INDEX ingests_app_expires ON ingests (app_id, expires_at);

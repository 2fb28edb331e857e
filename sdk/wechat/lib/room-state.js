'use strict';

// The client's view of the room, built from the join snapshot and kept up to
// date by events (docs/protocol.md §7.1). Server objects are snake_case; the
// SDK hands out camelCase copies so pages never hold the SDK's own objects.

function toStream(s) {
  const out = {
    id: s.id,
    userId: s.user_id,
    tag: s.tag,
    mediaType: s.media,
    audioMuted: !!s.audio_muted,
    videoDisabled: !!s.video_disabled,
    // The app server keeps the audio muted / the video off (force_mute): the
    // owner cannot undo it.
    audioLocked: !!s.audio_locked,
    videoLocked: !!s.video_locked,
  };
  if (s.video) out.video = { codec: s.video.codec, width: s.video.width, height: s.video.height, fps: s.video.fps };
  if (s.audio) out.audio = { codec: s.audio.codec, sampleRate: s.audio.sample_rate, channels: s.audio.channels };
  return out;
}

function toUser(p) {
  const out = { userId: p.user_id, name: p.name || '', metadata: p.metadata || '', joinedAt: p.joined_at };
  if (p.grants) out.grants = p.grants.slice();
  return out;
}

function copy(obj) {
  return JSON.parse(JSON.stringify(obj));
}

class RoomState {
  constructor() {
    this.reset();
  }

  reset() {
    this.room = null; // {id, attributes, createdAt}
    this.self = null;
    this.users = new Map(); // userId -> user (others only)
    this.streams = new Map(); // streamId -> stream (live streams of everyone, self included)
  }

  // Replaces the view with a join snapshot.
  load(data) {
    this.reset();
    this.room = { id: data.room.id, attributes: Object.assign({}, data.room.attributes), createdAt: data.room.created_at };
    this.self = toUser(data.self);
    for (const s of data.self.streams || []) this.streams.set(s.id, toStream(s));
    for (const p of data.participants || []) {
      this.users.set(p.user_id, toUser(p));
      for (const s of p.streams || []) this.streams.set(s.id, toStream(s));
    }
  }

  // Applies an event; returns [sdkEventName, payload] for the page, or null.
  apply(name, d) {
    switch (name) {
      case 'user_joined': {
        const user = toUser(d.user);
        this.users.set(user.userId, user);
        return ['userJoined', copy(user)];
      }
      case 'user_left': {
        this.users.delete(d.user_id);
        for (const [id, s] of this.streams) if (s.userId === d.user_id) this.streams.delete(id);
        return ['userLeft', { userId: d.user_id, reason: d.reason }];
      }
      case 'stream_published':
      case 'stream_state_changed': {
        const stream = toStream(d.stream);
        this.streams.set(stream.id, stream);
        return [name === 'stream_published' ? 'streamPublished' : 'streamStateChanged', copy(stream)];
      }
      case 'stream_unpublished': {
        const stream = toStream(d.stream);
        this.streams.delete(stream.id);
        return ['streamUnpublished', stream];
      }
      case 'participant_updated': {
        // The app server changed a name, metadata or grants (only our own copy
        // has grants). joinedAt does not change.
        const user = toUser(d.user);
        const mine = this.self && user.userId === this.self.userId;
        if (mine) this.self = user;
        else if (this.users.has(user.userId)) this.users.set(user.userId, user);
        return ['participantUpdated', copy(user)];
      }
      case 'attributes_changed': {
        const attrs = this.room.attributes;
        if (d.set) Object.assign(attrs, d.set);
        for (const k of d.deleted || []) delete attrs[k];
        const out = { set: Object.assign({}, d.set), deleted: (d.deleted || []).slice(), by: d.by };
        if (d.notify) out.notify = { name: d.notify.name, content: d.notify.content };
        return ['attributesChanged', out];
      }
      case 'message':
        return ['message', { id: d.id, from: d.from, name: d.name, content: d.content || '', private: !!d.private, sentAt: d.sent_at }];
      case 'kicked_off':
        return ['kickedOff', { reason: d.reason, by: d.by || '', banSeconds: d.ban_seconds || 0, message: d.message || '' }];
      case 'room_closed':
        return ['roomClosed', { reason: d.reason || '', by: d.by || '' }];
      default:
        return null; // server_going_away is handled by the session; unknown events are ignored
    }
  }

  // Replaces the attributes after a set/delete answered with all of them.
  setAttributes(all) {
    if (this.room) this.room.attributes = Object.assign({}, all);
  }

  remoteUsers() {
    return Array.from(this.users.values()).map((u) => Object.assign(copy(u), { streams: this.remoteStreams(u.userId) }));
  }

  remoteStreams(userId) {
    const selfId = this.self && this.self.userId;
    return Array.from(this.streams.values())
      .filter((s) => s.userId !== selfId && (userId === undefined || s.userId === userId))
      .map(copy);
  }

  hasStream(id) {
    return this.streams.has(id);
  }
}

module.exports = { RoomState, toStream, toUser };

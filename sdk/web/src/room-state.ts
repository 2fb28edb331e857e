import type { JoinData, WireParticipant, WireStream } from './protocol';
import type { ClientEvents, RemoteUser, Room, Stream, User } from './types';

// The client's view of the room, built from the join snapshot and kept up to
// date by events (docs/protocol.md §7.1). Server objects are snake_case; the
// SDK hands out camelCase copies so that pages never hold the SDK's own objects.

export function toStream(s: WireStream): Stream {
  const out: Stream = {
    id: s.id,
    userId: s.user_id,
    tag: s.tag,
    mediaType: s.media,
    audioMuted: !!s.audio_muted,
    videoDisabled: !!s.video_disabled,
    audioLocked: !!s.audio_locked,
    videoLocked: !!s.video_locked,
  };
  if (s.video) {
    out.video = { codec: s.video.codec, width: s.video.width, height: s.video.height };
    if (s.video.fps !== undefined) out.video.fps = s.video.fps;
  }
  if (s.audio) out.audio = { codec: s.audio.codec, sampleRate: s.audio.sample_rate, channels: s.audio.channels };
  return out;
}

export function toUser(p: WireParticipant): User {
  const out: User = { userId: p.user_id, name: p.name || '', metadata: p.metadata || '', joinedAt: p.joined_at };
  if (p.grants) out.grants = p.grants.slice();
  return out;
}

export function copy<T>(obj: T): T {
  return JSON.parse(JSON.stringify(obj)) as T;
}

/** An SDK event derived from a server event. */
export type Derived = { [K in keyof ClientEvents]: [K, ClientEvents[K]] }[keyof ClientEvents];

export class RoomState {
  room: Room | null = null;
  self: User | null = null;
  /** The others, by user id. */
  users = new Map<string, User>();
  /** Live streams of everyone, yourself included, by stream id. */
  streams = new Map<string, Stream>();

  reset(): void {
    this.room = null;
    this.self = null;
    this.users = new Map();
    this.streams = new Map();
  }

  /** Replaces the view with a join snapshot. */
  load(data: JoinData): void {
    this.reset();
    this.room = { id: data.room.id, attributes: { ...data.room.attributes }, createdAt: data.room.created_at };
    this.self = toUser(data.self);
    for (const s of data.self.streams || []) this.streams.set(s.id, toStream(s));
    for (const p of data.participants || []) {
      this.users.set(p.user_id, toUser(p));
      for (const s of p.streams || []) this.streams.set(s.id, toStream(s));
    }
  }

  /** Applies an event; returns the SDK event for the page, or null. */
  apply(name: string, d: Record<string, unknown>): Derived | null {
    switch (name) {
      case 'user_joined': {
        const user = toUser(d.user as WireParticipant);
        this.users.set(user.userId, user);
        return ['userJoined', copy(user)];
      }
      case 'user_left': {
        const userId = String(d.user_id);
        this.users.delete(userId);
        for (const [id, s] of this.streams) if (s.userId === userId) this.streams.delete(id);
        return ['userLeft', { userId, reason: String(d.reason || '') }];
      }
      case 'stream_published':
      case 'stream_state_changed': {
        const stream = toStream(d.stream as WireStream);
        this.streams.set(stream.id, stream);
        return [name === 'stream_published' ? 'streamPublished' : 'streamStateChanged', copy(stream)];
      }
      case 'stream_unpublished': {
        const stream = toStream(d.stream as WireStream);
        this.streams.delete(stream.id);
        return ['streamUnpublished', stream];
      }
      case 'participant_updated': {
        // The app server changed a name, metadata or grants (only our own
        // copy has grants).
        const user = toUser(d.user as WireParticipant);
        if (this.self && user.userId === this.self.userId) this.self = user;
        else if (this.users.has(user.userId)) this.users.set(user.userId, user);
        return ['participantUpdated', copy(user)];
      }
      case 'attributes_changed': {
        const set = (d.set || {}) as Record<string, string>;
        const deleted = ((d.deleted || []) as string[]).slice();
        if (this.room) {
          Object.assign(this.room.attributes, set);
          for (const k of deleted) delete this.room.attributes[k];
        }
        const notify = d.notify as { name: string; content?: string } | undefined;
        return ['attributesChanged', {
          set: { ...set },
          deleted,
          by: String(d.by || ''),
          ...(notify ? { notify: { name: notify.name, content: notify.content || '' } } : {}),
        }];
      }
      case 'message':
        return ['message', {
          id: String(d.id),
          from: String(d.from),
          name: String(d.name),
          content: String(d.content || ''),
          private: !!d.private,
          sentAt: Number(d.sent_at),
        }];
      case 'kicked_off':
        return ['kickedOff', { reason: String(d.reason || ''), by: String(d.by || ''), banSeconds: Number(d.ban_seconds || 0), message: String(d.message || '') }];
      case 'room_closed':
        return ['roomClosed', { reason: String(d.reason || ''), by: String(d.by || '') }];
      default:
        return null; // server_going_away is the session's; WebRTC events are the media's; unknown ones are ignored
    }
  }

  /** Replaces the attributes after a set/delete answered with all of them. */
  setAttributes(all: Record<string, string>): void {
    if (this.room) this.room.attributes = { ...all };
  }

  remoteUsers(): RemoteUser[] {
    return Array.from(this.users.values()).map((u) => ({ ...copy(u), streams: this.remoteStreams(u.userId) }));
  }

  remoteStreams(userId?: string): Stream[] {
    const selfId = this.self && this.self.userId;
    return Array.from(this.streams.values())
      .filter((s) => s.userId !== selfId && (userId === undefined || s.userId === userId))
      .map(copy);
  }

  isOwn(stream: { user_id?: string; userId?: string }): boolean {
    const owner = stream.user_id ?? stream.userId;
    return !!this.self && owner === this.self.userId;
  }
}

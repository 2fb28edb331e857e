import type { ClientContext, ResolvedOptions } from './context';
import { Emitter } from './emitter';
import { ErrorCode, MiniRTCError, fail } from './errors';
import { LocalMedia } from './local-media';
import type {
  ForceMuteData, JoinData, ParticipantUpdatedData, WebRTCClosedEvent, WebRTCOfferEvent, WireICEServer, WireStream,
} from './protocol';
import { DOWNLINK } from './protocol';
import { RemoteMedia } from './remote-media';
import { RoomState, copy } from './room-state';
import { hasWebRTC, rtcFailure } from './rtc-util';
import { Session } from './session';
import { StatsSampler } from './stats';
import type {
  ClientEvents, ClientOptions, ConnectionState, JoinResult, LocalStream, PublishOptions,
  RemoteUser, Room, Stream, StreamStats, SubscribeResult, User,
} from './types';
import * as v from './validate';

const DEFAULTS: Omit<ResolvedOptions, 'url'> = {
  requestTimeout: 10000,
  connectTimeout: 10000,
  reconnectTimeout: 120000,
  iceGatheringTimeout: 1000,
  subscribeTimeout: 10000,
  statsInterval: 5000,
  reportStats: true,
};

/** A participant in one room: the SDK's public API (README.md lists it). */
export class RTCClient extends Emitter<ClientEvents> {
  readonly options: ResolvedOptions;
  private state = new RoomState();
  private session: Session | null = null;
  private iceServers: WireICEServer[] | null = null;
  private ctx: ClientContext;
  private local: LocalMedia;
  private remote: RemoteMedia;
  private sampler = new StatsSampler();
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private endError: MiniRTCError | null = null;

  constructor(options: ClientOptions) {
    super();
    const o = options || ({} as ClientOptions);
    this.options = { ...DEFAULTS, ...stripUndefined(o), url: v.requireServerUrl(o.url) };
    this.ctx = {
      options: this.options,
      state: this.state,
      request: (op, data) => this.request(op, data),
      emit: (name, arg) => this.emit(name, arg),
      requireJoined: (op) => this.requireJoined(op),
      requireWebRTC: (op) => this.requireWebRTC(op),
      supportsWebRTC: () => this.supportsWebRTC(),
      isJoined: () => this.isJoined(),
      isConnected: () => this.getConnectionState() === 'connected',
    };
    this.local = new LocalMedia(this.ctx);
    this.remote = new RemoteMedia(this.ctx);
  }

  // ---- room ----

  async join(token: string, roomId: string): Promise<JoinResult> {
    if (typeof token !== 'string' || token === '') throw v.bad('token is required: the JWT your app server minted');
    v.requireId(roomId, 'room id');
    if (this.session && this.session.active) throw fail(ErrorCode.ALREADY_JOINED, 'already in room ' + this.session.roomId + '; leave() first');
    const session = new Session(this.options.url, this.options, {
      onJoined: (data) => this.load(data),
      onEvent: (name, data) => this.onEvent(name, data),
      onRejoined: (data) => this.onRejoined(data),
      onState: (state, previous) => this.onState(state, previous),
      onEnded: (error) => this.onEnded(error),
    });
    this.session = session;
    await session.join(token, roomId);
    this.startStats();
    return {
      room: copy(this.state.room!),
      self: copy(this.state.self!),
      users: this.state.remoteUsers(),
      streams: this.state.remoteStreams(),
    };
  }

  /** Leaves the room: closes every peer connection and releases camera and microphone. Safe to call twice. */
  async leave(): Promise<void> {
    if (!this.session || !this.session.active) return;
    this.local.clear();
    this.remote.clear();
    await this.session.leave();
  }

  // ---- publishing ----

  publish(options?: PublishOptions): Promise<LocalStream> {
    return this.local.publish(options);
  }

  unpublish(tag?: string): Promise<void> {
    return this.local.unpublish(tag);
  }

  openCamera(): Promise<void> {
    return this.local.setCamera(true);
  }

  closeCamera(): Promise<void> {
    return this.local.setCamera(false);
  }

  openMic(): Promise<void> {
    return this.local.setMic(true);
  }

  closeMic(): Promise<void> {
    return this.local.setMic(false);
  }

  /** False while you closed the camera, or the app server keeps it off. */
  isCameraOpen(): boolean {
    return this.local.cameraOn && !this.local.locked('video');
  }

  /** False while you closed the microphone, or the app server keeps it muted. */
  isMicOpen(): boolean {
    return this.local.micOn && !this.local.locked('audio');
  }

  /** True while the app server keeps your camera off (force_mute): openCamera() fails with 2006. */
  isCameraLocked(): boolean {
    return this.local.locked('video');
  }

  /** True while the app server keeps your microphone muted (force_mute): openMic() fails with 2006. */
  isMicLocked(): boolean {
    return this.local.locked('audio');
  }

  /** Your published stream of tag (default 'main'), with the MediaStream it sends. */
  getLocalStream(tag = 'main'): LocalStream | null {
    return this.local.localStream(tag);
  }

  getLocalStreams(): LocalStream[] {
    return this.local.all();
  }

  // ---- subscribing ----

  /** Subscribes over WebRTC; resolves when each stream's MediaStream is ready. */
  subscribe(streamIds: string | string[]): Promise<SubscribeResult> {
    return this.remote.subscribe(streamIds);
  }

  unsubscribe(streamIds: string | string[]): Promise<{ subscriptions: string[] }> {
    return this.remote.unsubscribe(streamIds);
  }

  /** The MediaStream of a subscribed remote stream, once ready. */
  getRemoteMediaStream(streamId: string): MediaStream | null {
    return this.remote.mediaStream(streamId);
  }

  /** Mutes (or unmutes) a remote stream's audio on this page only. */
  muteRemoteStream(streamId: string, muted = true): void {
    this.remote.muteRemoteStream(streamId, muted);
  }

  isRemoteStreamMuted(streamId: string): boolean {
    return this.remote.isRemoteStreamMuted(streamId);
  }

  // ---- attributes and messages ----

  async setAttributes(attributes: Record<string, string>, options?: { notify?: { name: string; content?: string } }): Promise<Record<string, string>> {
    v.requireStringMap(attributes, 'attributes');
    const notify = v.optionalNotify(options && options.notify);
    const data = await this.request<{ attributes: Record<string, string> }>('set_attributes', { attributes, notify });
    this.state.setAttributes(data.attributes);
    return { ...data.attributes };
  }

  async getAttributes(keys?: string[]): Promise<Record<string, string>> {
    if (keys !== undefined) v.requireStringList(keys, 'keys');
    const data = await this.request<{ attributes: Record<string, string> }>('get_attributes', { keys });
    return { ...data.attributes };
  }

  async deleteAttributes(keys: string[], options?: { notify?: { name: string; content?: string } }): Promise<Record<string, string>> {
    v.requireStringList(keys, 'keys');
    const notify = v.optionalNotify(options && options.notify);
    const data = await this.request<{ attributes: Record<string, string> }>('delete_attributes', { keys, notify });
    this.state.setAttributes(data.attributes);
    return { ...data.attributes };
  }

  /** Sends a message to the room or, with `to`, privately. Resolves with its id. */
  async sendMessage(name: string, content?: string, options?: { to?: string[] }): Promise<string> {
    v.requireString(name, 'message name');
    if (content !== undefined) v.requireString(content, 'message content', true);
    const to = options && options.to;
    if (to !== undefined) {
      if (!Array.isArray(to)) throw v.bad('to must be an array of user ids');
      to.forEach((u) => v.requireId(u, 'user id in to'));
    }
    const data = await this.request<{ message_id: string }>('send_message', { name, content: content || '', to });
    return data.message_id;
  }

  // ---- admin (tokens with the admin grant) ----

  async kick(userId: string, options?: { banSeconds?: number; reason?: string }): Promise<void> {
    v.requireId(userId, 'user id');
    const o = options || {};
    if (o.banSeconds !== undefined && (!Number.isInteger(o.banSeconds) || o.banSeconds < 0)) throw v.bad('banSeconds must be a whole number >= 0');
    if (o.reason !== undefined) v.requireString(o.reason, 'reason', true);
    await this.request('kick', { user: userId, ban_seconds: o.banSeconds, reason: o.reason });
  }

  async closeRoom(reason?: string): Promise<void> {
    if (reason !== undefined) v.requireString(reason, 'reason', true);
    await this.request('close_room', { reason });
  }

  /** The server's view of live streams (get_stream_stats): bitrates in, players, ... */
  async getStreamStats(streamIds?: string | string[]): Promise<Array<Record<string, unknown>>> {
    const streams = streamIds === undefined ? undefined : v.requireStreamIds(streamIds);
    const data = await this.request<{ stats?: Array<Record<string, unknown>> }>('get_stream_stats', { streams });
    return data.stats || [];
  }

  /** This browser's view: RTCPeerConnection.getStats() per stream sent and received. */
  async getStats(): Promise<StreamStats[]> {
    const jobs: Array<Promise<StreamStats | StreamStats[]>> = [];
    for (const s of this.local.all()) {
      const pub = this.local.publishers().find((p) => p.tag === s.tag);
      if (pub) jobs.push(this.sampler.sent(pub.pc, s.id, s.tag));
    }
    const down = this.remote.downlinkPc();
    if (down) jobs.push(this.sampler.received(down, this.remote.trackMap()));
    const results = await Promise.all(jobs);
    return results.flat();
  }

  // ---- getters ----

  isJoined(): boolean {
    return !!(this.session && this.session.active);
  }

  getConnectionState(): ConnectionState {
    return this.session ? this.session.state : 'disconnected';
  }

  getRoom(): Room | null {
    return this.isJoined() && this.state.room ? copy(this.state.room) : null;
  }

  getSelf(): User | null {
    return this.isJoined() && this.state.self ? copy(this.state.self) : null;
  }

  getRemoteUsers(): RemoteUser[] {
    return this.state.remoteUsers();
  }

  getRemoteUser(userId: string): RemoteUser | null {
    return this.state.remoteUsers().find((u) => u.userId === userId) || null;
  }

  getRemoteStreams(userId?: string): Stream[] {
    return this.state.remoteStreams(userId);
  }

  /** False when the server (its join answer has no `webrtc`) or the browser cannot do WebRTC. */
  supportsWebRTC(): boolean {
    return hasWebRTC() && this.iceServers !== null;
  }

  // ---- internals ----

  private requireJoined(op: string): void {
    if (!this.isJoined()) throw fail(ErrorCode.NOT_JOINED, op + ': join a room first');
  }

  private requireWebRTC(op: string): WireICEServer[] {
    if (!hasWebRTC()) throw fail(ErrorCode.NOT_SUPPORTED, op + ': this browser has no RTCPeerConnection');
    if (!this.iceServers) throw fail(ErrorCode.NOT_SUPPORTED, op + ': the server does not take WebRTC (its join answer has no webrtc)');
    return this.iceServers;
  }

  private request<T = Record<string, unknown>>(op: string, data?: unknown): Promise<T> {
    if (!this.session || !this.isJoined()) return Promise.reject(fail(ErrorCode.NOT_JOINED, op + ': join a room first'));
    return this.session.request<T>(op, data);
  }

  private load(data: JoinData): void {
    this.state.load(data);
    this.iceServers = data.webrtc ? data.webrtc.ice_servers || [] : null;
  }

  private onEvent(name: string, data: Record<string, unknown>): void {
    if (name === 'webrtc_offer' || name === 'webrtc_closed') {
      // The browser may refuse to build a peer connection at all (too many
      // open, a policy): report it rather than break event processing.
      try {
        if (name === 'webrtc_offer') this.remote.onOffer(data as unknown as WebRTCOfferEvent);
        else this.onWebRTCClosed(data as unknown as WebRTCClosedEvent);
      } catch (err) {
        this.emit('error', rtcFailure(name, err));
      }
      return;
    }
    if (name === 'force_mute') {
      // Sent to the owner only; the stream_state_changed that follows is
      // for everyone else's view.
      const out = this.local.onForceMute(data as unknown as ForceMuteData);
      if (out) this.emit('forceMute', out);
      return;
    }
    if (name === 'participant_updated') this.onParticipantUpdated(data as unknown as ParticipantUpdatedData);
    if (name === 'stream_unpublished') {
      const s = data.stream as WireStream;
      this.remote.onStreamGone(s.id);
      if (this.state.isOwn(s)) this.local.onOwnStreamEnded(s.id);
    } else if (name === 'user_left') {
      for (const s of this.state.remoteStreams(String(data.user_id))) this.remote.onStreamGone(s.id);
    }
    const out = this.state.apply(name, data);
    // Media-plane events reach the owner too (protocol.md §10); the stream
    // events of the API are about remote streams.
    const own = !!data.stream && this.state.isOwn(data.stream as WireStream);
    if (out && !own) this.emit(out[0], out[1] as never);
  }

  // A grant the app server took from us is gone on the server already
  // (protocol.md participant_updated): our streams were unpublished, our
  // subscriptions ended. Close what is left on this side to match.
  private onParticipantUpdated(ev: ParticipantUpdatedData): void {
    const self = this.state.self;
    const grants = ev.user && ev.user.grants;
    if (!self || !grants || ev.user.user_id !== self.userId) return;
    const had = self.grants || [];
    const lost = (g: string): boolean => had.includes(g) && !grants.includes(g);
    if (lost('publish')) this.local.onPublishRevoked();
    if (lost('subscribe')) this.remote.onSubscribeRevoked();
  }

  private onWebRTCClosed(ev: WebRTCClosedEvent): void {
    if (ev.target === DOWNLINK) this.remote.onClosed(ev.reason || '');
    else this.local.onClosed(ev.target, ev.reason || '');
  }

  // The old session is gone and a new one joined: tell the page what changed
  // while it was away, then publish and subscribe again (the server closed
  // every peer connection of the old session).
  private onRejoined(data: JoinData): void {
    const before = { users: this.state.users, streams: this.state.streams };
    this.load(data);
    const after = this.state;
    const selfId = after.self!.userId;
    for (const [id, s] of before.streams) {
      if (after.streams.has(id)) continue;
      this.remote.onStreamGone(id);
      if (s.userId !== selfId) this.emit('streamUnpublished', copy(s));
    }
    for (const id of before.users.keys()) if (!after.users.has(id)) this.emit('userLeft', { userId: id, reason: 'timeout' });
    for (const [id, u] of after.users) if (!before.users.has(id)) this.emit('userJoined', copy(u));
    for (const [id, s] of after.streams) if (!before.streams.has(id) && s.userId !== selfId) this.emit('streamPublished', copy(s));
    this.local.republishAll();
    this.remote.resubscribeAll('joined again');
  }

  private onState(state: ConnectionState, previous: ConnectionState): void {
    const change: ClientEvents['connectionStateChanged'] = { state, previous };
    if (state === 'disconnected' && this.endError) change.error = this.endError;
    this.endError = null;
    this.emit('connectionStateChanged', change);
  }

  // The session is over (left, kicked, replaced, room closed, gave up).
  private onEnded(error: MiniRTCError | null): void {
    clearInterval(this.statsTimer);
    this.local.clear();
    this.remote.clear();
    this.state.reset();
    this.iceServers = null;
    this.endError = error;
  }

  private startStats(): void {
    clearInterval(this.statsTimer);
    if (!(this.options.statsInterval > 0)) return;
    this.statsTimer = setInterval(() => void this.sampleStats(), this.options.statsInterval);
  }

  private async sampleStats(): Promise<void> {
    if (!this.local.publishers().length && !this.remote.downlinkPc()) return;
    let stats: StreamStats[];
    try {
      stats = await this.getStats();
    } catch (err) {
      console.warn('[minirtc] getStats failed', err);
      return;
    }
    if (!stats.length) return;
    this.emit('stats', stats);
    // Reports are for later analysis (minirtc report list): skip them while
    // disconnected rather than queue them.
    if (!this.options.reportStats || this.getConnectionState() !== 'connected') return;
    for (const s of stats) {
      this.request('report', { kind: 'webrtc_' + s.direction, stream: s.streamId, data: s }).catch(() => {});
    }
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, val] of Object.entries(o)) if (val !== undefined) (out as Record<string, unknown>)[k] = val;
  return out;
}

'use strict';

const { Emitter } = require('./emitter');
const { Session } = require('./session');
const { RoomState } = require('./room-state');
const { LocalMedia } = require('./local-media');
const { RemoteMedia } = require('./remote-media');
const { Reporter } = require('./reporter');
const registry = require('./registry');
const { ErrorCode, fail } = require('./errors');
const v = require('./validate');

const DEFAULT_OPTIONS = {
  componentTimeout: 3000, // how long publish/subscribe wait for their component to attach
  requestTimeout: 10000,
  connectTimeout: 10000,
  reconnectTimeout: 120000,
  reportInterval: 5000, // net status reports per component, at most one per this
};

function copy(obj) {
  return obj === null || obj === undefined ? obj : JSON.parse(JSON.stringify(obj));
}

// A participant in one room: the SDK's public API (README.md lists it).
class RTCClient extends Emitter {
  constructor(options) {
    super();
    const o = options || {};
    this.url = v.requireServerUrl(o.url);
    this.options = Object.assign({}, DEFAULT_OPTIONS, o);
    this.state = new RoomState();
    this.session = null;
    this.local = new LocalMedia(this);
    this.remote = new RemoteMedia(this);
    this.reporter = new Reporter(this);
  }

  // ---- room ----

  async join(token, roomId) {
    if (typeof token !== 'string' || token === '') throw v.bad('token is required: the JWT your app server minted');
    v.requireId(roomId, 'room id');
    if (this.session && this.session.active) throw fail(ErrorCode.ALREADY_JOINED, 'already in room ' + this.session.roomId + '; leave() first');
    const session = new Session(this.url, this.options, {
      onJoined: (data) => this.state.load(data),
      onEvent: (name, data) => this._onEvent(name, data),
      onRejoined: (data) => this._onRejoined(data),
      onState: (state, previous) => this._onState(state, previous),
      onEnded: (error) => this._onEnded(error),
    });
    this.session = session;
    registry.addSink(this);
    try {
      await session.join(token, roomId);
    } catch (err) {
      registry.removeSink(this);
      throw err;
    }
    return {
      room: copy(this.state.room),
      self: copy(this.state.self),
      users: this.state.remoteUsers(),
      streams: this.state.remoteStreams(),
    };
  }

  async leave() {
    if (!this.session || !this.session.active) return;
    this.local.clear();
    this.remote.clear();
    await this.session.leave();
  }

  // ---- publishing ----

  publish(options) {
    return this.local.publish(options);
  }

  unpublish(tag) {
    return this.local.unpublish(tag);
  }

  openCamera() {
    return this.local.setCamera(true);
  }

  closeCamera() {
    return this.local.setCamera(false);
  }

  openMic() {
    return this.local.setMic(true);
  }

  closeMic() {
    return this.local.setMic(false);
  }

  isCameraOpen() {
    return this.local.cameraOn && !this.local.cameraLocked();
  }

  isMicOpen() {
    return this.local.micOn && !this.local.micLocked();
  }

  // True while the app server keeps the camera (microphone) of one of your
  // streams off (force_mute): openCamera() (openMic()) is refused with 2006.
  isCameraLocked() {
    return this.local.cameraLocked();
  }

  isMicLocked() {
    return this.local.micLocked();
  }

  switchCamera() {
    return this.local.contextCall('switchCamera');
  }

  startPreview() {
    return this.local.contextCall('startPreview');
  }

  stopPreview() {
    return this.local.contextCall('stopPreview');
  }

  // ---- subscribing ----

  subscribe(streamIds, options) {
    return this.remote.subscribe(streamIds, options);
  }

  unsubscribe(streamIds) {
    return this.remote.unsubscribe(streamIds);
  }

  // Mutes (or unmutes) a remote stream's audio on this device only.
  muteRemoteStream(streamId, muted) {
    return this.remote.muteRemoteStream(streamId, muted === undefined ? true : muted);
  }

  setAudioOutput(mode) {
    return this.remote.setAudioOutput(mode);
  }

  // ---- attributes and messages ----

  async setAttributes(attributes, options) {
    v.requireStringMap(attributes, 'attributes');
    const notify = v.optionalNotify(options && options.notify);
    const data = await this._request('set_attributes', { attributes, notify });
    this.state.setAttributes(data.attributes);
    return Object.assign({}, data.attributes);
  }

  async getAttributes(keys) {
    if (keys !== undefined) v.requireStringList(keys, 'keys');
    const data = await this._request('get_attributes', { keys });
    return Object.assign({}, data.attributes);
  }

  async deleteAttributes(keys, options) {
    v.requireStringList(keys, 'keys');
    const notify = v.optionalNotify(options && options.notify);
    const data = await this._request('delete_attributes', { keys, notify });
    this.state.setAttributes(data.attributes);
    return Object.assign({}, data.attributes);
  }

  async sendMessage(name, content, options) {
    v.requireString(name, 'message name');
    if (content !== undefined) v.requireString(content, 'message content', true);
    const to = options && options.to;
    if (to !== undefined) {
      if (!Array.isArray(to)) throw v.bad('to must be an array of user ids');
      to.forEach((u) => v.requireId(u, 'user id in to'));
    }
    const data = await this._request('send_message', { name, content: content || '', to });
    return data.message_id;
  }

  // ---- admin (tokens with the admin grant) ----

  async kick(userId, options) {
    v.requireId(userId, 'user id');
    const o = options || {};
    if (o.banSeconds !== undefined && (!Number.isInteger(o.banSeconds) || o.banSeconds < 0)) throw v.bad('banSeconds must be a whole number >= 0');
    if (o.reason !== undefined) v.requireString(o.reason, 'reason', true);
    await this._request('kick', { user: userId, ban_seconds: o.banSeconds, reason: o.reason });
  }

  async closeRoom(reason) {
    if (reason !== undefined) v.requireString(reason, 'reason', true);
    await this._request('close_room', { reason });
  }

  async getStreamStats(streamIds) {
    const streams = streamIds === undefined ? undefined : v.requireStreamIds(streamIds);
    const data = await this._request('get_stream_stats', { streams });
    return data.stats || [];
  }

  // ---- getters ----

  isJoined() {
    return !!(this.session && this.session.active);
  }

  getConnectionState() {
    return this.session ? this.session.state : 'disconnected';
  }

  getRoom() {
    return this.isJoined() ? copy(this.state.room) : null;
  }

  getSelf() {
    return this.isJoined() ? copy(this.state.self) : null;
  }

  getRemoteUsers() {
    return this.state.remoteUsers();
  }

  getRemoteUser(userId) {
    return this.state.remoteUsers().filter((u) => u.userId === userId)[0] || null;
  }

  getRemoteStreams(userId) {
    return this.state.remoteStreams(userId);
  }

  // ---- internals ----

  _requireJoined(op) {
    if (!this.isJoined()) throw fail(ErrorCode.NOT_JOINED, op + ': join a room first');
  }

  _request(op, data, timeoutMs) {
    if (!this.isJoined()) return Promise.reject(fail(ErrorCode.NOT_JOINED, op + ': join a room first'));
    return this.session.request(op, data, timeoutMs);
  }

  _onEvent(name, data) {
    if (name === 'force_mute') {
      // Sent to the owner only; the stream_state_changed that follows is
      // for everyone else's view.
      const out = this.local.onForceMute(data);
      if (out) this.emit('forceMute', out);
      return;
    }
    if (name === 'participant_updated') this._onParticipantUpdated(data);
    if (name === 'stream_unpublished') {
      this.remote.onStreamGone(data.stream.id);
      if (this.state.self && data.stream.user_id === this.state.self.userId) this.local.onOwnStreamEnded(data.stream.id);
    } else if (name === 'user_left') {
      for (const s of this.state.remoteStreams(data.user_id)) this.remote.onStreamGone(s.id);
    }
    const out = this.state.apply(name, data);
    // Media-plane events reach the owner too (protocol.md §10); the stream
    // events of the API are about remote streams. The owner learns that its
    // media flows from its pusher's state codes.
    const own = data.stream && this.state.self && data.stream.user_id === this.state.self.userId;
    if (out && !own) this.emit(out[0], out[1]);
  }

  // A grant the app server took from us is already gone on the server
  // (protocol.md participant_updated): our streams were unpublished, our
  // subscriptions ended. Stop the pushers and players to match.
  _onParticipantUpdated(data) {
    const self = this.state.self;
    const user = data.user;
    if (!self || !user || user.user_id !== self.userId || !Array.isArray(user.grants)) return;
    const had = self.grants || [];
    const lost = (g) => had.indexOf(g) >= 0 && user.grants.indexOf(g) < 0;
    if (lost('publish')) this.local.onPublishRevoked();
    if (lost('subscribe')) this.remote.onSubscribeRevoked();
  }

  // The old session is gone and a new one joined: tell the page what changed
  // while it was away, then publish and subscribe again.
  _onRejoined(data) {
    const before = { users: this.state.users, streams: this.state.streams };
    this.state.load(data);
    const after = this.state;
    for (const [id, s] of before.streams) if (!after.streams.has(id)) this._onStreamVanished(s);
    for (const [id] of before.users) if (!after.users.has(id)) this.emit('userLeft', { userId: id, reason: 'timeout' });
    for (const [id, u] of after.users) if (!before.users.has(id)) this.emit('userJoined', copy(u));
    for (const [id, s] of after.streams) if (!before.streams.has(id) && s.userId !== after.self.userId) this.emit('streamPublished', copy(s));
    this.local.republishAll();
    this.remote.resubscribeAll();
  }

  _onStreamVanished(stream) {
    this.remote.onStreamGone(stream.id);
    if (stream.userId !== this.state.self.userId) this.emit('streamUnpublished', copy(stream));
  }

  _onState(state, previous) {
    const change = { state, previous };
    if (state === 'disconnected' && this._endError) change.error = this._endError;
    this._endError = null;
    this.emit('connectionStateChanged', change);
  }

  // The session is over (left, kicked, replaced, room closed, gave up): stop
  // the components and forget the room.
  _onEnded(error) {
    this.local.clear();
    this.remote.clear();
    registry.removeSink(this);
    this.state.reset();
    this._endError = error;
  }

  // Called by the registry for every component event.
  // Only events of the components this client filled count: another client
  // (another page, another room) may use a pusher with the same tag.
  onComponentEvent(kind, key, type, detail, component) {
    if (!this.isJoined()) return;
    const mine = kind === 'pusher' ? this.local.pusherOf(key) === component : this.remote.playerOf(key) === component;
    if (!mine) return;
    this.reporter.onComponentEvent(kind, key, type, detail, component);
    if (kind === 'pusher') this.local.onPusherEvent(key, type, detail, component);
    else this.remote.onPlayerEvent(key, type, detail, component);
  }

  onComponentAttached(kind, key, component) {
    if (kind === 'player' && this.isJoined()) this.remote.onPlayerAttached(key, component);
  }
}

module.exports = { RTCClient };

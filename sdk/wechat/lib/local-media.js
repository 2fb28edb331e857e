'use strict';

const registry = require('./registry');
const { platform } = require('./platform');
const { ErrorCode, MiniRTCError, fail } = require('./errors');
const v = require('./validate');

// live-pusher codes after which it will not recover by itself: -1307 (gave up
// reconnecting) and 3004 (the server closed the push). A fresh URL is needed.
const PUSHER_GAVE_UP = [-1307, 3004];
const PUSH_STARTED = 1002;
// At most this many automatic re-publishes of one tag per minute.
const MAX_REPUBLISH_PER_MINUTE = 5;
// Re-publish this long before an unused push URL expires.
const EXPIRY_MARGIN_MS = 5000;
// The server's code for a permission it refuses, also for unmuting what the
// app server muted (docs/protocol.md "mute"): the SDK refuses such an unmute
// with it before asking.
const PERMISSION_DENIED = 2006;

function hasVideo(mediaType) {
  return mediaType !== 'audio';
}
function hasAudio(mediaType) {
  return mediaType !== 'video';
}

// The client's own streams: publish, fill <rtc-pusher>, camera and mic, and
// getting a fresh push URL when the old one cannot be used any more.
class LocalMedia {
  constructor(client) {
    this.client = client;
    this.streams = new Map(); // tag -> entry
    // The user's choices (openMic/closeMic ...). What a pusher does is the
    // choice unless the app server locked the stream (force_mute).
    this.cameraOn = true;
    this.micOn = true;
  }

  async publish(options) {
    const o = options || {};
    const tag = o.tag === undefined ? 'main' : v.requireId(o.tag, 'tag');
    const mediaType = o.mediaType === undefined ? 'audio_video' : v.requireOneOf(o.mediaType, ['audio', 'video', 'audio_video'], 'mediaType');
    this.client._requireJoined('publish');
    if (!platform.canPush()) throw fail(ErrorCode.NOT_SUPPORTED, platform.name() + ' mini-programs cannot publish: no live-pusher');
    const pusher = await this._pusher(tag);
    // Publishing a tag twice goes to the server anyway, so that its own 3004
    // reaches the caller unchanged; the existing stream is left as it is.
    const existing = this.streams.get(tag);
    const entry = existing || { tag, mediaType, streamId: '', pushUrl: '', expiresAt: 0, pushing: false, pusher: null, republishing: null, republishedAt: [], timer: null, audioLocked: false, videoLocked: false };
    // Known before the pusher starts, so that its first state codes find it.
    if (!existing) this.streams.set(tag, entry);
    try {
      await this._publish(entry, pusher);
    } catch (err) {
      if (!existing && this.streams.get(tag) === entry) this.streams.delete(tag);
      throw err;
    }
    return this._describe(entry);
  }

  async unpublish(tag) {
    tag = tag === undefined ? 'main' : v.requireId(tag, 'tag');
    this.client._requireJoined('unpublish');
    const entry = this.streams.get(tag);
    // Forget the stream first: the pusher reports 3004 when the server closes
    // the push, and that must not trigger a re-publish.
    this.streams.delete(tag);
    if (entry) this._stop(entry);
    await this.client._request('unpublish', { tag });
  }

  async setCamera(on) {
    if (on) this._refuseLocked('videoLocked', 'video', 'openCamera');
    this.cameraOn = on;
    await this._applyDevices();
    await this._sendMute((e) => hasVideo(e.mediaType), { video_disabled: !on });
  }

  async setMic(on) {
    if (on) this._refuseLocked('audioLocked', 'audio', 'openMic');
    this.micOn = on;
    await this._applyDevices();
    await this._sendMute((e) => hasAudio(e.mediaType), { audio_muted: !on });
  }

  // True while the app server keeps the microphone (camera) of one of our
  // streams off.
  micLocked() {
    return this._locked('audioLocked');
  }

  cameraLocked() {
    return this._locked('videoLocked');
  }

  _locked(field) {
    for (const e of this.streams.values()) if (e[field]) return true;
    return false;
  }

  // Unmuting what the app server muted is refused, as the server would
  // (2006), and changes nothing: the user's choice stays as it was.
  _refuseLocked(field, what, op) {
    for (const e of this.streams.values()) {
      if (e[field]) throw fail(PERMISSION_DENIED, op + ': the app server muted the ' + what + ' of stream ' + e.streamId + ' (' + field + '); it must unmute it first');
    }
  }

  // force_mute (docs/protocol.md): the app server muted or unmuted one of our
  // streams. Comply at once: the pusher's microphone / camera follows the
  // lock. After an unmute the device comes back only if the user had not
  // turned it off; if they had, the server (which just unmuted the stream)
  // is told the user's choice again. Returns the forceMute event's payload,
  // or null for a stream this client does not publish.
  onForceMute(d) {
    const st = d.stream || {};
    let entry = null;
    for (const e of this.streams.values()) if (e.streamId === st.id) entry = e;
    if (!entry) return null;
    entry.audioLocked = !!st.audio_locked;
    entry.videoLocked = !!st.video_locked;
    if (entry.pusher) {
      entry.pusher.minirtcSetDevices(this._devicesFor(entry)).catch((err) => this.client.emit('error', err));
    }
    const restore = {};
    if (d.audio_muted === false && !this.micOn) restore.audio_muted = true;
    if (d.video_disabled === false && !this.cameraOn) restore.video_disabled = true;
    if (Object.keys(restore).length && this.client.isJoined()) {
      this.client._request('mute', Object.assign({ tag: entry.tag }, restore)).catch((err) => this.client.emit('error', err));
    }
    const out = { streamId: entry.streamId, tag: entry.tag, audioLocked: entry.audioLocked, videoLocked: entry.videoLocked };
    if (typeof d.audio_muted === 'boolean') out.audioMuted = d.audio_muted;
    if (typeof d.video_disabled === 'boolean') out.videoDisabled = d.video_disabled;
    return out;
  }

  // The app server took the publish grant away: it has unpublished our
  // streams already (stream_unpublished came first). Stop the pushers and
  // forget the streams, so that nothing publishes them again.
  onPublishRevoked() {
    this.clear();
  }

  // Calls a live-pusher context method (switchCamera, startPreview, ...).
  async contextCall(method) {
    const pusher = this.pusherOf(this._mainTag()) || (await this._pusher(this._mainTag()));
    const ctx = pusher.minirtcContext();
    return new Promise((resolve, reject) => {
      ctx[method]({
        success: () => resolve(),
        fail: (err) => reject(fail(ErrorCode.NOT_SUPPORTED, method + ' failed: ' + ((err && err.errMsg) || 'unknown'), err)),
      });
    });
  }

  // The pusher this client filled for tag, or null.
  pusherOf(tag) {
    const entry = this.streams.get(tag);
    return entry ? entry.pusher : null;
  }

  onPusherEvent(tag, type, detail, component) {
    const entry = this.streams.get(tag);
    if (!entry || entry.pusher !== component || type !== 'state') return;
    if (detail.code === PUSH_STARTED) entry.pushing = true;
    if (PUSHER_GAVE_UP.indexOf(detail.code) >= 0) this.republish(tag, 'live-pusher reported ' + detail.code);
  }

  // Our own stream ended on the server (its push stopped for longer than the
  // grace): publish it again so that the pusher has somewhere to push.
  onOwnStreamEnded(streamId) {
    for (const entry of this.streams.values()) {
      if (entry.streamId === streamId) this.republish(entry.tag, 'the server ended the stream');
    }
  }

  // Gets a fresh push URL for tag and gives it to its <rtc-pusher>. Runs once
  // at a time per tag; failures are reported as an 'error' event.
  republish(tag, reason) {
    const entry = this.streams.get(tag);
    if (!entry || entry.republishing || this.client.getConnectionState() !== 'connected') return null;
    const now = Date.now();
    entry.republishedAt = entry.republishedAt.filter((t) => now - t < 60000);
    if (entry.republishedAt.length >= MAX_REPUBLISH_PER_MINUTE) {
      this.client.emit('error', fail(ErrorCode.TOO_MANY_REQUESTS, 'stream ' + entry.streamId + ' failed ' + MAX_REPUBLISH_PER_MINUTE + ' times within a minute; not re-publishing (last: ' + reason + ')'));
      return null;
    }
    entry.republishedAt.push(now);
    entry.republishing = (async () => {
      this._stop(entry);
      try {
        await this.client._request('unpublish', { tag });
      } catch (err) {
        if (!(err instanceof MiniRTCError) || err.code !== 3005) throw err; // 3005: already gone
      }
      // Unpublished or revoked (participant_updated) meanwhile.
      if (this.streams.get(tag) !== entry) return;
      await this._publish(entry, entry.pusher || (await this._pusher(tag)));
      this.client.emit('streamRepublished', Object.assign(this._describe(entry), { reason }));
    })()
      .catch((err) => {
        if (this.streams.get(tag) === entry) this.client.emit('error', err);
      })
      .then(() => {
        entry.republishing = null;
      });
    return entry.republishing;
  }

  // After the session was lost and joined again (docs/protocol.md §7.5) the
  // new session has no streams: publish every one again.
  republishAll() {
    for (const entry of this.streams.values()) {
      entry.republishing = null;
      entry.republishedAt = [];
      this._stop(entry);
      this._publish(entry, entry.pusher || registry.find('pusher', entry.tag))
        .then(() => this.client.emit('streamRepublished', Object.assign(this._describe(entry), { reason: 'joined again' })))
        .catch((err) => this.client.emit('error', err));
    }
  }

  // The session is over: stop every pusher.
  clear() {
    for (const entry of this.streams.values()) this._stop(entry);
    this.streams.clear();
  }

  streamIdOf(tag) {
    const entry = this.streams.get(tag);
    return entry ? entry.streamId : '';
  }

  async _publish(entry, pusher) {
    if (!pusher) throw fail(ErrorCode.COMPONENT_MISSING, 'no <rtc-pusher tag="' + entry.tag + '"> on the page');
    const data = await this.client._request('publish', { tag: entry.tag, media: entry.mediaType });
    entry.streamId = data.stream.id;
    entry.pushUrl = data.push_url;
    entry.expiresAt = data.push_url_expires_at;
    entry.pushing = false;
    // The app server's locks outlive the stream: a stream published again
    // comes back muted (docs/api.md).
    entry.audioLocked = !!data.stream.audio_locked;
    entry.videoLocked = !!data.stream.video_locked;
    const mute = {};
    if (hasVideo(entry.mediaType) && !this.cameraOn) mute.video_disabled = true;
    if (hasAudio(entry.mediaType) && !this.micOn) mute.audio_muted = true;
    // A pending stream's mute state is announced with stream_published.
    if (Object.keys(mute).length) await this.client._request('mute', Object.assign({ tag: entry.tag }, mute));
    // The page may have re-rendered the pusher while we waited for the server.
    pusher = registry.find('pusher', entry.tag) || pusher;
    entry.pusher = pusher;
    await pusher.minirtcSetDevices(this._devicesFor(entry));
    await pusher.minirtcSetUrl(entry.pushUrl);
    this._watchExpiry(entry);
  }

  // A push URL only admits pushes that start before it expires (media.md §4.4).
  _watchExpiry(entry) {
    clearTimeout(entry.timer);
    const wait = Math.max(0, entry.expiresAt - Date.now() - EXPIRY_MARGIN_MS);
    entry.timer = setTimeout(() => {
      if (!entry.pushing && this.streams.get(entry.tag) === entry) this.republish(entry.tag, 'the push URL expired before pushing started');
    }, wait);
  }

  _stop(entry) {
    clearTimeout(entry.timer);
    if (entry.pusher) entry.pusher.minirtcSetUrl('');
  }

  async _pusher(tag) {
    const pusher = await registry.waitFor('pusher', tag, this.client.options.componentTimeout);
    if (!pusher) throw fail(ErrorCode.COMPONENT_MISSING, 'no <rtc-pusher tag="' + tag + '"> on the page');
    return pusher;
  }

  _mainTag() {
    return this.streams.size ? this.streams.keys().next().value : 'main';
  }

  // What the pusher of entry (a stream, or {mediaType} before publishing)
  // must do: the user's choice, unless the app server locked it off.
  _devicesFor(entry) {
    return {
      cameraOn: hasVideo(entry.mediaType) && this.cameraOn && !entry.videoLocked,
      micOn: hasAudio(entry.mediaType) && this.micOn && !entry.audioLocked,
    };
  }

  async _applyDevices() {
    // The pushers of our streams; before publishing, every pusher on the page.
    const ours = Array.from(this.streams.values()).map((e) => e.pusher).filter(Boolean);
    const pushers = ours.length ? ours : registry.all('pusher');
    if (!pushers.length) throw fail(ErrorCode.COMPONENT_MISSING, 'no <rtc-pusher> on the page');
    await Promise.all(pushers.map((p) => {
      const entry = this.streams.get(p.data.tag);
      return p.minirtcSetDevices(this._devicesFor(entry || { mediaType: 'audio_video' }));
    }));
  }

  async _sendMute(applies, fields) {
    if (!this.client.isJoined()) return;
    const jobs = [];
    for (const entry of this.streams.values()) {
      if (applies(entry)) jobs.push(this.client._request('mute', Object.assign({ tag: entry.tag }, fields)));
    }
    await Promise.all(jobs);
  }

  _describe(entry) {
    return { id: entry.streamId, tag: entry.tag, mediaType: entry.mediaType, pushUrl: entry.pushUrl, pushUrlExpiresAt: entry.expiresAt };
  }
}

module.exports = { LocalMedia };

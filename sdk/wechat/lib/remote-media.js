'use strict';

const registry = require('./registry');
const { ErrorCode, fail } = require('./errors');
const v = require('./validate');

// live-player codes after which it will not recover with the same src:
// -2301 (gave up reconnecting) and 3005 (RTMP read/write failed). The play URL
// may have expired, or the subscription may be gone: subscribe again.
const PLAYER_GAVE_UP = [-2301, 3005];
const MAX_RESUBSCRIBE_PER_MINUTE = 5;

function toUrls(u) {
  return { rtmp: u.rtmp, flv: u.flv, expiresAt: u.expires_at };
}

// Subscriptions to others' streams: subscribe, fill <rtc-player>, local mute,
// audio output, and fresh play URLs when a player gives up.
class RemoteMedia {
  constructor(client) {
    this.client = client;
    this.subs = new Map(); // streamId -> {streamId, protocol, src, resubscribing, resubscribedAt}
    this.localMuted = new Map(); // streamId -> bool
    this.audioOutput = '';
  }

  async subscribe(streamIds, options) {
    const ids = v.requireStreamIds(streamIds);
    const o = options || {};
    const protocol = o.protocol === undefined ? 'rtmp' : v.requireOneOf(o.protocol, ['rtmp', 'flv'], 'protocol');
    this.client._requireJoined('subscribe');
    const unknown = ids.filter((id) => !this.client.state.hasStream(id));
    if (unknown.length) {
      throw fail(ErrorCode.UNKNOWN_STREAM, 'not published in this room (wait for streamPublished): ' + unknown.join(', '));
    }
    const timeout = this.client.options.componentTimeout;
    const players = await Promise.all(ids.map((id) => registry.waitFor('player', id, timeout)));
    const missing = ids.filter((id, i) => !players[i]);
    if (missing.length) {
      throw fail(ErrorCode.COMPONENT_MISSING, 'no <rtc-player stream-id="…"> on the page for ' + missing.join(', '));
    }
    const data = await this.client._request('subscribe', { streams: ids });
    const urls = {};
    await Promise.all(ids.map((id, i) => {
      const u = data.urls[id];
      urls[id] = toUrls(u);
      const prev = this.subs.get(id);
      const sub = { streamId: id, protocol, src: u[protocol], player: null, resubscribing: null, resubscribedAt: prev ? prev.resubscribedAt : [] };
      this.subs.set(id, sub);
      // The page may have re-rendered the player while we waited for the
      // server: fill the one attached now.
      return this._fill(registry.find('player', id) || players[i], sub);
    }));
    return { subscriptions: data.subscriptions.slice(), urls };
  }

  async unsubscribe(streamIds) {
    const ids = v.requireStreamIds(streamIds);
    this.client._requireJoined('unsubscribe');
    for (const id of ids) this._drop(id);
    const data = await this.client._request('unsubscribe', { streams: ids });
    return { subscriptions: data.subscriptions.slice() };
  }

  async muteRemoteStream(streamId, muted) {
    v.requireStreamIds(streamId);
    this.localMuted.set(streamId, !!muted);
    const player = registry.find('player', streamId);
    if (!player) throw fail(ErrorCode.COMPONENT_MISSING, 'no <rtc-player stream-id="' + streamId + '"> on the page');
    await player.minirtcSet({ localMuted: !!muted });
  }

  async setAudioOutput(mode) {
    this.audioOutput = v.requireOneOf(mode, ['speaker', 'ear'], 'audio output');
    await Promise.all(registry.all('player').map((p) => p.minirtcSet({ audioOutput: mode })));
  }

  // A player attached after subscribe() (the page re-rendered its list) gets
  // what the client knows for its stream.
  onPlayerAttached(streamId, player) {
    const patch = {};
    if (this.audioOutput) patch.audioOutput = this.audioOutput;
    if (this.localMuted.has(streamId)) patch.localMuted = this.localMuted.get(streamId);
    if (Object.keys(patch).length) player.minirtcSet(patch);
    const sub = this.subs.get(streamId);
    if (sub && player.minirtcSrc() !== sub.src) {
      sub.player = player;
      player.minirtcSetSrc(sub.src);
    }
  }

  // The player this client filled for streamId, or null.
  playerOf(streamId) {
    const sub = this.subs.get(streamId);
    return sub ? sub.player : null;
  }

  onPlayerEvent(streamId, type, detail, component) {
    if (type === 'state' && PLAYER_GAVE_UP.indexOf(detail.code) >= 0 && this.playerOf(streamId) === component) {
      this.resubscribe(streamId, 'live-player reported ' + detail.code);
    }
  }

  // The stream ended: the server dropped the subscription and closed players.
  onStreamGone(streamId) {
    this._drop(streamId);
    this.localMuted.delete(streamId);
  }

  resubscribe(streamId, reason) {
    const sub = this.subs.get(streamId);
    if (!sub || sub.resubscribing || this.client.getConnectionState() !== 'connected') return null;
    const now = Date.now();
    sub.resubscribedAt = sub.resubscribedAt.filter((t) => now - t < 60000);
    if (sub.resubscribedAt.length >= MAX_RESUBSCRIBE_PER_MINUTE) {
      this.client.emit('error', fail(ErrorCode.TOO_MANY_REQUESTS, 'player of ' + streamId + ' failed ' + MAX_RESUBSCRIBE_PER_MINUTE + ' times within a minute; not subscribing again (last: ' + reason + ')'));
      return null;
    }
    sub.resubscribedAt.push(now);
    sub.resubscribing = (async () => {
      const data = await this.client._request('subscribe', { streams: [streamId] });
      if (this.subs.get(streamId) !== sub) return; // unsubscribed meanwhile
      sub.src = data.urls[streamId][sub.protocol];
      const player = sub.player || registry.find('player', streamId);
      if (player) await this._fill(player, sub);
      this.client.emit('streamResubscribed', { streamId, src: sub.src, reason });
    })()
      .catch((err) => {
        if (this.subs.get(streamId) === sub) this.client.emit('error', err);
      })
      .then(() => {
        sub.resubscribing = null;
      });
    return sub.resubscribing;
  }

  // After joining again the new session has no subscriptions.
  resubscribeAll() {
    for (const id of Array.from(this.subs.keys())) {
      if (!this.client.state.hasStream(id)) {
        this._drop(id);
        continue;
      }
      const sub = this.subs.get(id);
      sub.resubscribing = null;
      sub.resubscribedAt = [];
      this.resubscribe(id, 'joined again');
    }
  }

  // The app server took the subscribe grant away: the server ended every
  // subscription and closed the players; stop ours and forget them.
  onSubscribeRevoked() {
    for (const id of Array.from(this.subs.keys())) this._drop(id);
  }

  clear() {
    for (const id of Array.from(this.subs.keys())) this._drop(id);
    this.localMuted.clear();
  }

  async _fill(player, sub) {
    const patch = {};
    if (this.audioOutput) patch.audioOutput = this.audioOutput;
    if (this.localMuted.has(sub.streamId)) patch.localMuted = this.localMuted.get(sub.streamId);
    if (Object.keys(patch).length) await player.minirtcSet(patch);
    sub.player = player;
    await player.minirtcSetSrc(sub.src);
  }

  _drop(streamId) {
    const sub = this.subs.get(streamId);
    this.subs.delete(streamId);
    const player = sub && sub.player;
    if (player && player.minirtcSrc()) player.minirtcSetSrc('');
  }
}

module.exports = { RemoteMedia };

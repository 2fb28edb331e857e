'use strict';

const { Connection, serverError } = require('./connection');
const { platform } = require('./platform');
const { ErrorCode, MiniRTCError, fail } = require('./errors');

// Server codes after which joining again cannot succeed by itself
// (docs/protocol.md §12): a bad token, a ban, a full room, a closed room.
const FATAL_JOIN_CODES = [1003, 1008, 2001, 2002, 2003, 2004, 2005, 2007, 3001, 3002, 3009];

// Close codes that end the session for good (docs/protocol.md §13).
const ENDING_CLOSE_CODES = [1000, 4001, 4002, 4004];

const DEFAULTS = {
  connectTimeout: 10000,
  requestTimeout: 10000,
  maxPending: 64, // the server caches 64 responses: more in flight could not be retried safely
  reconnectTimeout: 120000, // give up reconnecting after this long
  backoffMin: 250,
  backoffMax: 5000,
  probeTimeout: 3000, // a ping after app show / network change must be answered within this
};

// A session of the signalling protocol (docs/protocol.md §7): join, event
// numbering, pings, reconnect + resume, re-sending unanswered requests, and
// joining again when the session is gone.
//
// hooks (all synchronous):
//   onJoined(data)          join answered; runs before the session's first event
//   onEvent(name, data)     every event, once, in order
//   onRejoined(data)        the session was lost and a new one joined
//   onState(state, prev)    'connecting' | 'connected' | 'reconnecting' | 'disconnected'
//   onEnded(error|null)     the session is over (null after leave)
class Session {
  constructor(url, options, hooks) {
    this.url = url;
    this.opts = Object.assign({}, DEFAULTS, options || {});
    this.hooks = hooks;
    this.state = 'disconnected';
    this.active = false; // between join and the end of the session
    this.conn = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {id, op, data, resolve, reject, timer}
    this.lastSeq = 0;
    this.resumeToken = null;
    this.pingIntervalMs = 5000;
    this.ending = null; // the kicked_off / room_closed event that announced the end
    this.leaving = false;
    this.retryAfterMs = 0;
    this.reconnecting = false;
    this.reconnectStartedAt = 0;
    this.attempt = 0;
    this.timers = { ping: null, reconnect: null };
    this.unwatch = [];
    this.hiddenAt = 0;
  }

  async join(token, roomId) {
    this.token = token;
    this.roomId = roomId;
    this.active = true;
    this.ending = null;
    this.leaving = false;
    this._setState('connecting');
    let conn = null;
    try {
      conn = await this._open();
      await conn.request(this._id(), 'join', { token, room: roomId, protocol: 1 }, this.opts.requestTimeout, (data) => {
        this._adopt(conn, data, true);
        this.hooks.onJoined(data);
      });
      this._watchHost();
    } catch (err) {
      if (conn) conn.close(1000, 'join failed');
      this.conn = null;
      this.active = false;
      this._stopTimers();
      this._setState('disconnected');
      throw err;
    }
  }

  // Sends a request of the session. Requests made while reconnecting wait and
  // are sent after the resume; unanswered ones are re-sent with the same id.
  request(op, data, timeoutMs) {
    if (!this.active) return Promise.reject(fail(ErrorCode.NOT_JOINED, op + ': not in a room'));
    if (this.pending.size >= this.opts.maxPending) {
      return Promise.reject(fail(ErrorCode.TOO_MANY_REQUESTS, op + ': ' + this.pending.size + ' requests are waiting for answers'));
    }
    return new Promise((resolve, reject) => {
      const id = this._id();
      const timeout = timeoutMs || this.opts.requestTimeout;
      const entry = { id, op, data, resolve, reject, timer: null };
      entry.timer = setTimeout(() => {
        this.pending.delete(id);
        reject(fail(ErrorCode.TIMEOUT, op + ' got no answer within ' + timeout + ' ms; the server may have executed it'));
      }, timeout);
      this.pending.set(id, entry);
      if (this.state === 'connected') this.conn.send({ id, op, data });
    });
  }

  async leave() {
    if (!this.active) return;
    this.leaving = true;
    if (this.state === 'connected') {
      try {
        await this.request('leave', undefined, 5000);
      } catch (err) {
        // The session times out on the server if the answer was lost.
      }
    }
    this._end(null);
  }

  // Checks a connection that may have died unnoticed (after the app was in
  // the background or the network changed); reconnects at once if it did.
  probe() {
    if (!this.active) return;
    const conn = this.conn;
    if (!conn) {
      this.attempt = 0;
      clearTimeout(this.timers.reconnect);
      this._reconnect();
      return;
    }
    conn.request(this._id(), 'ping', { last_seq: this.lastSeq }, this.opts.probeTimeout).catch(() => {
      if (this.conn === conn) this._drop('no answer to a ping');
    });
  }

  // Closes the socket without ending the session, as a network loss would.
  _drop(why) {
    const conn = this.conn;
    if (!conn) return;
    console.warn('[minirtc] reconnecting: ' + why);
    this.conn = null;
    clearInterval(this.timers.ping);
    conn.close(3000, why);
    this._reconnectLater(0);
  }

  _id() {
    return String(this.nextId++);
  }

  _open() {
    const conn = new Connection(this.url, {
      onEvent: (frame, c) => this._onEvent(frame, c),
      onResponse: (frame, c) => this._onResponse(frame, c),
      onClose: (info, c) => this._onClose(info, c),
    });
    return conn.connect(this.opts.connectTimeout);
  }

  // Makes conn the session's socket after a successful join or resume.
  _adopt(conn, data, joined) {
    this.conn = conn;
    if (joined) {
      this.resumeToken = data.resume_token;
      this.lastSeq = 0;
    }
    if (data.ping_interval_ms > 0) this.pingIntervalMs = data.ping_interval_ms;
    this.attempt = 0;
    this.reconnectStartedAt = 0;
    this.retryAfterMs = 0;
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => this._tick(), this.pingIntervalMs);
    this._setState('connected');
  }

  _tick() {
    const conn = this.conn;
    if (!conn) return;
    // docs/protocol.md §7.3: two ping intervals without a frame = dead.
    if (Date.now() - conn.lastFrameAt > 2 * this.pingIntervalMs) {
      this._drop('nothing from the server for two ping intervals');
      return;
    }
    conn.request(this._id(), 'ping', { last_seq: this.lastSeq }, 2 * this.pingIntervalMs).catch(() => {});
  }

  _onEvent(frame, conn) {
    if (conn !== this.conn) return;
    const seq = frame.seq;
    if (typeof seq !== 'number' || seq <= this.lastSeq) return; // a duplicate
    if (seq !== this.lastSeq + 1) {
      // Resuming from the last processed event makes the server replay the gap.
      this._drop('event gap: got ' + seq + ' after ' + this.lastSeq);
      return;
    }
    this.lastSeq = seq;
    const data = frame.data || {};
    if (frame.event === 'kicked_off' || frame.event === 'room_closed') this.ending = { event: frame.event, data };
    if (frame.event === 'server_going_away') this.retryAfterMs = data.retry_after_ms || 1000;
    this.hooks.onEvent(frame.event, data);
  }

  _onResponse(frame, conn) {
    const entry = this.pending.get(frame.id);
    if (!entry) return;
    this.pending.delete(frame.id);
    clearTimeout(entry.timer);
    if (frame.code === 0) entry.resolve(frame.data || {});
    else entry.reject(serverError(frame));
  }

  _onClose(info, conn) {
    if (conn !== this.conn) return;
    this.conn = null;
    clearInterval(this.timers.ping);
    if (!this.active) return;
    if (this.leaving) {
      this._end(null);
      return;
    }
    if (this.ending || ENDING_CLOSE_CODES.indexOf(info.code) >= 0) {
      this._end(endError(this.ending, info));
      return;
    }
    if (info.code === 4003) this.resumeToken = null; // timed out: only a new join helps
    this._reconnectLater(info.code === 1001 ? this.retryAfterMs : 0);
  }

  _reconnectLater(delay) {
    if (!this.active) return;
    this._setState('reconnecting');
    if (!this.reconnectStartedAt) this.reconnectStartedAt = Date.now();
    clearTimeout(this.timers.reconnect);
    this.timers.reconnect = setTimeout(() => this._reconnect(), delay);
  }

  async _reconnect() {
    if (!this.active || this.conn || this.reconnecting) return;
    this.reconnecting = true;
    this.attempt++;
    if (!this.reconnectStartedAt) this.reconnectStartedAt = Date.now();
    this._setState('reconnecting');
    let conn = null;
    try {
      conn = await this._open();
      if (!this.active) {
        conn.close(1000, 'left');
        return;
      }
      if (this.resumeToken) {
        try {
          await conn.request(this._id(), 'resume', { resume_token: this.resumeToken, last_seq: this.lastSeq },
            this.opts.requestTimeout, (data) => {
              this._adopt(conn, data, false);
              this._resendPending();
            });
          return;
        } catch (err) {
          if (!(err instanceof MiniRTCError) || err.code !== 2008) throw err;
          this.resumeToken = null; // the session is gone: join again (§7.5)
        }
      }
      await conn.request(this._id(), 'join', { token: this.token, room: this.roomId, protocol: 1 },
        this.opts.requestTimeout, (data) => {
          this._failPending(ErrorCode.SESSION_RESET, 'the session was lost and joined again; the outcome is unknown');
          this._adopt(conn, data, true);
          this.hooks.onRejoined(data);
        });
    } catch (err) {
      if (conn && conn !== this.conn) conn.close(1000, 'reconnect failed');
      if (!this.active) return;
      if (err instanceof MiniRTCError && FATAL_JOIN_CODES.indexOf(err.code) >= 0) {
        this._end(err);
        return;
      }
      if (Date.now() - this.reconnectStartedAt > this.opts.reconnectTimeout) {
        this._end(fail(ErrorCode.SESSION_ENDED, 'gave up reconnecting after ' + this.opts.reconnectTimeout + ' ms', err));
        return;
      }
      const base = Math.min(this.opts.backoffMax, this.opts.backoffMin * Math.pow(2, this.attempt - 1));
      this._reconnectLater(base / 2 + Math.random() * base / 2);
    } finally {
      this.reconnecting = false;
    }
  }

  // docs/protocol.md §4: re-send unanswered requests with the same id, in order.
  _resendPending() {
    const entries = Array.from(this.pending.values()).sort((a, b) => Number(a.id) - Number(b.id));
    for (const e of entries) this.conn.send({ id: e.id, op: e.op, data: e.data });
  }

  _failPending(code, message) {
    for (const [, e] of this.pending) {
      clearTimeout(e.timer);
      e.reject(fail(code, e.op + ': ' + message));
    }
    this.pending.clear();
  }

  _end(error) {
    if (!this.active) return;
    this.active = false;
    this._failPending(ErrorCode.SESSION_ENDED, error ? error.message : 'left the room');
    this._stopTimers();
    const conn = this.conn;
    this.conn = null;
    if (conn) conn.close(1000, 'session ended');
    this.resumeToken = null;
    this.hooks.onEnded(error);
    this._setState('disconnected');
  }

  _stopTimers() {
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.reconnect);
    for (const off of this.unwatch) off();
    this.unwatch = [];
  }

  // Network changes and app hide/show are when sockets die silently.
  _watchHost() {
    if (this.unwatch.length) return;
    this.unwatch.push(platform.onNetworkStatusChange((res) => {
      if (res && res.isConnected) this.probe();
    }));
    this.unwatch.push(platform.onAppHide(() => {
      this.hiddenAt = Date.now();
    }));
    this.unwatch.push(platform.onAppShow(() => {
      // After a long background the socket is almost surely gone: do not wait
      // for a ping to time out.
      const long = this.hiddenAt && Date.now() - this.hiddenAt > 2 * this.pingIntervalMs;
      this.hiddenAt = 0;
      if (long && this.conn) this._drop('back from the background');
      else this.probe();
    }));
  }

  _setState(state) {
    if (state === this.state) return;
    const prev = this.state;
    this.state = state;
    this.hooks.onState(state, prev);
  }
}

function endError(ending, info) {
  if (ending && ending.event === 'kicked_off') {
    return fail(ErrorCode.SESSION_ENDED, 'kicked off: ' + (ending.data.reason || 'unknown'));
  }
  if (ending && ending.event === 'room_closed') return fail(ErrorCode.SESSION_ENDED, 'room closed');
  return fail(ErrorCode.SESSION_ENDED, 'the server closed the session (' + info.code + ' ' + info.reason + ')');
}

module.exports = { Session };

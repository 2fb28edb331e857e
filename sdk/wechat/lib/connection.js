'use strict';

const { platform } = require('./platform');
const { ErrorCode, MiniRTCError, fail } = require('./errors');

const SUBPROTOCOL = 'minirtc.v1';

// One WebSocket to the server. It parses frames, hands events and responses
// to its owner, and answers its own requests (join, resume, ping) which are
// bound to this socket and never re-sent on another one.
class Connection {
  // handlers: onEvent(frame), onResponse(frame), onClose({code, reason})
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.task = null;
    this.open = false;
    this.closed = false;
    this.lastFrameAt = 0;
    this._own = new Map(); // id -> {resolve, reject, timer}
  }

  // Resolves when the socket is open; rejects with CONNECTION_FAILED.
  connect(timeoutMs) {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(this);
      };
      const timer = setTimeout(() => {
        settle(fail(ErrorCode.CONNECTION_FAILED, 'connecting to ' + this.url + ' timed out'));
        this.close(1000, 'connect timeout');
      }, timeoutMs);
      let task;
      try {
        task = platform.connectSocket(this.url, [SUBPROTOCOL]);
      } catch (err) {
        settle(err instanceof MiniRTCError ? err : fail(ErrorCode.CONNECTION_FAILED, String(err && err.message), err));
        return;
      }
      this.task = task;
      task.onOpen(() => {
        this.open = true;
        this.lastFrameAt = Date.now();
        settle();
      });
      task.onMessage((msg) => this._onMessage(msg.data));
      task.onError((err) => {
        settle(fail(ErrorCode.CONNECTION_FAILED, 'socket error: ' + ((err && err.errMsg) || 'unknown'), err));
      });
      task.onClose((res) => {
        const info = { code: (res && res.code) || 1006, reason: (res && res.reason) || '' };
        settle(fail(ErrorCode.CONNECTION_FAILED, 'socket closed (' + info.code + ') before it opened'));
        this._onClose(info);
      });
    });
  }

  send(frame) {
    if (!this.open || this.closed) return false;
    this.task.send({ data: JSON.stringify(frame), fail() {} });
    return true;
  }

  // A request answered on this socket only.
  // onAnswer(data) runs synchronously with the response, before any later
  // frame is handled: join and resume must take effect before their events.
  request(id, op, data, timeoutMs, onAnswer) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._own.delete(id);
        reject(fail(ErrorCode.TIMEOUT, op + ' got no answer within ' + timeoutMs + ' ms'));
      }, timeoutMs);
      this._own.set(id, { resolve, reject, timer, onAnswer });
      if (!this.send({ id, op, data })) {
        clearTimeout(timer);
        this._own.delete(id);
        reject(fail(ErrorCode.CONNECTION_FAILED, 'not connected'));
      }
    });
  }

  close(code, reason) {
    if (this.closed) return;
    this.closed = true;
    this.open = false;
    if (this.task) this.task.close({ code: code || 1000, reason: reason || '', fail() {} });
    this._failOwn();
  }

  _onMessage(text) {
    this.lastFrameAt = Date.now();
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (err) {
      console.error('[minirtc] unreadable frame from server', err);
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    if (typeof frame.event === 'string') {
      this.handlers.onEvent(frame, this);
      return;
    }
    const own = this._own.get(frame.id);
    if (own) {
      this._own.delete(frame.id);
      clearTimeout(own.timer);
      if (frame.code !== 0) {
        own.reject(serverError(frame));
        return;
      }
      try {
        if (own.onAnswer) own.onAnswer(frame.data || {});
        own.resolve(frame.data || {});
      } catch (err) {
        own.reject(err);
      }
      return;
    }
    this.handlers.onResponse(frame, this);
  }

  _onClose(info) {
    const wasClosed = this.closed;
    this.closed = true;
    this.open = false;
    this._failOwn();
    // A socket we closed ourselves is the owner's business already.
    if (!wasClosed) this.handlers.onClose(info, this);
  }

  _failOwn() {
    for (const [, own] of this._own) {
      clearTimeout(own.timer);
      own.reject(fail(ErrorCode.CONNECTION_FAILED, 'connection closed'));
    }
    this._own.clear();
  }
}

function serverError(frame) {
  return new MiniRTCError(frame.code, frame.msg || 'error ' + frame.code);
}

module.exports = { Connection, serverError, SUBPROTOCOL };

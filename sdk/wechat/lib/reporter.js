'use strict';

// Passes component state, net status and volume to the page as 'stats' and
// 'volume' events, and to the server as `report` requests (media.md §15):
// every state code, and at most one net status sample per component per
// reportInterval. Reports are best effort: none is queued while the
// connection is down, and none is sent when many requests are waiting.
class Reporter {
  constructor(client) {
    this.client = client;
    this.lastNet = new Map(); // component -> time of the last net report
  }

  onComponentEvent(kind, key, type, detail, component) {
    const c = this.client;
    const tag = kind === 'pusher' ? key : undefined;
    const streamId = kind === 'pusher' ? c.local.streamIdOf(key) : key;
    if (type === 'volume') {
      c.emit('volume', { kind, tag, streamId, volume: detail.volume });
      return;
    }
    if (type === 'state') {
      c.emit('stats', { kind, tag, streamId, type, code: detail.code, message: detail.message || '' });
      this._report(kind, streamId, { type: 'state', code: detail.code, message: detail.message || '' });
    } else if (type === 'net') {
      const info = Object.assign({}, detail.info);
      c.emit('stats', { kind, tag, streamId, type, info });
      const now = Date.now();
      if (now - (this.lastNet.get(component) || 0) >= c.options.reportInterval) {
        this.lastNet.set(component, now);
        this._report(kind, streamId, Object.assign({ type: 'net' }, info));
      }
    } else if (type === 'error') {
      c.emit('stats', { kind, tag, streamId, type, code: detail.errCode, message: detail.errMsg || '' });
    }
  }

  _report(kind, streamId, data) {
    const c = this.client;
    const s = c.session;
    if (!s || c.getConnectionState() !== 'connected' || s.pending.size >= s.opts.maxPending / 2) return;
    const body = { kind, data };
    if (streamId) body.stream = streamId;
    c._request('report', body).catch(() => {});
  }
}

module.exports = { Reporter };

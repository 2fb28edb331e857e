'use strict';

// The `wx` stand-in: real WebSockets (npm ws) for wx.connectSocket, and
// <live-pusher>/<live-player> registered as components of miniprogram-simulate
// whose media is real ffmpeg pushing to / pulling from the URLs the SDK sets.
// State codes travel the way WeChat's do: the built-in component triggers
// statechange/netstatus, and <rtc-pusher>/<rtc-player>'s bind handlers run.

const path = require('node:path');
const { createRequire } = require('node:module');
const WebSocket = require('ws');
const media = require('./media');
const { SDK_DIR } = require('./server');

const requireSdk = createRequire(path.join(SDK_DIR, 'package.json'));
const simulate = requireSdk('miniprogram-simulate');
const jComponent = requireSdk('j-component');

const host = {
  // New sockets fail while true (existing ones are untouched); a function
  // (url) => boolean takes the network away from some clients only.
  networkDown: false,
  // A <live-pusher> keeps its URL but does not start while this is true, or
  // returns true for the URL (like a phone waiting for camera permission).
  pushBlocked: false,
  sockets: [],
  listeners: { network: new Set(), hide: new Set(), show: new Set() },
  pushers: [], // attached <live-pusher> stand-ins, newest last
  players: [],
};

// ---- sockets ----

class SocketTask {
  constructor(url, protocols) {
    this.url = url;
    this.openedAt = Date.now();
    this.handlers = { open: [], message: [], close: [], error: [] };
    this.sent = [];
    this.received = [];
    this.closed = false;
    host.sockets.push(this);
    if (typeof host.networkDown === 'function' ? host.networkDown(url) : host.networkDown) {
      setTimeout(() => {
        this._fire('error', { errMsg: 'connectSocket:fail network is down' });
        this._closed(1006, 'network down');
      }, 5);
      return;
    }
    this.ws = new WebSocket(url, protocols || []);
    this.ws.on('open', () => this._fire('open', {}));
    this.ws.on('message', (data) => {
      const text = data.toString();
      this.received.push(text);
      this._fire('message', { data: text });
    });
    this.ws.on('error', (err) => this._fire('error', { errMsg: err.message }));
    this.ws.on('close', (code, reason) => this._closed(code, reason.toString()));
  }

  onOpen(fn) { this.handlers.open.push(fn); }
  onMessage(fn) { this.handlers.message.push(fn); }
  onClose(fn) { this.handlers.close.push(fn); }
  onError(fn) { this.handlers.error.push(fn); }

  send(o) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      if (o.fail) o.fail({ errMsg: 'sendSocketMessage:fail socket is not open' });
      return;
    }
    this.sent.push(o.data);
    this.ws.send(o.data);
    if (o.success) o.success({});
  }

  close(o) {
    o = o || {};
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(o.code || 1000, o.reason || '');
    if (o.success) o.success({});
  }

  // What a lost network looks like: no close frame, the socket is just gone.
  kill() {
    if (this.ws) this.ws.terminate();
  }

  _closed(code, reason) {
    if (this.closed) return;
    this.closed = true;
    this._fire('close', { code, reason });
  }

  _fire(name, arg) {
    for (const fn of this.handlers[name].slice()) fn(arg);
  }
}

// ---- built-in media components ----

function fireState(el, code, message) {
  el.states.push(code);
  el.triggerEvent('statechange', { code, message: message || '' });
}

const livePusher = {
  id: 'standin-live-pusher',
  tagName: 'wx-live-pusher',
  template: '<slot/>',
  properties: {
    url: { type: String, value: '' },
    mode: { type: String, value: 'RTC' },
    autopush: { type: Boolean, value: false },
    enableCamera: { type: Boolean, value: true },
    enableMic: { type: Boolean, value: true },
    minBitrate: { type: Number, value: 200 },
    maxBitrate: { type: Number, value: 1000 },
    devicePosition: { type: String, value: 'front' },
  },
  observers: {
    'url, autopush'(url, autopush) {
      if (!url) this.stopPush();
      else if (autopush) this.startPush();
    },
    // A real live-pusher mutes its microphone / turns its camera off while
    // pushing when these change; so does ffmpeg (silence, black picture).
    'enableMic, enableCamera'(micOn, cameraOn) {
      this.deviceLog.push({ micOn, cameraOn });
      if (this.push) this.push.child.setDevices({ micOn, cameraOn });
    },
  },
  lifetimes: {
    created() {
      this.states = [];
      this.pushedUrls = [];
      this.calls = [];
      this.deviceLog = []; // every {micOn, cameraOn} the pusher was set to
      this.push = null;
    },
    attached() { host.pushers.push(this); },
    detached() {
      host.pushers.splice(host.pushers.indexOf(this), 1);
      this.stopPush();
    },
  },
  methods: {
    startPush() {
      const url = this.data.url;
      if (!url || (this.push && this.push.url === url)) return;
      this.stopPush();
      if (typeof host.pushBlocked === 'function' ? host.pushBlocked(url) : host.pushBlocked) {
        this.blockedUrls = (this.blockedUrls || []).concat(url);
        return;
      }
      const p = { url, started: false, frames: 0 };
      this.push = p;
      this.pushedUrls.push(url);
      const devices = { micOn: this.data.enableMic, cameraOn: this.data.enableCamera };
      p.child = media.push(url, (progress) => {
        if (this.push !== p) return;
        p.frames = progress.frame;
        if (!p.started) {
          p.started = true;
          fireState(this, 1001, 'connected to the server');
          fireState(this, 1002, 'pushing started');
        }
        this.triggerEvent('netstatus', { info: { videoBitrate: Math.round(progress.bitrateKbps), audioBitrate: 64, videoFPS: progress.fps, videoWidth: 320, videoHeight: 240 } });
      }, devices);
      p.child.on('exit', () => {
        if (this.push !== p) return; // stopped on purpose
        this.push = null;
        fireState(this, 3004, 'the server closed the connection');
      });
    },
    stopPush() {
      const p = this.push;
      this.push = null;
      if (p) p.child.kill('SIGKILL');
    },
  },
};

const livePlayer = {
  id: 'standin-live-player',
  tagName: 'wx-live-player',
  template: '<slot/>',
  properties: {
    src: { type: String, value: '' },
    mode: { type: String, value: 'live' },
    autoplay: { type: Boolean, value: false },
    muted: { type: Boolean, value: false },
    soundMode: { type: String, value: 'speaker' },
    minCache: { type: Number, value: 1 },
    maxCache: { type: Number, value: 3 },
    objectFit: { type: String, value: 'contain' },
  },
  observers: {
    'src, autoplay'(src, autoplay) {
      if (!src) this.stopPlay();
      else if (autoplay) this.startPlay();
    },
  },
  lifetimes: {
    created() {
      this.states = [];
      this.playedUrls = [];
      this.play = null;
      this.frames = { video: 0, audio: 0 };
      // What the viewer hears and sees, newest last: {at, value} per decoded
      // frame, audio RMS in dBFS, video mean luma (0-255). Bounded.
      this.levels = { audio: [], luma: [] };
    },
    attached() { host.players.push(this); },
    detached() {
      host.players.splice(host.players.indexOf(this), 1);
      this.stopPlay();
    },
  },
  methods: {
    startPlay(retry) {
      const src = this.data.src;
      if (!src || (!retry && this.play && this.play.src === src)) return;
      this.stopPlay();
      const p = { src, frames: { video: 0, audio: 0 }, retries: retry || 0 };
      this.play = p;
      this.playedUrls.push(src);
      p.child = media.pull(src, (kind) => {
        if (this.play !== p) return;
        p.frames[kind]++;
        this.frames[kind]++;
        if (kind === 'video' && p.frames.video === 1) fireState(this, 2004, 'playing started');
      }, (kind, value) => {
        if (this.play !== p) return;
        const list = this.levels[kind];
        list.push({ at: Date.now(), value });
        if (list.length > 2000) list.splice(0, list.length - 1000);
      });
      p.child.on('exit', () => {
        if (this.play !== p) return; // stopped on purpose
        // live-player retries a few times (2103), then gives up with -2301.
        if (p.retries < 3) {
          fireState(this, 2103, 'reconnecting');
          p.retryTimer = setTimeout(() => { if (this.play === p) this.startPlay(p.retries + 1); }, 500);
        } else {
          this.play = null;
          fireState(this, -2301, 'gave up reconnecting');
        }
      });
    },
    stopPlay() {
      const p = this.play;
      this.play = null;
      if (p) {
        clearTimeout(p.retryTimer);
        p.child.kill('SIGKILL');
      }
    },
  },
};

const pusherId = jComponent.register(livePusher);
const playerId = jComponent.register(livePlayer);

// usingComponents overrides for simulate.load: built-in tags -> stand-ins.
const builtins = {
  'live-pusher': pusherId,
  'wx-live-pusher': pusherId,
  'live-player': playerId,
  'wx-live-player': playerId,
};

function ok(o, res) {
  if (o && o.success) o.success(res || {});
  if (o && o.complete) o.complete(res || {});
}

const api = {
  connectSocket(o) {
    return new SocketTask(o.url, o.protocols);
  },
  onNetworkStatusChange(fn) { host.listeners.network.add(fn); },
  offNetworkStatusChange(fn) { host.listeners.network.delete(fn); },
  onAppHide(fn) { host.listeners.hide.add(fn); },
  offAppHide(fn) { host.listeners.hide.delete(fn); },
  onAppShow(fn) { host.listeners.show.add(fn); },
  offAppShow(fn) { host.listeners.show.delete(fn); },

  // One live-pusher per page: the context drives the one on the page that
  // asked, i.e. the newest one when the context is created.
  createLivePusherContext() {
    const target = host.pushers[host.pushers.length - 1];
    const el = () => (host.pushers.indexOf(target) >= 0 ? target : null);
    const call = (name, fn) => (o) => {
      const p = el();
      if (!p) {
        if (o && o.fail) o.fail({ errMsg: name + ':fail no live-pusher' });
        return;
      }
      p.calls.push(name);
      if (fn) fn(p);
      ok(o);
    };
    return {
      start: call('start', (p) => p.startPush()),
      stop: call('stop', (p) => p.stopPush()),
      switchCamera: call('switchCamera'),
      startPreview: call('startPreview'),
      stopPreview: call('stopPreview'),
    };
  },

  createLivePlayerContext(id, component) {
    const el = () => component.selectComponent('#' + id);
    return {
      play(o) { el().startPlay(); ok(o); },
      stop(o) { const p = el(); if (p) p.stopPlay(); ok(o); },
    };
  },
};

function install() {
  global.wx = Object.assign(global.wx || {}, api);
  return global.wx;
}

// Simulated host events.
const emitHost = {
  network(isConnected) {
    for (const fn of Array.from(host.listeners.network)) fn({ isConnected, networkType: isConnected ? 'wifi' : 'none' });
  },
  appHide() { for (const fn of Array.from(host.listeners.hide)) fn(); },
  appShow() { for (const fn of Array.from(host.listeners.show)) fn({}); },
};

// Renders a component (page) by path with the stand-ins for built-ins.
function render(componentPath, props, options) {
  const id = simulate.load(componentPath, Object.assign({ usingComponents: Object.assign({}, builtins) }, options));
  const comp = simulate.render(id, props || {});
  comp.attach(document.createElement('parent-wrapper'));
  return comp;
}

module.exports = { install, host, emitHost, render, simulate, builtins };

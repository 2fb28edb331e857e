'use strict';

const registry = require('../registry');
const { platform } = require('../platform');

// <rtc-player stream-id="alice_main">: wraps <live-player mode="RTC" autoplay>.
// subscribe() fills its src; state, net status, volume and errors go to the
// room client and, as events of the same names, to the page.
Component({
  properties: {
    streamId: { type: String, value: '' },
    minCache: { type: Number, value: 0.2 },
    maxCache: { type: Number, value: 0.8 },
    objectFit: { type: String, value: 'contain' },
    orientation: { type: String, value: 'vertical' },
    soundMode: { type: String, value: 'speaker' },
    muted: { type: Boolean, value: false },
    pictureInPictureMode: { type: null, value: [] },
    autoPauseIfNavigate: { type: Boolean, value: true },
    autoPauseIfOpenNative: { type: Boolean, value: true },
  },

  data: {
    src: '',
    localMuted: false, // client.muteRemoteStream()
    audioOutput: '', // client.setAudioOutput(); overrides sound-mode when set
  },

  observers: {
    streamId(id) {
      if (this._registeredId !== undefined && id !== this._registeredId) this._register();
    },
  },

  lifetimes: {
    attached() {
      this._register();
    },
    detached() {
      registry.remove('player', this);
      this._registeredId = undefined;
      if (this._ctx) this._ctx.stop({ fail() {} });
    },
  },

  methods: {
    _register() {
      if (this._registeredId) registry.remove('player', this);
      this._registeredId = this.data.streamId;
      if (this._registeredId) registry.add('player', this._registeredId, this);
    },

    minirtcContext() {
      if (!this._ctx) this._ctx = platform.createLivePlayerContext('rtc-live-player', this);
      return this._ctx;
    },

    // Plays src (a fresh one after re-subscribe); '' stops playing.
    minirtcSetSrc(src) {
      return new Promise((resolve) => {
        const ctx = this.minirtcContext();
        if (!src) {
          ctx.stop({ fail() {} });
          this.setData({ src: '' }, resolve);
          return;
        }
        if (src === this.data.src) ctx.stop({ fail() {} });
        this.setData({ src }, () => {
          ctx.play({ fail() {} });
          resolve();
        });
      });
    },

    minirtcSet(data) {
      return new Promise((resolve) => this.setData(data, resolve));
    },

    minirtcSrc() {
      return this.data.src;
    },

    onStateChange(e) {
      this._forward('state', 'statechange', e.detail);
    },
    onNetStatus(e) {
      this._forward('net', 'netstatus', e.detail);
    },
    onAudioVolume(e) {
      this._forward('volume', 'audiovolumenotify', e.detail);
    },
    onError(e) {
      this._forward('error', 'error', e.detail);
    },

    _forward(type, pageEvent, detail) {
      registry.emit('player', this._registeredId, type, detail || {}, this);
      this.triggerEvent(pageEvent, detail || {});
    },
  },
});

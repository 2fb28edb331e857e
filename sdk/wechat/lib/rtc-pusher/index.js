'use strict';

const registry = require('../registry');
const { platform } = require('../platform');

// <rtc-pusher tag="main">: wraps <live-pusher mode="RTC" autopush>. The room
// client fills its URL on publish() and drives camera and microphone; state,
// net status, errors and volume go to the client and, as events of the same
// names, to the page (bind:statechange, bind:netstatus, bind:error,
// bind:audiovolumenotify).
Component({
  properties: {
    tag: { type: String, value: 'main' },
    minBitrate: { type: Number, value: 200 },
    maxBitrate: { type: Number, value: 1000 },
    aspect: { type: String, value: '9:16' },
    orientation: { type: String, value: 'vertical' },
    beauty: { type: Number, value: 0 },
    whiteness: { type: Number, value: 0 },
    devicePosition: { type: String, value: 'front' },
    enableAgc: { type: Boolean, value: false },
    enableAns: { type: Boolean, value: false },
    audioQuality: { type: String, value: 'high' },
    videoWidth: { type: Number, value: 360 },
    videoHeight: { type: Number, value: 640 },
    localMirror: { type: String, value: 'auto' },
    remoteMirror: { type: Boolean, value: false },
    waitingImage: { type: String, value: '' },
    zoom: { type: Boolean, value: false },
    autoFocus: { type: Boolean, value: true },
    backgroundMute: { type: Boolean, value: false },
  },

  data: {
    url: '',
    cameraOn: true,
    micOn: true,
  },

  observers: {
    tag(tag) {
      if (this._registeredTag !== undefined && tag !== this._registeredTag) this._register();
    },
  },

  lifetimes: {
    attached() {
      this._register();
    },
    detached() {
      registry.remove('pusher', this);
      this._registeredTag = undefined;
      if (this._ctx) this._ctx.stop({ fail() {} });
    },
  },

  methods: {
    _register() {
      this._registeredTag = this.data.tag || 'main';
      registry.add('pusher', this._registeredTag, this);
    },

    // The live-pusher context: one pusher per page in WeChat.
    minirtcContext() {
      if (!this._ctx) this._ctx = platform.createLivePusherContext();
      return this._ctx;
    },

    // Pushes to url (a fresh one after re-publish); '' stops pushing.
    minirtcSetUrl(url) {
      return new Promise((resolve) => {
        const ctx = this.minirtcContext();
        if (!url) {
          ctx.stop({ fail() {} });
          this.setData({ url: '' }, resolve);
          return;
        }
        if (url === this.data.url) ctx.stop({ fail() {} });
        this.setData({ url }, () => {
          ctx.start({ fail() {} });
          resolve();
        });
      });
    },

    minirtcSetDevices(devices) {
      return new Promise((resolve) => this.setData(devices, resolve));
    },

    minirtcUrl() {
      return this.data.url;
    },

    onStateChange(e) {
      this._forward('state', 'statechange', e.detail);
    },
    onNetStatus(e) {
      this._forward('net', 'netstatus', e.detail);
    },
    onError(e) {
      this._forward('error', 'error', e.detail);
    },
    onAudioVolume(e) {
      this._forward('volume', 'audiovolumenotify', e.detail);
    },

    _forward(type, pageEvent, detail) {
      registry.emit('pusher', this._registeredTag, type, detail || {}, this);
      this.triggerEvent(pageEvent, detail || {});
    },
  },
});

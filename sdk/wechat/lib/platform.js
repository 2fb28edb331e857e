'use strict';

const { ErrorCode, fail } = require('./errors');

// The only file that touches the host API (wx on WeChat, tt on Douyin). Each
// adapter method is looked up when it is called, never at require time, so a
// page (or a test) can install the host API after loading the SDK.

let override = null;

// Use a host API object explicitly (uni-app's `uni`, a test stand-in).
function setPlatform(api, name) {
  override = api ? { api, name: name || 'custom' } : null;
}

function host() {
  if (override) return override;
  /* global wx, tt */
  if (typeof wx === 'object' && wx && typeof wx.connectSocket === 'function') return { api: wx, name: 'wechat' };
  if (typeof tt === 'object' && tt && typeof tt.connectSocket === 'function') return { api: tt, name: 'douyin' };
  throw fail(ErrorCode.NOT_SUPPORTED, 'no mini-program API found (neither wx nor tt)');
}

function call(method) {
  const h = host();
  const fn = h.api[method];
  return typeof fn === 'function' ? fn.bind(h.api) : null;
}

const platform = {
  name() {
    return host().name;
  },

  // Douyin mini-programs have live-player but no live-pusher.
  canPush() {
    return call('createLivePusherContext') !== null;
  },

  connectSocket(url, protocols) {
    const connect = call('connectSocket');
    // Older hosts return no task unless a callback is given; all current ones do.
    return connect({ url, protocols, fail() {} });
  },

  // Subscribes fn to a host event; returns the function that unsubscribes.
  listen(onName, offName, fn) {
    const on = call(onName);
    if (!on) return () => {};
    on(fn);
    return () => {
      const off = call(offName);
      if (off) off(fn);
    };
  },

  onNetworkStatusChange(fn) {
    return platform.listen('onNetworkStatusChange', 'offNetworkStatusChange', fn);
  },

  onAppHide(fn) {
    return platform.listen('onAppHide', 'offAppHide', fn);
  },

  onAppShow(fn) {
    return platform.listen('onAppShow', 'offAppShow', fn);
  },

  // WeChat's live-pusher context takes no arguments: one pusher per page.
  createLivePusherContext() {
    const create = call('createLivePusherContext');
    if (!create) throw fail(ErrorCode.NOT_SUPPORTED, platform.name() + ' has no live-pusher');
    return create();
  },

  // Inside a custom component the player is found by id within `component`.
  createLivePlayerContext(id, component) {
    const create = call('createLivePlayerContext');
    if (!create) throw fail(ErrorCode.NOT_SUPPORTED, platform.name() + ' has no live-player');
    return create(id, component);
  },
};

module.exports = { platform, setPlatform };

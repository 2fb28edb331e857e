// The demo mini-program (examples/wechat-miniprogram): its join page renders,
// and two copies of its room page make a call through a real server, with
// ffmpeg behind <live-pusher> and <live-player>.
import { test, expect, beforeAll, afterAll } from 'vitest';
import { createRequire } from 'node:module';
import Module from 'node:module';
import path from 'node:path';
import fs from 'node:fs';

const require = createRequire(import.meta.url);
const { startServer, SDK_DIR } = require('./support/server');
const wxStandin = require('./support/wx');
const { killAll } = require('./support/processes');
const { until } = require('./support/helpers');

const EXAMPLE = path.resolve(SDK_DIR, '..', '..', 'examples', 'wechat-miniprogram');
// What "build npm" made of the package (scripts/test-wechat-sdk.sh runs it
// with miniprogram-ci): the pages run on that copy, as on a phone.
const LIB = path.join(EXAMPLE, 'miniprogram_npm', '@minirtc', 'wechat');
if (!fs.existsSync(path.join(LIB, 'rtc-pusher', 'index.json'))) {
  throw new Error('no ' + LIB + ': run `npm ci && npm run build-npm` in examples/wechat-miniprogram (scripts/test-wechat-sdk.sh does)');
}

// In the mini-program, require('@minirtc/wechat') resolves to
// miniprogram_npm/@minirtc/wechat/index.js.
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === '@minirtc/wechat') return path.join(LIB, 'index.js');
  return resolve.call(this, request, ...rest);
};

wxStandin.install();
const storage = {};
global.wx.getStorageSync = (k) => storage[k];
global.wx.setStorageSync = (k, v) => { storage[k] = v; };
const navigations = [];
global.wx.navigateTo = (o) => navigations.push(o.url);
global.wx.navigateBack = () => {};

// The page's usingComponents name the npm package; point them at its build.
const components = Object.assign({}, wxStandin.builtins, {
  'rtc-pusher': path.relative(path.join(EXAMPLE, 'pages', 'room'), path.join(LIB, 'rtc-pusher', 'index')),
  'rtc-player': path.relative(path.join(EXAMPLE, 'pages', 'room'), path.join(LIB, 'rtc-player', 'index')),
});

function renderPage(name) {
  return wxStandin.render(path.join(EXAMPLE, 'pages', name, 'index'), {}, { compiler: 'simulate', usingComponents: components });
}

let server;
const pages = [];

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  for (const p of pages) {
    if (p.instance.client) await p.instance.client.leave();
    p.detach();
  }
  await killAll((c) => c.spawnfile === 'ffmpeg');
  Module._resolveFilename = resolve;
  if (server) await server.stop();
});

test('join page checks its fields and opens the room page', () => {
  const page = renderPage('join');
  page.instance.onLoad();
  page.instance.join();
  expect(page.data.error).toMatch(/server URL/);
  page.instance.setData({ url: 'wss://rtc.example.com/ws', room: 'demo', token: 'abc.def.ghi' });
  page.instance.join();
  expect(page.data.error).toBe('');
  expect(navigations.pop()).toBe('/pages/room/index?url=wss%3A%2F%2Frtc.example.com%2Fws&room=demo&token=abc.def.ghi');
  page.detach();
});

test('two room pages make a call: each plays the other\'s video and audio', async () => {
  const query = async (user) => ({
    url: encodeURIComponent(server.wsUrl),
    room: 'demo',
    token: encodeURIComponent(await server.token(user, { room: 'demo', name: user.toUpperCase() })),
  });

  // Alice opens the room first and publishes; then Bob.
  const alice = renderPage('room');
  pages.push(alice);
  alice.instance.onLoad(await query('alice'));
  await until(() => alice.instance.client && alice.instance.client.local.streams.size === 1 &&
    alice.instance.client.local.streams.get('main').pushing, 15000, 'alice to push');

  const bob = renderPage('room');
  pages.push(bob);
  bob.instance.onLoad(await query('bob'));

  // Each page lists the other's stream and plays it.
  await until(() => alice.data.streams.length === 1 && bob.data.streams.length === 1, 20000, 'both pages to list a stream');
  expect(alice.data.streams[0]).toMatchObject({ id: 'bob_main', name: 'BOB' });
  expect(bob.data.streams[0]).toMatchObject({ id: 'alice_main', name: 'ALICE' });
  const playerOf = (page, id) => page.instance.selectComponent('#player-' + id).selectComponent('#rtc-live-player');
  await until(() => {
    const a = playerOf(alice, 'bob_main');
    const b = playerOf(bob, 'alice_main');
    return a.frames.video >= 15 && a.frames.audio >= 15 && b.frames.video >= 15 && b.frames.audio >= 15;
  }, 25000, 'both players to decode video and audio').catch((err) => {
    const info = (page, id) => {
      const p = playerOf(page, id);
      return id + ' src=' + p.data.src + ' frames=' + JSON.stringify(p.frames) + ' states=' + p.states + ' ffmpeg: ' + (p.play && p.play.child.stderrText);
    };
    throw new Error(err.message + ' bob error=' + bob.data.error + ' subs=' + JSON.stringify(Array.from(bob.instance.client.remote.subs.keys())) + ' played=' + JSON.stringify(playerOf(bob, 'alice_main').playedUrls) + ' registry=' + bob.instance.client.remote.subs.size + ' streams=' + JSON.stringify(bob.data.streams) + '\n' + info(alice, 'bob_main') + '\n' + info(bob, 'alice_main') + '\n' + server.logs());
  });
  expect(alice.data.connection).toBe('connected');
  expect(alice.data.error).toBe('');

  // Bob mutes: Alice's page shows it.
  await bob.instance.toggleMic();
  expect(bob.data.micOn).toBe(false);
  await until(() => alice.data.streams[0].audioMuted, 10000, 'alice to see bob muted');

  // Bob hangs up: Alice's page drops his stream.
  await bob.instance.hangUp();
  await until(() => alice.data.streams.length === 0, 10000, 'alice to drop bob\'s stream');
});

// A push URL admits only pushes that start before it expires. When the
// page's live-pusher has not started by then (a phone still asking for
// camera permission), the SDK publishes again and hands the component a
// fresh URL; the expired one is refused by the server. The server runs with
// a short media.push_url_ttl so that this happens within seconds.
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { startServer } = require('./support/server');
const wxStandin = require('./support/wx');
const media = require('./support/media');
const { killAll, alive } = require('./support/processes');
const { sdk, nextEvent, until, PAGE } = require('./support/helpers');

const { RTCClient } = sdk;
wxStandin.install();

const ROOM = 'expiry-room';
// The SDK re-publishes 5 s before a URL expires: with 8 s, 3 s after publish.
const PUSH_URL_TTL_S = 8;

let server;
let alice;
let bob;
let pageA;

function alicePusher() {
  return pageA.instance.selectComponent('#pusher').selectComponent('#rtc-live-pusher');
}

// Resolves with the exit code of an ffmpeg push to url, and whether any
// frame went out before it ended.
function tryPush(url) {
  return new Promise((resolve) => {
    let sent = false;
    const child = media.push(url, () => { sent = true; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, sent, stderr: child.stderrText });
    });
  });
}

beforeAll(async () => {
  server = await startServer({ MINIRTC_MEDIA_PUSH_URL_TTL: PUSH_URL_TTL_S + 's' });
  alice = new RTCClient({ url: server.wsUrl });
  bob = new RTCClient({ url: server.wsUrl });
  pageA = wxStandin.render(PAGE);
  pageA.setData({ showPusher: true });
  await alice.join(await server.token('alice', { room: ROOM }), ROOM);
  await bob.join(await server.token('bob', { room: ROOM }), ROOM);
});

afterAll(async () => {
  wxStandin.host.pushBlocked = false;
  await Promise.all([alice, bob].filter(Boolean).map((c) => c.leave()));
  if (pageA) pageA.detach();
  await killAll((c) => c.spawnfile === 'ffmpeg');
  if (server) await server.stop();
  expect(alive()).toEqual([]);
});

describe('push URL expiry', () => {
  test('a pusher that has not started when its URL expires gets a fresh URL, and the old one is refused', async () => {
    wxStandin.host.pushBlocked = true;
    const republished = nextEvent(alice, 'streamRepublished', null, 15000);
    const first = await alice.publish({ tag: 'main' });
    expect(first.pushUrlExpiresAt - Date.now()).toBeLessThanOrEqual(PUSH_URL_TTL_S * 1000);
    expect(alicePusher().data.url).toBe(first.pushUrl);

    const again = await republished;
    expect(again.reason).toMatch(/expired before pushing started/);
    expect(again.id).toBe(first.id);
    expect(again.pushUrl).not.toBe(first.pushUrl);
    expect(again.pushUrlExpiresAt).toBeGreaterThan(first.pushUrlExpiresAt);
    expect(alicePusher().data.url).toBe(again.pushUrl);
    // Nothing was pushed yet: bob has not seen a stream.
    expect(bob.getRemoteStreams()).toEqual([]);

    // Once the first URL has expired the server refuses it...
    await until(() => Date.now() > first.pushUrlExpiresAt + 200, PUSH_URL_TTL_S * 1000, 'the first URL to expire');
    const stale = await tryPush(first.pushUrl);
    expect(stale.sent).toBe(false);
    expect(stale.code).not.toBe(0);

    // ...and the permission comes: the pusher starts with the fresh URL,
    // and bob sees the stream. Right after a re-publish, so that the next
    // one (every 3 s while blocked) cannot swap the URL under the test on a
    // busy machine.
    await nextEvent(alice, 'streamRepublished', null, 10000);
    const seen = nextEvent(bob, 'streamPublished', (s) => s.id === first.id, 20000);
    wxStandin.host.pushBlocked = false;
    alicePusher().startPush();
    expect(alicePusher().pushedUrls).toEqual([alicePusher().data.url]);
    const stream = await seen;
    expect(stream.video).toMatchObject({ codec: 'h264' });
    await until(() => pageA.data.pusherStates.indexOf(1002) >= 0, 10000, 'the page to see 1002');
  });

  test('once pushing, the URL may expire: the push goes on and no re-publish happens', async () => {
    const url = alicePusher().data.url;
    let republishes = 0;
    alice.on('streamRepublished', () => { republishes++; });
    // Wait past this URL's expiry with the push running.
    const expiresAt = Date.now() + PUSH_URL_TTL_S * 1000;
    await until(() => Date.now() > expiresAt, PUSH_URL_TTL_S * 1000 + 2000, 'the URL to expire');
    const p = alicePusher().push;
    expect(p && p.url).toBe(url);
    const before = p.frames;
    await until(() => alicePusher().push && alicePusher().push.frames > before + 15, 10000, 'more frames pushed');
    expect(republishes).toBe(0);
    expect(bob.getRemoteStreams().map((s) => s.id)).toEqual(['alice_main']);
  });
});

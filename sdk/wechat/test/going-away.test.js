// The server restarts under a call. It sends server_going_away with
// retry_after_ms before closing; the SDK waits that long, reconnects to the
// restarted server (same address, same data directory, so the tokens stay
// valid), joins again since sessions do not survive a restart, publishes and
// subscribes again, and the call has media again.
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { startServer } = require('./support/server');
const wxStandin = require('./support/wx');
const { killAll, alive } = require('./support/processes');
const { sdk, nextEvent, until, record, PAGE } = require('./support/helpers');

const { RTCClient } = sdk;
wxStandin.install();

const ROOM = 'restart-room';
const RETRY_AFTER_MS = 1000; // what the server announces (docs/protocol.md, server_going_away)

let server;
let alice; // publishes
let bob; // subscribes
let pageA;
let pageB;

function alicePusher() {
  return pageA.instance.selectComponent('#pusher').selectComponent('#rtc-live-pusher');
}
function bobPlayer() {
  return pageB.instance.selectComponent('#player-alice_main').selectComponent('#rtc-live-player');
}

beforeAll(async () => {
  server = await startServer();
  alice = new RTCClient({ url: server.wsUrl });
  bob = new RTCClient({ url: server.wsUrl });
  pageA = wxStandin.render(PAGE);
  pageA.setData({ showPusher: true });
  pageB = wxStandin.render(PAGE);
  await alice.join(await server.token('alice', { room: ROOM }), ROOM);
  await bob.join(await server.token('bob', { room: ROOM }), ROOM);
});

afterAll(async () => {
  await Promise.all([alice, bob].filter(Boolean).map((c) => c.leave()));
  if (pageA) pageA.detach();
  if (pageB) pageB.detach();
  await killAll((c) => c.spawnfile === 'ffmpeg');
  if (server) await server.stop();
  expect(alive()).toEqual([]);
});

describe('server restart', () => {
  test('the call resumes on the restarted server after retry_after_ms, with media', async () => {
    const seen = nextEvent(bob, 'streamPublished');
    await alice.publish({ tag: 'main' });
    await seen;
    pageB.setData({ players: ['alice_main'] });
    await bob.subscribe(['alice_main']);
    await until(() => bobPlayer().frames.video >= 10 && bobPlayer().frames.audio >= 10, 20000, 'bob decoding before the restart');

    // As the example app does: subscribe to every stream when it is published.
    // After the restart alice_main is gone until alice's pusher is back
    // (streamUnpublished), then published again.
    const unpublished = nextEvent(bob, 'streamUnpublished', (st) => st.id === 'alice_main', 30000);
    bob.on('streamPublished', (st) => { bob.subscribe([st.id]).catch(() => {}); });
    const states = { alice: record(alice, ['connectionStateChanged', 'error', 'kickedOff', 'roomClosed']), bob: record(bob, ['connectionStateChanged', 'error', 'kickedOff', 'roomClosed']) };
    const sockets = wxStandin.host.sockets.length;
    const { dataDir, appId } = server;
    const http = new URL(server.wsUrl).host;
    const rtmp = new URL(server.rtmpBase).host;
    const aliceAway = nextEvent(alice, 'connectionStateChanged', (c) => c.state === 'reconnecting');
    const stopping = server.stop({ keepData: true });
    await aliceAway;
    const closedAt = Date.now();
    await stopping;
    server = await startServer({}, { dataDir, http, rtmp, appId });

    // Both are back in the room, with each other, in the same session
    // objects, without an error reaching the page.
    await until(() => alice.getConnectionState() === 'connected' && bob.getConnectionState() === 'connected', 20000, 'both connected again');
    await until(() => bob.getRemoteUser('alice') && alice.getRemoteUser('bob'), 10000, 'each seeing the other');
    expect(states.alice.filter((e) => e.name !== 'connectionStateChanged')).toEqual([]);
    expect(states.bob.filter((e) => e.name !== 'connectionStateChanged')).toEqual([]);

    // No new socket before the server's retry_after_ms (a little slack for
    // the timer's clock).
    const reopened = wxStandin.host.sockets.slice(sockets);
    expect(reopened.length).toBeGreaterThanOrEqual(2);
    for (const s of reopened) expect(s.openedAt - closedAt).toBeGreaterThanOrEqual(RETRY_AFTER_MS - 50);

    // Alice's stream is published again with a fresh URL and bob decodes it again.
    await unpublished;
    await until(() => bob.getRemoteStreams('alice').some((s) => s.id === 'alice_main'), 20000, 'alice_main published again');
    const player = bobPlayer();
    await until(() => player.playedUrls.length >= 2, 20000, 'bob subscribed again');
    const before = Object.assign({}, player.frames);
    await until(() => player.frames.video >= before.video + 15 && player.frames.audio >= before.audio + 15, 25000,
      () => 'bob decoding after the restart: player src=' + player.data.src + ' played=' + player.playedUrls.length +
        ' frames=' + JSON.stringify(player.frames) + ' states=' + player.states + ' ffmpeg: ' + (player.play && player.play.child.stderrText) +
        ' | pusher urls=' + alicePusher().pushedUrls.length + ' push=' + JSON.stringify(alicePusher().push && { url: alicePusher().push.url, frames: alicePusher().push.frames }) +
        ' states=' + pageA.data.pusherStates);
    expect(alicePusher().pushedUrls.length).toBeGreaterThanOrEqual(2);
  });
});

// Volume events, a session lost to a long network outage (resume refused,
// joined again, streams published and subscribed again with real media; or,
// with an expired token, the end of the session), and an admin closing the
// room. The server runs with short liveness settings
// (docs/deployment.md: signal.ping_interval, signal.session_timeout) so that
// a session times out within seconds.
import { describe, test, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { startServer } = require('./support/server');
const wxStandin = require('./support/wx');
const { killAll, alive } = require('./support/processes');
const { sdk, nextEvent, record, until, errorOf, PAGE } = require('./support/helpers');

const { RTCClient, ErrorCode, MiniRTCError } = sdk;
wxStandin.install();

const ROOM = 'rejoin-room';
// The shortest ping interval the server allows, and a session timeout with
// room for a late ping on a busy machine.
const PING_MS = 3000;
const SESSION_TIMEOUT_MS = 5000;
const ALICE_QUERY = '?device=alices-phone';
const aliceOffline = (url) => url.endsWith(ALICE_QUERY);

let server;
let alice; // publishes, subscribes to bob; loses her session
let bob; // publishes, subscribes to alice
let carol; // publishes on page C; leaves while alice is away
let dave; // joins while alice is away and publishes on page C
let pageA;
let pageB;
let pageC; // carol's, then dave's: a pusher with tag 'c'
const extra = []; // clients joined by single tests
const errors = []; // 'error' events of alice and bob

function pusherOf(page) {
  return page.instance.selectComponent('#pusher').selectComponent('#rtc-live-pusher');
}
function playerOf(page, streamId) {
  return page.instance.selectComponent('#player-' + streamId).selectComponent('#rtc-live-player');
}
function decoded(player, before, n) {
  return player.frames.video >= before.video + n && player.frames.audio >= before.audio + n;
}
function describePlayer(player) {
  return 'src=' + player.data.src + ' frames=' + JSON.stringify(player.frames) + ' states=' + player.states +
    ' ffmpeg: ' + (player.play && player.play.child.stderrText);
}

async function join(user, opts) {
  const c = new RTCClient(Object.assign({ url: server.wsUrl }, opts));
  await c.join(await server.token(user, { room: ROOM, name: user }), ROOM);
  return c;
}

beforeAll(async () => {
  server = await startServer({
    MINIRTC_SIGNAL_PING_INTERVAL: PING_MS / 1000 + 's',
    MINIRTC_SIGNAL_SESSION_TIMEOUT: SESSION_TIMEOUT_MS / 1000 + 's',
  });
  pageA = wxStandin.render(PAGE);
  pageA.setData({ showPusher: true });
  // Both pages live in one process, and the registry keys pushers by tag:
  // bob's pusher gets its own.
  pageB = wxStandin.render(PAGE);
  pageB.setData({ showPusher: true, tag: 'cam' });
  pageC = wxStandin.render(PAGE);
  pageC.setData({ showPusher: true, tag: 'c' });
  // Alice's queued request must outlive the outage: it is to fail with 9009.
  // Her own URL (the server ignores the query) lets the stand-in take the
  // network away from her alone.
  alice = await join('alice', { url: server.wsUrl + ALICE_QUERY, requestTimeout: 30000 });
  bob = await join('bob');
  carol = await join('carol');
  for (const c of [alice, bob]) c.on('error', (err) => errors.push(err));
});

afterEach(() => {
  wxStandin.host.networkDown = false;
});

afterAll(async () => {
  await Promise.all([alice, bob, carol, dave].concat(extra).filter(Boolean).map((c) => c.leave()));
  if (pageA) pageA.detach();
  if (pageB) pageB.detach();
  if (pageC) pageC.detach();
  await killAll((c) => c.spawnfile === 'ffmpeg');
  if (server) await server.stop();
  expect(alive()).toEqual([]);
});

// Publishes the publisher's stream of tag, waits until the viewer sees it,
// and has the viewer's page render a player and subscribe.
async function publishTo(publisher, tag, viewer, viewerPage, streamId) {
  const seen = nextEvent(viewer, 'streamPublished', (s) => s.id === streamId, 20000);
  const stream = await publisher.publish({ tag });
  expect(stream.id).toBe(streamId);
  await seen;
  viewerPage.setData({ players: viewerPage.data.players.concat([streamId]) });
  await viewer.subscribe(streamId);
  return stream;
}

describe('media events', () => {
  test('alice and bob publish and play each other', async () => {
    // The server took the short liveness settings.
    expect(alice.session.pingIntervalMs).toBe(PING_MS);
    await publishTo(alice, 'main', bob, pageB, 'alice_main');
    await publishTo(bob, 'cam', alice, pageA, 'bob_cam');
    const none = { video: 0, audio: 0 };
    await until(() => decoded(playerOf(pageA, 'bob_cam'), none, 15) && decoded(playerOf(pageB, 'alice_main'), none, 15),
      20000, 'both players to decode').catch((err) => {
      throw new Error(err.message + '\nalice plays ' + describePlayer(playerOf(pageA, 'bob_cam')) +
        '\nbob plays ' + describePlayer(playerOf(pageB, 'alice_main')));
    });
  });

  test('bindaudiovolumenotify of the pusher and the player becomes a volume event', async () => {
    const atAlice = record(alice, ['volume']);
    const atBob = record(bob, ['volume']);

    pusherOf(pageA).triggerEvent('audiovolumenotify', { volume: 37 });
    playerOf(pageB, 'alice_main').triggerEvent('audiovolumenotify', { volume: 12 });
    playerOf(pageA, 'bob_cam').triggerEvent('audiovolumenotify', { volume: 0 });

    // The README's shape: {kind, tag?, streamId, volume}; tag for pushers only.
    expect(atAlice.map((e) => e.arg)).toEqual([
      { kind: 'pusher', tag: 'main', streamId: 'alice_main', volume: 37 },
      { kind: 'player', streamId: 'bob_cam', volume: 0 },
    ]);
    expect(atBob.map((e) => e.arg)).toEqual([{ kind: 'player', streamId: 'alice_main', volume: 12 }]);
    // The pages got bind:audiovolumenotify too, with WeChat's detail.
    expect(pageA.data.pusherVolumes).toEqual([37]);
    expect(pageA.data.playerVolumes).toEqual([0]);
    expect(pageB.data.playerVolumes).toEqual([12]);
  });
});

describe('session lost', () => {
  test('after an outage longer than the session timeout, alice joins again, publishes and subscribes again', async () => {
    // Carol publishes too, and alice plays her.
    await publishTo(carol, 'c', alice, pageA, 'carol_c');
    expect(playerOf(pageA, 'carol_c').data.src).not.toBe('');
    await until(() => bob.getRemoteStreams('carol').length === 1, 5000, 'bob to see carol\'s stream');

    const oldPushUrl = pusherOf(pageA).data.url;
    const oldSrc = playerOf(pageA, 'bob_cam').data.src;
    const aliceLog = record(alice, ['connectionStateChanged', 'userLeft', 'userJoined', 'streamUnpublished', 'streamPublished',
      'streamRepublished', 'streamResubscribed', 'kickedOff', 'roomClosed']);
    const bobLog = record(bob, ['userLeft', 'userJoined', 'streamUnpublished', 'streamPublished']);

    // Alice's network goes away: her open socket dies without a close frame
    // and no new one can open. The others stay online.
    wxStandin.host.networkDown = aliceOffline;
    const reconnecting = nextEvent(alice, 'connectionStateChanged', (s) => s.state === 'reconnecting');
    alice.session.conn.task.kill();
    await reconnecting;
    const outageStart = Date.now();
    // A request made now waits for the connection; the session it was meant
    // for will be gone.
    const queued = alice.sendMessage('chat', 'sent into the outage');
    queued.catch(() => {}); // awaited below

    // The server removes her session: bob sees her stream end and her leave.
    const goneAtBob = nextEvent(bob, 'userLeft', (u) => u.userId === 'alice', SESSION_TIMEOUT_MS + 10000);
    expect(await goneAtBob).toEqual({ userId: 'alice', reason: 'timeout' });
    expect(Date.now() - outageStart).toBeLessThan(SESSION_TIMEOUT_MS + 5000); // not the default 15 s
    expect(bob.getRemoteUser('alice')).toBe(null);
    expect(playerOf(pageB, 'alice_main').data.src).toBe(''); // bob's player was stopped

    // The room changes while she is away: carol leaves, dave joins and
    // publishes (on the pusher carol left).
    const carolGone = nextEvent(bob, 'userLeft', (u) => u.userId === 'carol');
    await carol.leave();
    await carolGone;
    dave = await join('dave');
    const daveLive = nextEvent(bob, 'streamPublished', (st) => st.id === 'dave_c', 20000);
    await dave.publish({ tag: 'c' });
    await daveLive;

    // The network comes back and WeChat says so.
    const firstNewSocket = wxStandin.host.sockets.length;
    wxStandin.host.networkDown = false;
    const republished = nextEvent(alice, 'streamRepublished', null, 15000);
    const resubscribed = nextEvent(alice, 'streamResubscribed', null, 15000);
    const backAtBob = nextEvent(bob, 'streamPublished', (s) => s.id === 'alice_main', 20000);
    const connected = nextEvent(alice, 'connectionStateChanged', (s) => s.state === 'connected');
    wxStandin.emitHost.network(true);
    await connected;
    expect(alice.getConnectionState()).toBe('connected');
    expect(alice.isJoined()).toBe(true);

    // The resume was refused with 2008 and the SDK joined on the same socket.
    const socket = wxStandin.host.sockets.slice(firstNewSocket).filter((s) => s.ws && s.sent.length)[0];
    const sent = socket.sent.map((t) => JSON.parse(t));
    const received = socket.received.map((t) => JSON.parse(t));
    expect(sent[0].op).toBe('resume');
    expect(received.find((f) => f.id === sent[0].id)).toMatchObject({ code: 2008 });
    expect(sent[1].op).toBe('join');
    expect(sent[1].data.room).toBe(ROOM);
    expect(received.find((f) => f.id === sent[1].id)).toMatchObject({ code: 0 });

    // The request of the lost session has an unknown outcome: 9009.
    const lost = await errorOf(queued);
    expect(lost).toBeInstanceOf(MiniRTCError);
    expect(lost.code).toBe(ErrorCode.SESSION_RESET);

    // Alice's page is told what changed while she was away.
    const names = (n) => aliceLog.filter((e) => e.name === n).map((e) => e.arg);
    // Her own stream is not reported; bob's lived on.
    expect(names('streamUnpublished').map((st) => st.id)).toEqual(['carol_c']);
    // Carol left, but the SDK only sees that she is gone (README: 'timeout').
    expect(names('userLeft')).toEqual([{ userId: 'carol', reason: 'timeout' }]);
    expect(names('userJoined').map((u) => u.userId)).toEqual(['dave']);
    expect(names('streamPublished')).toMatchObject([{ id: 'dave_c', userId: 'dave', video: { codec: 'h264' } }]);
    // The player of carol's vanished stream was stopped, not subscribed again.
    expect(playerOf(pageA, 'carol_c').data.src).toBe('');
    expect(alice.remote.subs.has('carol_c')).toBe(false);
    expect(names('kickedOff')).toEqual([]);
    expect(names('roomClosed')).toEqual([]);
    expect(names('connectionStateChanged').map((s) => s.state)).toEqual(['reconnecting', 'connected']);
    expect(alice.getRemoteUsers().map((u) => u.userId).sort()).toEqual(['bob', 'dave']);
    expect(alice.getRemoteStreams().map((st) => st.id).sort()).toEqual(['bob_cam', 'dave_c']);
    expect(alice.getSelf().userId).toBe('alice');

    // Her stream is published again; the pusher gets the fresh URL and pushes it.
    const r = await republished;
    expect(r).toMatchObject({ id: 'alice_main', tag: 'main', mediaType: 'audio_video', reason: 'joined again' });
    expect(r.pushUrl).toMatch(/act=push&/);
    expect(r.pushUrl).not.toBe(oldPushUrl);
    expect(pusherOf(pageA).data.url).toBe(r.pushUrl);
    expect(pusherOf(pageA).pushedUrls.slice(-1)).toEqual([r.pushUrl]);

    // Bob sees her come back and her stream go live again, and subscribes to
    // it as the page does after streamPublished.
    const again = await backAtBob;
    expect(again).toMatchObject({ id: 'alice_main', userId: 'alice', video: { codec: 'h264' }, audio: { codec: 'aac' } });
    const bobNames = (n) => bobLog.filter((e) => e.name === n).map((e) => (n.startsWith('stream') ? e.arg.id : e.arg.userId));
    expect(bobNames('userLeft')).toEqual(['alice', 'carol']);
    expect(bobNames('streamUnpublished')).toEqual(['alice_main', 'carol_c']);
    expect(bobNames('userJoined')).toEqual(['dave', 'alice']);
    expect(bobNames('streamPublished')).toEqual(['dave_c', 'alice_main']);
    const bobPlayer = playerOf(pageB, 'alice_main');
    const bobBefore = Object.assign({}, bobPlayer.frames);
    await bob.subscribe('alice_main');
    expect(bobPlayer.data.src).not.toBe('');

    // Her subscription to bob is made again: a fresh play URL, decoding again.
    const s = await resubscribed;
    expect(s).toMatchObject({ streamId: 'bob_cam', reason: 'joined again' });
    const alicePlayer = playerOf(pageA, 'bob_cam');
    expect(s.src).not.toBe(oldSrc);
    expect(alicePlayer.data.src).toBe(s.src);
    await until(() => alicePlayer.playedUrls.indexOf(s.src) >= 0, 5000, 'alice\'s player to play the fresh URL');
    const aliceBefore = Object.assign({}, alicePlayer.frames);
    await until(() => decoded(alicePlayer, aliceBefore, 15) && decoded(bobPlayer, bobBefore, 15), 20000,
      'both players to decode after the rejoin').catch((err) => {
      throw new Error(err.message + '\nalice plays ' + describePlayer(alicePlayer) + '\nbob plays ' + describePlayer(bobPlayer));
    });
    expect(alicePlayer.play.src).toBe(s.src);
    expect(names('streamRepublished')).toHaveLength(1);
    expect(names('streamResubscribed').map((e) => e.streamId)).toEqual(['bob_cam']);
    expect(errors).toEqual([]);

    // The new session works and keeps working (pings on the new socket).
    const msg = nextEvent(bob, 'message');
    await alice.sendMessage('chat', 'back');
    expect((await msg).content).toBe('back');
  });
});

describe('session lost with an expired token', () => {
  test('joining again fails with 2003 and the session ends', async () => {
    const query = '?device=erins-phone';
    const erin = new RTCClient({ url: server.wsUrl + query });
    extra.push(erin);
    // Valid for the join, expired by the time the session has timed out.
    await erin.join(await server.token('erin', { room: ROOM, ttl: '3s' }), ROOM);
    const log = record(erin, ['connectionStateChanged', 'kickedOff', 'roomClosed', 'error']);

    wxStandin.host.networkDown = (url) => url.endsWith(query);
    const gone = nextEvent(bob, 'userLeft', (u) => u.userId === 'erin', SESSION_TIMEOUT_MS + 10000);
    erin.session.conn.task.kill();
    expect((await gone).reason).toBe('timeout');

    wxStandin.host.networkDown = false;
    const ended = nextEvent(erin, 'connectionStateChanged', (s) => s.state === 'disconnected');
    wxStandin.emitHost.network(true);
    const end = await ended;
    expect(end.error).toBeInstanceOf(MiniRTCError);
    expect(end.error.code).toBe(2003);
    expect(end.error.fromServer).toBe(true);
    expect(log.map((e) => e.name + ':' + (e.arg.state || ''))).toEqual([
      'connectionStateChanged:reconnecting', 'connectionStateChanged:disconnected']);
    expect(erin.isJoined()).toBe(false);
    expect(erin.getRoom()).toBe(null);
    expect(bob.getRemoteUser('erin')).toBe(null);
  });
});

describe('closing the room', () => {
  test('an admin closes the room: everyone is told, media stops, the clients forget the room', async () => {
    const admin = new RTCClient({ url: server.wsUrl });
    extra.push(admin);
    await admin.join(await server.token('teacher', { room: ROOM, grants: 'subscribe,data,admin' }), ROOM);
    await alice.setAttributes({ topic: 'maths' });

    // Without the admin grant: the server's 2006.
    expect((await errorOf(bob.closeRoom('nope'))).code).toBe(2006);

    const everyone = [alice, bob, dave, admin];
    const closed = everyone.map((c) => nextEvent(c, 'roomClosed'));
    const ended = everyone.map((c) => nextEvent(c, 'connectionStateChanged', (s) => s.state === 'disconnected'));
    const logs = everyone.map((c) => record(c, ['userLeft', 'streamUnpublished', 'kickedOff', 'error']));
    await admin.closeRoom('lesson over');

    for (const p of closed) expect(await p).toEqual({ reason: 'lesson over', by: 'teacher' });
    for (const p of ended) {
      const e = await p;
      expect(e.previous).toBe('connected');
      expect(e.error).toBeInstanceOf(MiniRTCError);
      expect(e.error.code).toBe(ErrorCode.SESSION_ENDED);
    }
    // close_room sends no user_left / stream_unpublished (protocol.md close_room).
    for (const log of logs) expect(log).toEqual([]);

    for (const c of everyone) {
      expect(c.isJoined()).toBe(false);
      expect(c.getConnectionState()).toBe('disconnected');
      expect(c.getRoom()).toBe(null);
      expect(c.getSelf()).toBe(null);
      expect(c.getRemoteUsers()).toEqual([]);
      expect(c.getRemoteStreams()).toEqual([]);
      expect((await errorOf(c.sendMessage('chat', 'x'))).code).toBe(ErrorCode.NOT_JOINED);
      expect((await errorOf(c.publish())).code).toBe(ErrorCode.NOT_JOINED);
    }
    // The pushers and players were stopped.
    for (const page of [pageA, pageB, pageC]) {
      expect(pusherOf(page).data.url).toBe('');
      expect(pusherOf(page).push).toBe(null);
    }
    expect(playerOf(pageA, 'bob_cam').data.src).toBe('');
    expect(playerOf(pageA, 'bob_cam').play).toBe(null);
    expect(playerOf(pageB, 'alice_main').data.src).toBe('');
    expect(playerOf(pageB, 'alice_main').play).toBe(null);
    // Nothing restarts them later (a late 3004 from the closed push must not
    // publish again).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(pusherOf(pageA).data.url).toBe('');
    expect(pusherOf(pageB).data.url).toBe('');
    expect(pusherOf(pageC).data.url).toBe('');
    expect(errors).toEqual([]);

    // The room id can be joined again at once: it is a new room.
    const info = await alice.join(await server.token('alice', { room: ROOM }), ROOM);
    expect(info.room.attributes).toEqual({});
    expect(info.users).toEqual([]);
    expect(alice.isJoined()).toBe(true);
  });
});

// The app server acts on a call through the REST API (docs/api.md) and the
// clients comply: force_mute turns the publisher's live-pusher microphone /
// camera off (ffmpeg, standing in for it, then pushes silence / a black
// picture, which bob's player decodes), participant_updated changes names
// and grants, and a grant taken away stops the pusher or the players.
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { startServer } = require('./support/server');
const wxStandin = require('./support/wx');
const { killAll, alive } = require('./support/processes');
const { sdk, nextEvent, until, errorOf, record, PAGE } = require('./support/helpers');

const { RTCClient, Events } = sdk;
wxStandin.install();

const ROOM = 'app-server-room';
const OPERATOR_KEY = 'k-test-operator-key-0123456789abcdef';
let server;
let alice; // publishes
let bob; // plays alice
let pageA;
let pageB;
let aliceLog;

function alicePusher() {
  return pageA.instance.selectComponent('#pusher').selectComponent('#rtc-live-pusher');
}
function bobPlayer() {
  return pageB.instance.selectComponent('#player-alice_main').selectComponent('#rtc-live-player');
}

// Calls the REST API as the app server (the operator key is accepted inside
// every app, docs/api.md) and returns the parsed answer.
async function api(method, path, body) {
  const base = server.wsUrl.replace(/^ws/, 'http').replace(/\/ws$/, '/api/v1/apps/' + server.appId + '/rooms/' + ROOM);
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: 'Bearer ' + OPERATOR_KEY, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(method + ' ' + path + ': ' + res.status + ' ' + text);
  return JSON.parse(text);
}

// The levels bob's player decoded over the last ms milliseconds.
function recent(kind, ms) {
  const since = Date.now() - ms;
  return bobPlayer().levels[kind].filter((l) => l.at >= since).map((l) => l.value);
}
// Half a second of decoded frames, all below (or all above) a threshold.
function steady(kind, test) {
  const values = recent(kind, 500);
  return values.length >= 5 && values.every(test);
}
const SILENT = (db) => db < -60; // AAC-coded digital silence decodes to -inf
const AUDIBLE = (db) => db > -35; // the 440 Hz tone is about -21 dBFS
const BLACK = (y) => y < 20;
const PICTURE = (y) => y > 60; // testsrc averages about 125

beforeAll(async () => {
  server = await startServer({ MINIRTC_API_OPERATOR_KEY: OPERATOR_KEY });
  alice = new RTCClient({ url: server.wsUrl });
  bob = new RTCClient({ url: server.wsUrl, componentTimeout: 300 });
  aliceLog = record(alice, ['error', 'streamRepublished']);
  pageA = wxStandin.render(PAGE);
  pageA.setData({ showPusher: true });
  pageB = wxStandin.render(PAGE);
  await alice.join(await server.token('alice', { room: ROOM, name: 'Alice' }), ROOM);
  await bob.join(await server.token('bob', { room: ROOM, name: 'Bob' }), ROOM);
  const seen = nextEvent(bob, 'streamPublished', (s) => s.id === 'alice_main');
  await alice.publish();
  await seen;
  pageB.setData({ players: ['alice_main'] });
  await bob.subscribe('alice_main');
  await until(() => steady('audio', AUDIBLE) && steady('luma', PICTURE), 20000, 'bob to hear and see alice');
});

afterAll(async () => {
  await Promise.all([alice, bob].filter(Boolean).map((c) => c.leave()));
  if (pageA) pageA.detach();
  if (pageB) pageB.detach();
  await killAll((c) => c.spawnfile === 'ffmpeg');
  if (server) await server.stop();
  expect(alive()).toEqual([]);
});

describe('the app server mutes a publishing user', () => {
  test('force mute: the pusher goes silent, bob hears silence, a local unmute is refused; unmute restores', async () => {
    const told = nextEvent(alice, Events.FORCE_MUTE);
    const changed = nextEvent(bob, 'streamStateChanged', (s) => s.audioLocked);
    const answer = await api('POST', '/streams/alice_main/mute', { audio_muted: true });
    expect(answer.stream).toMatchObject({ audio_muted: true, audio_locked: true });

    expect(await told).toEqual({ streamId: 'alice_main', tag: 'main', audioMuted: true, audioLocked: true, videoLocked: false });
    // What a real live-pusher obeys: enable-mic off, camera untouched, and
    // the push goes on (no new URL).
    expect(alicePusher().data.enableMic).toBe(false);
    expect(alicePusher().data.enableCamera).toBe(true);
    expect(alicePusher().pushedUrls.length).toBe(1);
    expect(alice.isMicOpen()).toBe(false);
    expect(alice.isMicLocked()).toBe(true);
    expect(await changed).toMatchObject({ id: 'alice_main', audioMuted: true, audioLocked: true, videoDisabled: false });
    await until(() => steady('audio', SILENT), 10000, () => 'silence at bob, last levels ' + recent('audio', 500).slice(-5));
    expect(steady('luma', PICTURE)).toBe(true);

    // The user cannot undo it: refused with the server's code, nothing changes.
    const err = await errorOf(alice.openMic());
    expect(err.code).toBe(2006);
    expect(err.message).toMatch(/app server muted the audio of stream alice_main/);
    expect(alicePusher().data.enableMic).toBe(false);
    expect(alice.isMicLocked()).toBe(true);

    const back = nextEvent(alice, 'forceMute');
    const reopened = nextEvent(bob, 'streamStateChanged', (s) => !s.audioMuted);
    await api('POST', '/streams/alice_main/mute', { audio_muted: false });
    expect(await back).toEqual({ streamId: 'alice_main', tag: 'main', audioMuted: false, audioLocked: false, videoLocked: false });
    expect(alicePusher().data.enableMic).toBe(true);
    expect(alice.isMicOpen()).toBe(true);
    expect(alice.isMicLocked()).toBe(false);
    expect(await reopened).toMatchObject({ audioMuted: false, audioLocked: false });
    await until(() => steady('audio', AUDIBLE), 10000, 'bob to hear alice again');
    expect(alicePusher().pushedUrls.length).toBe(1);
  });

  test('force video off: the camera goes off and bob sees black; enabling brings the picture back', async () => {
    const told = nextEvent(alice, 'forceMute');
    await api('POST', '/streams/alice_main/mute', { video_disabled: true });
    expect(await told).toEqual({ streamId: 'alice_main', tag: 'main', videoDisabled: true, audioLocked: false, videoLocked: true });
    expect(alicePusher().data.enableCamera).toBe(false);
    expect(alicePusher().data.enableMic).toBe(true);
    expect(alice.isCameraOpen()).toBe(false);
    expect((await errorOf(alice.openCamera())).code).toBe(2006);
    await until(() => steady('luma', BLACK), 10000, () => 'black at bob, last luma ' + recent('luma', 500).slice(-5));
    expect(steady('audio', AUDIBLE)).toBe(true);

    const back = nextEvent(alice, 'forceMute');
    await api('POST', '/streams/alice_main/mute', { video_disabled: false });
    expect(await back).toMatchObject({ videoDisabled: false, videoLocked: false });
    expect(alicePusher().data.enableCamera).toBe(true);
    await until(() => steady('luma', PICTURE), 10000, 'bob to see alice again');
  });

  test('a user who muted themselves stays muted after the app server unmutes, and the room sees it', async () => {
    await alice.closeMic();
    const muted = nextEvent(alice, 'forceMute');
    await api('POST', '/streams/alice_main/mute', { audio_muted: true });
    await muted;
    // Muting further is allowed while locked.
    await alice.closeMic();

    // The server's unmute clears audio_muted; the SDK keeps the microphone
    // off (the user's choice) and says so again.
    const states = record(bob, ['streamStateChanged']);
    const unlocked = nextEvent(alice, 'forceMute');
    await api('POST', '/streams/alice_main/mute', { audio_muted: false });
    expect(await unlocked).toMatchObject({ audioMuted: false, audioLocked: false });
    expect(alicePusher().data.enableMic).toBe(false);
    expect(alice.isMicOpen()).toBe(false);
    await until(() => states.length >= 2, 5000, 'the unmute and the user mute at bob');
    expect(states.map((e) => e.arg.audioMuted)).toEqual([false, true]);
    const room = await api('GET', '');
    const st = room.participants.find((p) => p.user_id === 'alice').streams.find((s) => s.id === 'alice_main');
    expect(st.audio_muted).toBe(true);
    expect(st.audio_locked).toBeUndefined();
    await until(() => steady('audio', SILENT), 10000, 'silence at bob');

    await alice.openMic();
    expect(alicePusher().data.enableMic).toBe(true);
    await until(() => steady('audio', AUDIBLE), 10000, 'bob to hear alice again');
  });

  test('the lock outlives the stream: publishing again starts with the microphone off', async () => {
    const muted = nextEvent(alice, 'forceMute');
    await api('POST', '/streams/alice_main/mute', { audio_muted: true });
    await muted;
    const gone = nextEvent(bob, 'streamUnpublished');
    await alice.unpublish();
    await gone;
    const again = nextEvent(bob, 'streamPublished', (s) => s.id === 'alice_main');
    await alice.publish();
    // Set before the URL, so that the push starts silent.
    expect(alicePusher().deviceLog.slice(-1)[0]).toEqual({ micOn: false, cameraOn: true });
    expect(alicePusher().data.enableMic).toBe(false);
    expect(alice.isMicLocked()).toBe(true);
    expect(await again).toMatchObject({ audioMuted: true, audioLocked: true });
    expect((await errorOf(alice.openMic())).code).toBe(2006);

    await bob.subscribe('alice_main');
    await until(() => steady('audio', SILENT) && steady('luma', PICTURE), 20000, 'bob to see alice, silent');
    const back = nextEvent(alice, 'forceMute');
    await api('POST', '/streams/alice_main/mute', { audio_muted: false });
    await back;
    await until(() => steady('audio', AUDIBLE), 10000, 'bob to hear alice again');
  });
});

describe('the app server updates participants', () => {
  test('a new name and metadata: both users see participantUpdated; only bob sees his grants', async () => {
    const atBob = nextEvent(bob, Events.PARTICIPANT_UPDATED);
    const atAlice = nextEvent(alice, 'participantUpdated');
    await api('PATCH', '/participants/bob', { name: 'Bob (guest)', metadata: '{"seat":3}' });
    const mine = await atBob;
    expect(mine).toMatchObject({ userId: 'bob', name: 'Bob (guest)', metadata: '{"seat":3}' });
    expect(mine.grants.slice().sort()).toEqual(['data', 'publish', 'subscribe']);
    const theirs = await atAlice;
    expect(theirs).toMatchObject({ userId: 'bob', name: 'Bob (guest)', metadata: '{"seat":3}' });
    expect(theirs.grants).toBeUndefined();
    expect(bob.getSelf()).toMatchObject({ name: 'Bob (guest)', metadata: '{"seat":3}' });
    expect(alice.getRemoteUser('bob')).toMatchObject({ name: 'Bob (guest)', metadata: '{"seat":3}', streams: [] });
  });

  test('bob loses subscribe: his player stops; alice loses publish: her pusher stops and is not re-published', async () => {
    const player = bobPlayer();
    expect(player.data.src).not.toBe('');
    const bobUpdated = nextEvent(bob, 'participantUpdated', (u) => u.userId === 'bob');
    await api('PATCH', '/participants/bob', { grants: ['publish', 'data'] });
    expect((await bobUpdated).grants.slice().sort()).toEqual(['data', 'publish']);
    expect(player.data.src).toBe('');
    expect(bob.getSelf().grants.indexOf('subscribe')).toBe(-1);
    expect((await errorOf(bob.subscribe('alice_main'))).code).toBe(2006);

    const pushed = alicePusher().pushedUrls.length;
    const aliceUpdated = nextEvent(alice, 'participantUpdated', (u) => u.userId === 'alice');
    const unpublished = nextEvent(bob, 'streamUnpublished', (s) => s.id === 'alice_main');
    const errorsBefore = aliceLog.length;
    await api('PATCH', '/participants/alice', { grants: ['subscribe', 'data'] });
    expect((await aliceUpdated).grants.slice().sort()).toEqual(['data', 'subscribe']);
    await unpublished;
    expect(alicePusher().data.url).toBe('');
    expect(alicePusher().push).toBe(null);
    // Nothing tries to publish again (it would be refused with 2006).
    await new Promise((r) => setTimeout(r, 1500));
    expect(alicePusher().pushedUrls.length).toBe(pushed);
    expect(aliceLog.slice(errorsBefore)).toEqual([]);
    expect((await errorOf(alice.publish())).code).toBe(2006);
  });
});

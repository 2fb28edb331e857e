// A two-person call with real media: the SDK in miniprogram-simulate, a real
// minirtc server, ffmpeg pushing where <rtc-pusher> is told to push and
// decoding what <rtc-player> is told to play.
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { startServer } = require('./support/server');
const wxStandin = require('./support/wx');
const { killAll, alive } = require('./support/processes');
const { sdk, nextEvent, until, errorOf, record, PAGE } = require('./support/helpers');

const { RTCClient, ErrorCode } = sdk;
wxStandin.install();

const ROOM = 'call-room';
let server;
let alice; // publishes
let bob; // subscribes
let pageA;
let pageB;
let published; // alice's stream as bob first saw it

// The stand-in <live-pusher> inside alice's <rtc-pusher>.
function alicePusher() {
  return pageA.instance.selectComponent('#pusher').selectComponent('#rtc-live-pusher');
}
function bobPlayer(streamId) {
  return pageB.instance.selectComponent('#player-' + streamId).selectComponent('#rtc-live-player');
}
function frames(player) {
  return Object.assign({}, player.frames);
}

beforeAll(async () => {
  server = await startServer();
  alice = new RTCClient({ url: server.wsUrl });
  bob = new RTCClient({ url: server.wsUrl, componentTimeout: 300 });
  pageA = wxStandin.render(PAGE);
  pageA.setData({ showPusher: true });
  pageB = wxStandin.render(PAGE);
  await alice.join(await server.token('alice', { room: ROOM, name: 'Alice' }), ROOM);
  await bob.join(await server.token('bob', { room: ROOM, name: 'Bob' }), ROOM);
});

afterAll(async () => {
  await Promise.all([alice, bob].filter(Boolean).map((c) => c.leave()));
  if (pageA) pageA.detach();
  if (pageB) pageB.detach();
  await killAll((c) => c.spawnfile === 'ffmpeg');
  if (server) await server.stop();
  expect(alive()).toEqual([]);
});

describe('two-person call', () => {
  test('alice publishes; bob sees the stream with its codecs, subscribes, and decodes video and audio', async () => {
    const seen = nextEvent(bob, 'streamPublished');
    const stream = await alice.publish({ tag: 'main', mediaType: 'audio_video' });
    expect(stream.id).toBe('alice_main');
    expect(stream.pushUrl).toMatch(/^rtmp:\/\/127\.0\.0\.1:\d+\/app[a-z0-9]+\/call-room\/alice_main\?act=push&/);
    // The URL went into the component, and ffmpeg (the pusher) pushes to it.
    expect(alicePusher().data.url).toBe(stream.pushUrl);
    expect(alicePusher().pushedUrls).toEqual([stream.pushUrl]);

    published = await seen;
    expect(published).toMatchObject({
      id: 'alice_main', userId: 'alice', tag: 'main', mediaType: 'audio_video', audioMuted: false, videoDisabled: false,
      video: { codec: 'h264', width: 320, height: 240 },
      audio: { codec: 'aac', sampleRate: 48000, channels: 1 },
    });
    expect(bob.getRemoteStreams('alice').map((s) => s.id)).toEqual(['alice_main']);
    expect(bob.getRemoteUser('alice').streams.map((s) => s.id)).toEqual(['alice_main']);
    // The pusher's 1002 went through <rtc-pusher> to the page.
    await until(() => pageA.data.pusherStates.indexOf(1002) >= 0, 5000, 'the page to see 1002');

    // No <rtc-player stream-id="alice_main"> yet: subscribe refuses.
    const missing = await errorOf(bob.subscribe('alice_main'));
    expect(missing.code).toBe(ErrorCode.COMPONENT_MISSING);

    // The page renders a player for the stream, and bob subscribes.
    const bobStats = record(bob, ['stats']);
    pageB.setData({ players: ['alice_main'] });
    const sub = await bob.subscribe(['alice_main'], { protocol: 'rtmp' });
    expect(sub.subscriptions).toEqual(['alice_main']);
    expect(sub.urls.alice_main.rtmp).toMatch(/act=play&.*user=bob/);
    expect(sub.urls.alice_main.flv).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/flv\//);
    const player = bobPlayer('alice_main');
    expect(player.data.src).toBe(sub.urls.alice_main.rtmp);

    await until(() => player.frames.video >= 30 && player.frames.audio >= 30, 20000, 'decoded video and audio frames');
    expect(pageB.data.playerStates).toContain(2004);
    expect(bobStats.some((e) => e.arg.kind === 'player' && e.arg.type === 'state' && e.arg.code === 2004 && e.arg.streamId === 'alice_main')).toBe(true);

    // The state codes were reported to the server as well.
    const reports = await server.reports(ROOM, 'bob');
    expect(reports.some((r) => r.kind === 'player' && r.stream === 'alice_main' && r.data.code === 2004)).toBe(true);
    const pusherReports = await server.reports(ROOM, 'alice');
    expect(pusherReports.some((r) => r.kind === 'pusher' && r.data.type === 'state' && r.data.code === 1002)).toBe(true);
  });

  test('camera and microphone: muting reaches bob as a state change', async () => {
    const muted = nextEvent(bob, 'streamStateChanged', (s) => s.audioMuted);
    await alice.closeMic();
    expect(alice.isMicOpen()).toBe(false);
    expect(alicePusher().data.enableMic).toBe(false);
    expect(await muted).toMatchObject({ id: 'alice_main', audioMuted: true, videoDisabled: false });

    const unmuted = nextEvent(bob, 'streamStateChanged', (s) => !s.audioMuted);
    await alice.openMic();
    expect(await unmuted).toMatchObject({ audioMuted: false });
    expect(alicePusher().data.enableMic).toBe(true);

    const dark = nextEvent(bob, 'streamStateChanged', (s) => s.videoDisabled);
    await alice.closeCamera();
    expect(alice.isCameraOpen()).toBe(false);
    expect(alicePusher().data.enableCamera).toBe(false);
    await dark;
    const light = nextEvent(bob, 'streamStateChanged', (s) => !s.videoDisabled);
    await alice.openCamera();
    await light;
    expect(bob.getRemoteStreams('alice')[0]).toMatchObject({ audioMuted: false, videoDisabled: false });

    await alice.switchCamera();
    expect(alicePusher().calls).toContain('switchCamera');
  });

  test('local mute and audio output change bob\'s player only', async () => {
    await bob.muteRemoteStream('alice_main', true);
    expect(bobPlayer('alice_main').data.muted).toBe(true);
    await bob.setAudioOutput('ear');
    expect(bobPlayer('alice_main').data.soundMode).toBe('ear');
    await bob.muteRemoteStream('alice_main', false);
    await bob.setAudioOutput('speaker');
    expect(bobPlayer('alice_main').data.muted).toBe(false);
    expect(bobPlayer('alice_main').data.soundMode).toBe('speaker');
  });

  test('live-player -2301: bob subscribes again and plays a fresh URL', async () => {
    const player = bobPlayer('alice_main');
    const before = frames(player);
    const plays = player.playedUrls.length;
    const again = nextEvent(bob, 'streamResubscribed');
    player.triggerEvent('statechange', { code: -2301, message: 'simulated' });
    const r = await again;
    expect(r.streamId).toBe('alice_main');
    expect(player.data.src).toBe(r.src);
    await until(() => player.playedUrls.length > plays, 5000, 'the player to restart');
    await until(() => player.frames.video >= before.video + 15 && player.frames.audio >= before.audio + 15, 20000, 'frames after re-subscribing');
  });

  test('live-pusher -1307: alice publishes again and the pusher gets the fresh URL', async () => {
    const oldUrl = alicePusher().data.url;
    const gone = nextEvent(bob, 'streamUnpublished');
    const back = nextEvent(bob, 'streamPublished');
    const republished = nextEvent(alice, 'streamRepublished');
    alicePusher().triggerEvent('statechange', { code: -1307, message: 'simulated: gave up reconnecting' });

    const r = await republished;
    expect(r.id).toBe('alice_main');
    expect(r.pushUrl).not.toBe(oldUrl);
    expect(alicePusher().data.url).toBe(r.pushUrl);
    expect(alicePusher().pushedUrls.slice(-1)).toEqual([r.pushUrl]);

    // Bob sees the stream end and come back, and plays it again.
    expect((await gone).id).toBe('alice_main');
    expect(bobPlayer('alice_main').data.src).toBe('');
    expect((await back).video.codec).toBe('h264');
    const player = bobPlayer('alice_main');
    const before = frames(player);
    await bob.subscribe('alice_main');
    await until(() => player.frames.video >= before.video + 15 && player.frames.audio >= before.audio + 15, 20000, 'frames of the re-published stream');
  });

  test('unsubscribe stops the player; leave stops the pusher', async () => {
    const player = bobPlayer('alice_main');
    await bob.unsubscribe('alice_main');
    expect(player.data.src).toBe('');
    expect(player.play).toBe(null);

    const gone = nextEvent(bob, 'userLeft');
    await alice.leave();
    expect(alicePusher().data.url).toBe('');
    expect(alicePusher().push).toBe(null);
    expect(await gone).toEqual({ userId: 'alice', reason: 'left' });
    expect(bob.getRemoteStreams()).toEqual([]);
  });

  test('publishing needs a pusher for the tag', async () => {
    const carol = new RTCClient({ url: server.wsUrl, componentTimeout: 200 });
    await carol.join(await server.token('carol', { room: ROOM }), ROOM);
    const err = await errorOf(carol.publish({ tag: 'screen' }));
    expect(err.code).toBe(ErrorCode.COMPONENT_MISSING);
    expect(err.message).toMatch(/rtc-pusher tag="screen"/);
    await carol.leave();
  });
});

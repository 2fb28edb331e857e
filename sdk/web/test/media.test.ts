// Media against peers nobody here wrote: Chromium's own WebRTC stack (fake
// camera: a test pattern; fake microphone: a beep) and ffmpeg over RTMP and
// HTTP-FLV. The WebRTC tests need a server whose join answer carries
// `webrtc`; against one without, they are skipped and the SDK's refusal is
// tested instead.
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { h, hError, startBrowser, until, waitEvent, type Pages } from './support/browser';
import { decode, push } from './support/ffmpeg';
import { NodeClient, serverHasWebRTC } from './support/node-client';
import { killAll } from './support/processes';
import { startServer, type TestServer } from './support/server';

let server: TestServer;
let browser: Pages;
let webrtc = false;
const pages: Page[] = [];
const nodeClients: NodeClient[] = [];

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), startBrowser()]);
  const probe = await NodeClient.connect(server.wsUrl, await server.token('probe'), 'probe');
  webrtc = serverHasWebRTC(probe.join);
  probe.close();
});

afterEach(async () => {
  await killAll((c) => c !== server.process);
  for (const c of nodeClients.splice(0)) c.close();
  for (const p of pages.splice(0)) await p.close();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function page(name: string, user: string, room: string, options?: Record<string, unknown>): Promise<Page> {
  const p = await browser.harness();
  pages.push(p);
  await h(p, 'create', name, server.wsUrl, options);
  await h(p, 'call', name, 'join', await server.token(user), room);
  return p;
}

async function nodeClient(user: string, room: string): Promise<NodeClient> {
  const c = await NodeClient.connect(server.wsUrl, await server.token(user), room);
  nodeClients.push(c);
  return c;
}

/** A Node participant publishing an ffmpeg test pattern over RTMP; resolves when it is live. */
async function ffmpegPublisher(user: string, room: string): Promise<NodeClient> {
  const c = await nodeClient(user, room);
  const pub = await c.request('publish', { tag: 'main', media: 'audio_video' });
  push(String(pub.push_url));
  await c.waitEvent('stream_published', (d) => (d.stream as { id: string }).id === user + '_main', 15000);
  return c;
}

interface VideoProbe {
  frames: number;
  width: number;
  height: number;
  currentTime: number;
}

async function expectVideo(p: Page, client: string, streamId: string, width?: number): Promise<void> {
  const v = await h<VideoProbe>(p, 'video', client, streamId, 10, 10000);
  expect(v.frames, JSON.stringify(v)).toBeGreaterThanOrEqual(10);
  expect(v.width).toBeGreaterThan(0);
  if (width) expect(v.width).toBe(width);
  expect(v.currentTime).toBeGreaterThan(0);
}

async function expectSound(p: Page, client: string, streamId: string): Promise<void> {
  const a = await h<{ rms: number }>(p, 'audio', client, streamId, 0.01, 8000);
  expect(a.rms, 'RMS level of ' + streamId).toBeGreaterThan(0.01);
}

describe('media', () => {
  it('refuses WebRTC with 9010 when the server does not take it', async (ctx) => {
    if (webrtc) ctx.skip();
    await ffmpegPublisher('carol', 'no-webrtc');
    const p = await page('a', 'alice', 'no-webrtc');
    expect(await h(p, 'call', 'a', 'supportsWebRTC')).toBe(false);
    expect((await hError(p, 'call', 'a', 'publish')).code).toBe(9010);
    expect([9010, 3013]).toContain((await hError(p, 'call', 'a', 'subscribe', 'carol_main')).code);
  });

  it('two browsers see and hear each other over WebRTC', async (ctx) => {
    if (!webrtc) ctx.skip();
    const a = await page('a', 'alice', 'call');
    const b = await page('b', 'bob', 'call', { statsInterval: 1000 });
    // A choice made before publishing applies to it: bob's stream goes live with the picture off.
    await h(b, 'call', 'b', 'closeCamera');
    const [pa, pb] = await Promise.all([h<{ id: string; mediaType: string }>(a, 'call', 'a', 'publish'), h<{ id: string }>(b, 'call', 'b', 'publish')]);
    expect(pa).toMatchObject({ id: 'alice_main', tag: 'main', mediaType: 'audio_video', source: 'camera', stream: { mediaStream: ['audio', 'video'] } });
    expect(pb.id).toBe('bob_main');

    const live = await waitEvent(b, 'b', 'streamPublished', (s) => s.id === 'alice_main');
    expect(live).toMatchObject({ userId: 'alice', mediaType: 'audio_video', video: { codec: 'h264' } });
    expect(await waitEvent(a, 'a', 'streamPublished', (s) => s.id === 'bob_main')).toMatchObject({ videoDisabled: true, audioMuted: false });
    await h(b, 'call', 'b', 'openCamera');
    await waitEvent(a, 'a', 'streamStateChanged', (s) => s.id === 'bob_main' && s.videoDisabled === false);
    const sub = await h<{ subscriptions: string[]; streams: Record<string, { mediaStream: string[] }> }>(b, 'call', 'b', 'subscribe', 'alice_main');
    expect(sub.subscriptions).toEqual(['alice_main']);
    expect(sub.streams.alice_main!.mediaStream).toEqual(['audio', 'video']);
    await h(a, 'call', 'a', 'subscribe', ['bob_main']);
    expect(await waitEvent(b, 'b', 'remoteStream', (e) => e.streamId === 'alice_main')).toMatchObject({ stream: { mediaStream: ['audio', 'video'] } });

    await Promise.all([expectVideo(b, 'b', 'alice_main'), expectVideo(a, 'a', 'bob_main')]);
    await Promise.all([expectSound(b, 'b', 'alice_main'), expectSound(a, 'a', 'bob_main')]);

    const stats = await h<Array<{ streamId: string; direction: string; video?: { frames: number; codec: string }; audio?: { packets: number } }>>(b, 'stats', 'b');
    const recv = stats.find((s) => s.direction === 'recv' && s.streamId === 'alice_main');
    expect(recv?.video?.frames).toBeGreaterThan(0);
    expect(recv?.video?.codec).toBe('h264');
    expect(recv?.audio?.packets).toBeGreaterThan(0);
    expect(stats.find((s) => s.direction === 'send' && s.streamId === 'bob_main')?.video?.frames).toBeGreaterThan(0);

    // The periodic sample: a stats event, and a report the server stores.
    const sample = await waitEvent(b, 'b', 'stats', (list) => (list as unknown as Array<{ streamId: string }>).some((s) => s.streamId === 'alice_main'));
    expect(sample).toBeTruthy();
    const reports = await until(async () => {
      const list = await server.reports('call', 'bob');
      return list.some((r) => r.kind === 'webrtc_recv') ? list : null;
    }, 10000, "bob's webrtc_recv report");
    expect(reports.find((r) => r.kind === 'webrtc_recv')).toMatchObject({ stream: 'alice_main' });

    // Owner-side mute reaches the others; local mute stays local.
    await h(a, 'call', 'a', 'closeMic');
    expect(await waitEvent(b, 'b', 'streamStateChanged', (s) => s.id === 'alice_main' && s.audioMuted === true)).toBeTruthy();
    await h(b, 'call', 'b', 'muteRemoteStream', 'bob_main');
    expect(await h(b, 'call', 'b', 'isRemoteStreamMuted', 'bob_main')).toBe(true);

    await h(a, 'call', 'a', 'unpublish');
    await waitEvent(b, 'b', 'streamUnpublished', (s) => s.id === 'alice_main');
    expect(await h(b, 'call', 'b', 'getRemoteMediaStream', 'alice_main')).toBe(null);
  });

  it('sends a screen as a second stream; dropping one subscription keeps the other playing', async (ctx) => {
    if (!webrtc) ctx.skip();
    const a = await page('a', 'alice', 'screen');
    const b = await page('b', 'bob', 'screen');
    await h(a, 'call', 'a', 'publish');
    const screen = await h<{ id: string; mediaType: string; source: string }>(a, 'call', 'a', 'publish', { tag: 'screen', source: 'screen' });
    expect(screen).toMatchObject({ id: 'alice_screen', mediaType: 'video', source: 'screen' });
    expect((await hError(a, 'call', 'a', 'publish', { tag: 'screen', source: 'screen' })).code).toBe(3004);
    await waitEvent(b, 'b', 'streamPublished', (s) => s.id === 'alice_main');
    await waitEvent(b, 'b', 'streamPublished', (s) => s.id === 'alice_screen');
    const sub = await h<{ subscriptions: string[]; streams: Record<string, { mediaStream: string[] }> }>(b, 'call', 'b', 'subscribe', ['alice_main', 'alice_screen']);
    expect(sub.subscriptions).toEqual(['alice_main', 'alice_screen']);
    expect(sub.streams.alice_screen!.mediaStream).toContain('video');
    await Promise.all([expectVideo(b, 'b', 'alice_main'), expectVideo(b, 'b', 'alice_screen')]);

    // The server offers again without the screen; the camera plays on.
    expect(await h(b, 'call', 'b', 'unsubscribe', 'alice_screen')).toEqual({ subscriptions: ['alice_main'] });
    expect(await h(b, 'call', 'b', 'getRemoteMediaStream', 'alice_screen')).toBe(null);
    await expectVideo(b, 'b', 'alice_main');
    await expectSound(b, 'b', 'alice_main');
  });

  it('plays an RTMP stream pushed by ffmpeg over WebRTC', async (ctx) => {
    if (!webrtc) ctx.skip();
    await ffmpegPublisher('carol', 'rtmp-in');
    const p = await page('a', 'alice', 'rtmp-in');
    const streams = await h<Array<{ id: string }>>(p, 'call', 'a', 'getRemoteStreams');
    expect(streams.map((s) => s.id)).toEqual(['carol_main']);
    const sub = await h<{ streams: Record<string, { mediaStream: string[] }> }>(p, 'call', 'a', 'subscribe', 'carol_main');
    expect(sub.streams.carol_main!.mediaStream).toEqual(['audio', 'video']);
    await expectVideo(p, 'a', 'carol_main', 640);
    await expectSound(p, 'a', 'carol_main');
  });

  it('publishes H.264 and Opus that ffmpeg plays as H.264 and AAC over FLV and RTMP', async (ctx) => {
    if (!webrtc) ctx.skip();
    const p = await page('a', 'dave', 'webrtc-out');
    const viewer = await nodeClient('erin', 'webrtc-out');
    await h(p, 'call', 'a', 'publish');
    await viewer.waitEvent('stream_published', (d) => (d.stream as { id: string }).id === 'dave_main', 15000);
    const sub = await viewer.request('subscribe', { streams: ['dave_main'], transport: 'url' });
    const urls = (sub.urls as Record<string, { flv: string; rtmp: string }>).dave_main!;
    const [flv, rtmp] = await Promise.all([decode(urls.flv, 5), decode(urls.rtmp, 5)]);
    for (const [name, d] of [['flv', flv], ['rtmp', rtmp]] as const) {
      const why = name + ':\n' + d.streams.join('\n') + '\n' + d.log.slice(-1500);
      expect(d.streams.some((s) => /Video: h264/.test(s)), why).toBe(true);
      expect(d.streams.some((s) => /Audio: aac/.test(s)), why).toBe(true);
      expect(d.videoFrames, why).toBeGreaterThanOrEqual(30);
      expect(d.audioFrames, why).toBeGreaterThanOrEqual(100);
      // Lip sync at the start: audio begins within 500 ms of the picture.
      expect(Math.abs(d.firstAudioPts! - d.firstVideoPts!), why).toBeLessThan(0.5);
    }
  });

  it('publishes and subscribes again when the server closes a peer connection', async (ctx) => {
    if (!webrtc) ctx.skip();
    // A server that gives up on a silent peer within seconds.
    const quick = await startServer({ MINIRTC_WEBRTC_DISCONNECTED_TIMEOUT: '2s', MINIRTC_WEBRTC_FAILED_TIMEOUT: '2s' });
    try {
      const open = async (name: string, user: string) => {
        const p = await browser.harness();
        pages.push(p);
        await h(p, 'create', name, quick.wsUrl);
        await h(p, 'call', name, 'join', await quick.token(user), 'closed');
        return p;
      };
      const a = await open('a', 'alice');
      const b = await open('b', 'bob');
      await h(a, 'call', 'a', 'publish');
      await waitEvent(b, 'b', 'streamPublished', (s) => s.id === 'alice_main');
      await h(b, 'call', 'b', 'subscribe', 'alice_main');
      await expectVideo(b, 'b', 'alice_main');

      // The downlink dies: webrtc_closed {target: downlink}, and bob subscribes again.
      await h(b, 'killPeer', 'b', 'downlink');
      expect(await waitEvent(b, 'b', 'streamResubscribed', () => true, 20000)).toMatchObject({ streamId: 'alice_main' });
      await expectVideo(b, 'b', 'alice_main');

      // Alice's uplink dies: webrtc_closed {target: main}, and she publishes again.
      await h(a, 'killPeer', 'a', 'main');
      expect(await waitEvent(a, 'a', 'streamRepublished', () => true, 20000)).toMatchObject({ id: 'alice_main', tag: 'main' });
      await until(async () => (await h<Array<{ name: string; arg: { id?: string } }>>(b, 'log', 'b'))
        .filter((e) => e.name === 'streamPublished' && e.arg.id === 'alice_main').length >= 2, 20000, 'alice_main live again');
      await h(b, 'call', 'b', 'subscribe', 'alice_main');
      await expectVideo(b, 'b', 'alice_main');
      const logA = await h<Array<{ name: string; arg: unknown }>>(a, 'log', 'a');
      const logB = await h<Array<{ name: string; arg: unknown }>>(b, 'log', 'b');
      expect(logA.filter((e) => e.name === 'streamRepublished').length).toBe(1);
      expect(logB.filter((e) => e.name === 'streamResubscribed').length).toBe(1);
      expect([...logA, ...logB].filter((e) => e.name === 'error')).toEqual([]);
    } finally {
      for (const p of pages.splice(0)) await p.close();
      await quick.stop();
    }
  });
});

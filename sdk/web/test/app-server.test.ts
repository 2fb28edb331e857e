// The app server acts on a call through the REST API (docs/api.md) and the
// browsers comply: force_mute disables the published track (Chromium then
// sends silence, which the other browser's WebAudio measures), a local
// unmute is refused while locked, participant_updated changes names and
// grants, and a grant taken away closes what it allowed.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h, hError, startBrowser, until, waitEvent, type LoggedEvent, type Pages } from './support/browser';
import { NodeClient, serverHasWebRTC } from './support/node-client';
import { startServer, type TestServer } from './support/server';

const OPERATOR_KEY = 'k-web-test-operator-key-0123456789abcdef';
const ROOM = 'app-server';
let server: TestServer;
let browser: Pages;
let webrtc = false;
let a: Page; // alice publishes her camera
let b: Page; // bob plays it

async function api(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(server.httpBase + '/api/v1/apps/' + server.appId + '/rooms/' + ROOM + path, {
    method,
    headers: { Authorization: 'Bearer ' + OPERATOR_KEY, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(method + ' ' + path + ': ' + res.status + ' ' + text);
  return JSON.parse(text) as Record<string, unknown>;
}

// Chromium's fake microphone beeps about once a second: two seconds without
// a sample above this are silence.
const SILENCE = 0.003;
const SOUND = 0.01;

/** The loudest RMS level of alice's audio at bob over the next ms. */
async function loudest(ms: number): Promise<number> {
  return (await h<{ rms: number }>(b, 'audio', 'b', 'alice_main', 2, ms)).rms;
}

/** The level of alice's audio at bob once it reaches SOUND (or the loudest within 8 s). */
async function hears(): Promise<number> {
  return (await h<{ rms: number }>(b, 'audio', 'b', 'alice_main', SOUND, 8000)).rms;
}

async function events(p: Page, client: string, name: string): Promise<Array<Record<string, unknown>>> {
  return (await h<LoggedEvent[]>(p, 'log', client)).filter((e) => e.name === name).map((e) => e.arg);
}

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ MINIRTC_API_OPERATOR_KEY: OPERATOR_KEY }), startBrowser()]);
  const probe = await NodeClient.connect(server.wsUrl, await server.token('probe'), 'probe');
  webrtc = serverHasWebRTC(probe.join);
  probe.close();
  if (!webrtc) return;
  a = await browser.harness();
  b = await browser.harness();
  await h(a, 'create', 'a', server.wsUrl);
  await h(b, 'create', 'b', server.wsUrl);
  await h(a, 'call', 'a', 'join', await server.token('alice', { name: 'Alice' }), ROOM);
  await h(b, 'call', 'b', 'join', await server.token('bob', { name: 'Bob' }), ROOM);
  await h(a, 'call', 'a', 'publish');
  await waitEvent(b, 'b', 'streamPublished', (s) => s.id === 'alice_main');
  await h(b, 'call', 'b', 'subscribe', 'alice_main');
  expect(await hears()).toBeGreaterThan(SOUND);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the app server mutes a browser', () => {
  it('force mute disables the audio track: the other browser hears silence; a local unmute is refused; unmute restores', async (ctx) => {
    if (!webrtc) ctx.skip();
    const answer = await api('POST', '/streams/alice_main/mute', { audio_muted: true });
    expect(answer.stream).toMatchObject({ audio_muted: true, audio_locked: true });
    expect(await waitEvent(a, 'a', 'forceMute')).toEqual({ streamId: 'alice_main', tag: 'main', audioMuted: true, audioLocked: true, videoLocked: false });
    expect(await h(a, 'tracks', 'a', 'main')).toMatchObject([{ kind: 'audio', enabled: false, readyState: 'live' }, { kind: 'video', enabled: true }]);
    expect(await h(a, 'call', 'a', 'isMicOpen')).toBe(false);
    expect(await h(a, 'call', 'a', 'isMicLocked')).toBe(true);
    expect(await waitEvent(b, 'b', 'streamStateChanged', (s) => s.audioLocked === true)).toMatchObject({ id: 'alice_main', audioMuted: true });
    await until(async () => (await loudest(2000)) < SILENCE, 15000, 'silence at bob');

    const refused = await hError(a, 'call', 'a', 'openMic');
    expect(refused.code).toBe(2006);
    expect(refused.message).toMatch(/app server muted the audio of stream alice_main/);
    expect(await h(a, 'tracks', 'a', 'main')).toMatchObject([{ kind: 'audio', enabled: false }, { kind: 'video', enabled: true }]);

    await api('POST', '/streams/alice_main/mute', { audio_muted: false });
    await until(async () => (await events(a, 'a', 'forceMute')).length === 2, 5000, 'the unmute at alice');
    expect((await events(a, 'a', 'forceMute'))[1]).toEqual({ streamId: 'alice_main', tag: 'main', audioMuted: false, audioLocked: false, videoLocked: false });
    expect(await h(a, 'tracks', 'a', 'main')).toMatchObject([{ kind: 'audio', enabled: true }, { kind: 'video', enabled: true }]);
    expect(await h(a, 'call', 'a', 'isMicOpen')).toBe(true);
    expect(await hears()).toBeGreaterThan(SOUND);
  });

  it('force video off disables the video track; a user who closed the camera keeps it closed after the unmute', async (ctx) => {
    if (!webrtc) ctx.skip();
    await h(a, 'call', 'a', 'closeCamera');
    await api('POST', '/streams/alice_main/mute', { video_disabled: true });
    await until(async () => (await events(a, 'a', 'forceMute')).length === 3, 5000, 'the video lock at alice');
    expect((await events(a, 'a', 'forceMute'))[2]).toMatchObject({ videoDisabled: true, videoLocked: true });
    expect((await hError(a, 'call', 'a', 'openCamera')).code).toBe(2006);
    expect(await h(a, 'tracks', 'a', 'main')).toMatchObject([{ kind: 'audio', enabled: true }, { kind: 'video', enabled: false }]);

    const before = (await events(b, 'b', 'streamStateChanged')).length;
    await api('POST', '/streams/alice_main/mute', { video_disabled: false });
    await until(async () => (await events(a, 'a', 'forceMute')).length === 4, 5000, 'the video unlock at alice');
    // Still off (the user's choice), and the room is told so again.
    expect(await h(a, 'tracks', 'a', 'main')).toMatchObject([{ kind: 'audio', enabled: true }, { kind: 'video', enabled: false }]);
    const states = await until(async () => {
      const list = (await events(b, 'b', 'streamStateChanged')).slice(before);
      return list.length >= 2 ? list : null;
    }, 5000, 'the unlock and the user mute at bob');
    expect(states.map((s) => s.videoDisabled)).toEqual([false, true]);
    await h(a, 'call', 'a', 'openCamera');
    expect(await h(a, 'tracks', 'a', 'main')).toMatchObject([{ kind: 'audio', enabled: true }, { kind: 'video', enabled: true }]);
  });
});

describe('the app server updates participants', () => {
  it('a new name reaches both browsers; only bob sees his grants', async (ctx) => {
    if (!webrtc) ctx.skip();
    await api('PATCH', '/participants/bob', { name: 'Bob (guest)', metadata: 'seat 3' });
    const mine = await waitEvent(b, 'b', 'participantUpdated');
    expect(mine).toMatchObject({ userId: 'bob', name: 'Bob (guest)', metadata: 'seat 3' });
    expect((mine.grants as string[]).slice().sort()).toEqual(['data', 'publish', 'subscribe']);
    const theirs = await waitEvent(a, 'a', 'participantUpdated');
    expect(theirs).toMatchObject({ userId: 'bob', name: 'Bob (guest)' });
    expect(theirs.grants).toBeUndefined();
    expect(await h(b, 'call', 'b', 'getSelf')).toMatchObject({ name: 'Bob (guest)', metadata: 'seat 3' });
    expect(await h(a, 'call', 'a', 'getRemoteUser', 'bob')).toMatchObject({ name: 'Bob (guest)', metadata: 'seat 3' });
  });

  it('alice loses publish: her stream is gone, her camera released, and nothing publishes it again', async (ctx) => {
    if (!webrtc) ctx.skip();
    await api('PATCH', '/participants/alice', { grants: ['subscribe', 'data'] });
    const update = await waitEvent(a, 'a', 'participantUpdated', (u) => u.userId === 'alice');
    expect((update.grants as string[]).slice().sort()).toEqual(['data', 'subscribe']);
    await waitEvent(b, 'b', 'streamUnpublished', (s) => s.id === 'alice_main');
    expect(await h(a, 'call', 'a', 'getLocalStreams')).toEqual([]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await events(a, 'a', 'streamRepublished')).toEqual([]);
    expect(await events(a, 'a', 'error')).toEqual([]);
    expect((await hError(a, 'call', 'a', 'publish')).code).toBe(2006);
  });
});

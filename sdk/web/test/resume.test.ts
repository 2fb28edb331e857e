// Staying connected: a dropped socket is resumed with every event delivered
// once, in order; a lost session is joined again and the page told what
// changed (docs/protocol.md §7.4, §7.5). Short timeouts keep it quick.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h, startBrowser, until, waitEvent, type LoggedEvent, type Pages } from './support/browser';
import { startServer, type TestServer } from './support/server';

// The session must outlive a resume comfortably (it counts from the last
// frame the server got, up to a ping interval before the cut) and still
// time out quickly for the lost-session tests.
const PING_MS = 3000;
const SESSION_TIMEOUT_MS = 6000;

let server: TestServer;
let browser: Pages;
let alice: Page;
let bob: Page;

beforeAll(async () => {
  [server, browser] = await Promise.all([
    startServer({ MINIRTC_SIGNAL_PING_INTERVAL: PING_MS / 1000 + 's', MINIRTC_SIGNAL_SESSION_TIMEOUT: SESSION_TIMEOUT_MS / 1000 + 's' }),
    startBrowser(),
  ]);
  [alice, bob] = await Promise.all([browser.harness(), browser.harness()]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function join(page: Page, name: string, user: string, room: string): Promise<void> {
  await h(page, 'create', name, server.wsUrl);
  await h(page, 'call', name, 'join', await server.token(user), room);
}

async function events(page: Page, name: string, event: string): Promise<Array<Record<string, unknown>>> {
  return (await h<LoggedEvent[]>(page, 'log', name)).filter((e) => e.name === event).map((e) => e.arg);
}

describe('staying connected', () => {
  it('resumes after the socket drops, with no event lost or repeated', async () => {
    await join(alice, 'a', 'alice', 'resume');
    await join(bob, 'b', 'bob', 'resume');
    await waitEvent(alice, 'a', 'userJoined');

    await h(alice, 'cut', true);
    await waitEvent(alice, 'a', 'connectionStateChanged', (e) => e.state === 'reconnecting');
    // Sent while alice is away: the server keeps them for her session.
    for (let i = 1; i <= 5; i++) await h(bob, 'call', 'b', 'sendMessage', 'chat', 'm' + i);
    await h(bob, 'call', 'b', 'setAttributes', { x: '1' });
    // A request made while disconnected waits and goes out after the resume.
    const pending = h<string>(alice, 'call', 'a', 'sendMessage', 'chat', 'from alice while away');
    await sleep(800);
    // The network is back: the browser says so and the SDK reconnects at once.
    await h(alice, 'unblock', true);

    await waitEvent(alice, 'a', 'connectionStateChanged', (e) => e.state === 'connected' && e.previous === 'reconnecting', 10000);
    expect(await pending).toMatch(/^m/);
    await until(async () => (await events(alice, 'a', 'message')).length >= 5, 5000, 'the five messages');
    await sleep(300);
    expect((await events(alice, 'a', 'message')).map((m) => m.content)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(await events(alice, 'a', 'attributesChanged')).toEqual([{ set: { x: '1' }, deleted: [], by: 'bob' }]);
    const fromAlice = await waitEvent(bob, 'b', 'message', (m) => m.from === 'alice');
    expect(fromAlice.content).toBe('from alice while away');
    await sleep(300);
    expect((await events(bob, 'b', 'message')).length).toBe(1);
    // Her session never ended, so nobody saw her leave.
    expect(await events(bob, 'b', 'userLeft')).toEqual([]);
    expect((await events(alice, 'a', 'connectionStateChanged')).map((e) => e.state)).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);
    await Promise.all([h(alice, 'call', 'a', 'leave'), h(bob, 'call', 'b', 'leave')]);
  });

  it('joins again when the session is gone, and tells the page what changed', async () => {
    await join(alice, 'a', 'alice', 'rejoin');
    await join(bob, 'b', 'bob', 'rejoin');
    await waitEvent(alice, 'a', 'userJoined');

    await h(alice, 'cut', true);
    // The server gives up on alice's session after its timeout.
    await waitEvent(bob, 'b', 'userLeft', (e) => e.userId === 'alice', SESSION_TIMEOUT_MS + 5000);
    expect(await events(bob, 'b', 'userLeft')).toEqual([{ userId: 'alice', reason: 'timeout' }]);
    // Meanwhile bob leaves, carol comes, and the room changes.
    await h(bob, 'call', 'b', 'setAttributes', { phase: 'two' });
    await h(bob, 'call', 'b', 'leave');
    await join(bob, 'c', 'carol', 'rejoin');
    await h(alice, 'unblock');

    await waitEvent(alice, 'a', 'connectionStateChanged', (e) => e.state === 'connected' && e.previous === 'reconnecting', 10000);
    await waitEvent(bob, 'c', 'userJoined', (u) => u.userId === 'alice');
    expect(await events(alice, 'a', 'userLeft')).toEqual([{ userId: 'bob', reason: 'timeout' }]);
    expect((await events(alice, 'a', 'userJoined')).map((u) => u.userId)).toEqual(['bob', 'carol']);
    expect(await h(alice, 'call', 'a', 'getRoom')).toMatchObject({ attributes: { phase: 'two' } });
    expect((await h<Array<{ userId: string }>>(alice, 'call', 'a', 'getRemoteUsers')).map((u) => u.userId)).toEqual(['carol']);
    // A new session: requests work again.
    await h(alice, 'call', 'a', 'sendMessage', 'chat', 'back');
    expect(await waitEvent(bob, 'c', 'message')).toMatchObject({ from: 'alice', content: 'back' });
    await Promise.all([h(alice, 'call', 'a', 'leave'), h(bob, 'call', 'c', 'leave')]);
  });
});

describe('staying connected with media', () => {
  it('publishes and subscribes again after a lost session', async (ctx) => {
    await join(alice, 'a', 'alice', 'media-rejoin');
    if (!(await h(alice, 'call', 'a', 'supportsWebRTC'))) {
      await h(alice, 'call', 'a', 'leave');
      ctx.skip();
    }
    await join(bob, 'b', 'bob', 'media-rejoin');
    await h(alice, 'call', 'a', 'publish');
    await waitEvent(bob, 'b', 'streamPublished', (s) => s.id === 'alice_main');
    await h(bob, 'call', 'b', 'subscribe', 'alice_main');
    expect((await h<{ frames: number }>(bob, 'video', 'b', 'alice_main', 5, 10000)).frames).toBeGreaterThanOrEqual(5);

    // The subscriber loses its session: it subscribes again, to a new MediaStream.
    await h(bob, 'cut', true);
    await waitEvent(alice, 'a', 'userLeft', (e) => e.userId === 'bob', SESSION_TIMEOUT_MS + 5000);
    await h(bob, 'unblock', true);
    expect(await waitEvent(bob, 'b', 'streamResubscribed', () => true, 15000)).toEqual({ streamId: 'alice_main', reason: 'joined again' });
    expect((await events(bob, 'b', 'remoteStream')).length).toBe(2);
    expect((await h<{ frames: number }>(bob, 'video', 'b', 'alice_main', 5, 10000)).frames).toBeGreaterThanOrEqual(5);

    // The publisher loses its session: it publishes again, and bob sees the stream come back.
    await h(alice, 'cut', true);
    await waitEvent(bob, 'b', 'streamUnpublished', (s) => s.id === 'alice_main', SESSION_TIMEOUT_MS + 5000);
    await h(alice, 'unblock', true);
    expect(await waitEvent(alice, 'a', 'streamRepublished', () => true, 15000)).toMatchObject({ id: 'alice_main', tag: 'main', reason: 'joined again' });
    await waitEvent(bob, 'b', 'streamPublished', (s) => s.id === 'alice_main' && (s as { video?: unknown }).video !== undefined, 15000);
    await until(async () => (await events(bob, 'b', 'streamPublished')).length >= 2, 15000, 'alice_main live again');
    await h(bob, 'call', 'b', 'subscribe', 'alice_main');
    expect((await h<{ frames: number }>(bob, 'video', 'b', 'alice_main', 5, 10000)).frames).toBeGreaterThanOrEqual(5);
    await Promise.all([h(alice, 'call', 'a', 'leave'), h(bob, 'call', 'b', 'leave')]);
  });
});

// Two browser pages in one room: presence, attributes, messages, kick.
// Signalling only, so these run against any server of protocol v1.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h, hError, startBrowser, waitEvent, type LoggedEvent, type Pages } from './support/browser';
import { startServer, type TestServer } from './support/server';

let server: TestServer;
let browser: Pages;
let alice: Page;
let bob: Page;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), startBrowser()]);
  [alice, bob] = await Promise.all([browser.harness(), browser.harness()]);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function joinBoth(room: string, aliceGrants?: string): Promise<void> {
  const [ta, tb] = await Promise.all([
    server.token('alice', { name: 'Alice', grants: aliceGrants }),
    server.token('bob', { name: 'Bob' }),
  ]);
  await h(alice, 'create', 'a', server.wsUrl);
  await h(bob, 'create', 'b', server.wsUrl);
  await h(alice, 'call', 'a', 'join', ta, room);
  await h(bob, 'call', 'b', 'join', tb, room);
}

describe('a room of two browsers', () => {
  it('shows each page the other coming and going', async () => {
    const [ta, tb] = await Promise.all([server.token('alice', { name: 'Alice' }), server.token('bob', { name: 'Bob' })]);
    await h(alice, 'create', 'a', server.wsUrl);
    await h(bob, 'create', 'b', server.wsUrl);
    const ja = await h<{ self: { userId: string; grants: string[] }; users: unknown[]; room: { id: string } }>(alice, 'call', 'a', 'join', ta, 'presence');
    expect(ja.self.userId).toBe('alice');
    expect(ja.self.grants).toEqual(['publish', 'subscribe', 'data']);
    expect(ja.users).toEqual([]);
    expect(ja.room.id).toBe('presence');

    const jb = await h<{ users: Array<{ userId: string; name: string }> }>(bob, 'call', 'b', 'join', tb, 'presence');
    expect(jb.users.map((u) => [u.userId, u.name])).toEqual([['alice', 'Alice']]);
    const joined = await waitEvent(alice, 'a', 'userJoined', (u) => u.userId === 'bob');
    expect(joined.name).toBe('Bob');
    expect(await h(alice, 'call', 'a', 'getRemoteUsers')).toMatchObject([{ userId: 'bob', name: 'Bob', streams: [] }]);
    expect(await h(alice, 'call', 'a', 'getConnectionState')).toBe('connected');

    await h(bob, 'call', 'b', 'leave');
    expect(await waitEvent(alice, 'a', 'userLeft')).toEqual({ userId: 'bob', reason: 'left' });
    expect(await h(bob, 'call', 'b', 'isJoined')).toBe(false);
    const states = (await h<LoggedEvent[]>(bob, 'log', 'b')).filter((e) => e.name === 'connectionStateChanged').map((e) => e.arg.state);
    expect(states).toEqual(['connecting', 'connected', 'disconnected']);
    expect(await h(alice, 'call', 'a', 'getRemoteUsers')).toEqual([]);
    await h(alice, 'call', 'a', 'leave');
  });

  it('shares attributes and delivers messages, to all and privately', async () => {
    await joinBoth('state');
    const all = await h(alice, 'call', 'a', 'setAttributes', { topic: 'maths', floor: 'alice' }, { notify: { name: 'floor', content: 'alice speaks' } });
    expect(all).toEqual({ topic: 'maths', floor: 'alice' });
    const change = await waitEvent(bob, 'b', 'attributesChanged');
    expect(change).toEqual({ set: { topic: 'maths', floor: 'alice' }, deleted: [], by: 'alice', notify: { name: 'floor', content: 'alice speaks' } });
    expect(await h(bob, 'call', 'b', 'getRoom')).toMatchObject({ id: 'state', attributes: { topic: 'maths', floor: 'alice' } });
    expect(await h(bob, 'call', 'b', 'getAttributes', ['topic', 'missing'])).toEqual({ topic: 'maths' });

    expect(await h(bob, 'call', 'b', 'deleteAttributes', ['floor'])).toEqual({ topic: 'maths' });
    const deleted = await waitEvent(alice, 'a', 'attributesChanged', (c) => (c.deleted as string[]).length > 0);
    expect(deleted).toMatchObject({ deleted: ['floor'], by: 'bob' });
    expect(await h(alice, 'call', 'a', 'getRoom')).toMatchObject({ attributes: { topic: 'maths' } });

    const id = await h<string>(alice, 'call', 'a', 'sendMessage', 'chat', 'hi bob');
    const msg = await waitEvent(bob, 'b', 'message');
    expect(msg).toMatchObject({ id, from: 'alice', name: 'chat', content: 'hi bob', private: false });
    await h(bob, 'call', 'b', 'sendMessage', 'dm', 'psst', { to: ['alice'] });
    expect(await waitEvent(alice, 'a', 'message')).toMatchObject({ from: 'bob', name: 'dm', content: 'psst', private: true });

    // Checked before anything is sent.
    expect((await hError(alice, 'call', 'a', 'setAttributes', {})).code).toBe(9001);
    expect((await hError(alice, 'call', 'a', 'sendMessage', '', 'x')).code).toBe(9001);
    // The server's own code comes through unchanged.
    expect((await hError(alice, 'call', 'a', 'sendMessage', 'dm', 'x', { to: ['nobody'] })).code).toBe(3003);
    await Promise.all([h(alice, 'call', 'a', 'leave'), h(bob, 'call', 'b', 'leave')]);
  });

  it('lets an admin kick a user, whose session then ends', async () => {
    await joinBoth('kick', 'publish,subscribe,data,admin');
    expect((await hError(bob, 'call', 'b', 'kick', 'alice')).code).toBe(2006);
    await h(alice, 'call', 'a', 'kick', 'bob', { reason: 'spam' });
    expect(await waitEvent(bob, 'b', 'kickedOff')).toEqual({ reason: 'kicked', by: 'alice', banSeconds: 0, message: 'spam' });
    const ended = await waitEvent(bob, 'b', 'connectionStateChanged', (e) => e.state === 'disconnected');
    expect((ended.error as { code: number }).code).toBe(9008);
    expect(await waitEvent(alice, 'a', 'userLeft')).toEqual({ userId: 'bob', reason: 'kicked' });
    expect(await h(bob, 'call', 'b', 'isJoined')).toBe(false);
    expect(await h(bob, 'call', 'b', 'getRoom')).toBe(null);
    expect((await hError(bob, 'call', 'b', 'sendMessage', 'chat', 'still here?')).code).toBe(9002);
    await h(alice, 'call', 'a', 'leave');
  });
});

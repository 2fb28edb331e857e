// Typed errors: server result codes unchanged, SDK codes for what the SDK
// decides itself (README "Error codes").
import crypto from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { h, hError, startBrowser, type Pages } from './support/browser';
import { startServer, type TestServer } from './support/server';

let server: TestServer;
let browser: Pages;
let page: Page;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), startBrowser()]);
  page = await browser.harness();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

function b64url(s: string | Buffer): string {
  return Buffer.from(s).toString('base64url');
}

/** An HS256 JWT for the test app, signed with secret. */
function jwt(claims: Record<string, unknown>, secret: string): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = crypto.createHmac('sha256', secret).update(head + '.' + body).digest();
  return head + '.' + body + '.' + b64url(sig);
}

describe('errors', () => {
  it('passes the server codes of a refused join through unchanged', async () => {
    await h(page, 'create', 'c', server.wsUrl);
    const exp = Math.floor(Date.now() / 1000) + 600;
    const cases: Array<[string, number]> = [
      ['not-a-jwt', 2001],
      [jwt({ iss: server.appId, sub: 'eve', exp }, 'not the secret'), 2002],
      [jwt({ iss: server.appId, sub: 'eve', exp: exp - 1200 }, server.appSecret), 2003],
      [jwt({ iss: 'app-nobody-knows', sub: 'eve', exp }, server.appSecret), 2004],
      [await server.token('eve', { room: 'elsewhere' }), 2005],
    ];
    for (const [token, code] of cases) {
      const err = await hError(page, 'call', 'c', 'join', token, 'errors');
      expect(err.code, 'join with a token that should give ' + code + ': ' + err.message).toBe(code);
      expect(await h(page, 'call', 'c', 'getConnectionState')).toBe('disconnected');
    }
  });

  it('uses its own codes for what it decides itself', async () => {
    expect((await hError(page, 'create', 'bad', 'http://127.0.0.1/ws')).code).toBe(9001);
    await h(page, 'create', 'c', server.wsUrl);
    expect((await hError(page, 'call', 'c', 'join', '', 'errors')).code).toBe(9001);
    expect((await hError(page, 'call', 'c', 'join', 'x', 'no spaces allowed')).code).toBe(9001);
    expect((await hError(page, 'call', 'c', 'sendMessage', 'chat', 'hi')).code).toBe(9002);
    expect((await hError(page, 'call', 'c', 'publish')).code).toBe(9002);

    const token = await server.token('carol');
    await h(page, 'call', 'c', 'join', token, 'errors');
    expect((await hError(page, 'call', 'c', 'join', token, 'errors')).code).toBe(9003);
    expect((await hError(page, 'call', 'c', 'publish', { tag: 'a b' })).code).toBe(9001);
    expect((await hError(page, 'call', 'c', 'publish', { mediaType: 'smell' })).code).toBe(9001);
    expect((await hError(page, 'call', 'c', 'subscribe', [])).code).toBe(9001);
    await h(page, 'call', 'c', 'leave');

    // Nothing listens on port 9: the socket cannot be opened.
    await h(page, 'create', 'd', 'ws://127.0.0.1:9/ws', { connectTimeout: 3000 });
    expect((await hError(page, 'call', 'd', 'join', token, 'errors')).code).toBe(9006);
  });

  it('answers 3005 for a stream that is not live, from the server', async () => {
    await h(page, 'create', 'c', server.wsUrl);
    await h(page, 'call', 'c', 'join', await server.token('dave'), 'errors');
    expect((await hError(page, 'call', 'c', 'subscribe', 'nobody_main')).code).toBe(3005);
    expect((await hError(page, 'call', 'c', 'unpublish', 'screen')).code).toBe(3005);
    expect(await h(page, 'call', 'c', 'getRemoteStreams')).toEqual([]);
    await h(page, 'call', 'c', 'leave');
  });
});

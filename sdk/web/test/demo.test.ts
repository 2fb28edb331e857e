// The demo page (demo/index.html on the IIFE bundle), used as a person
// would: fill the form, press join, look at the tiles.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowser, until, type Pages } from './support/browser';
import { NodeClient, serverHasWebRTC } from './support/node-client';
import { startServer, type TestServer } from './support/server';

let server: TestServer;
let browser: Pages;
let webrtc = false;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), startBrowser()]);
  const probe = await NodeClient.connect(server.wsUrl, await server.token('probe'), 'probe');
  webrtc = serverHasWebRTC(probe.join);
  probe.close();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function openDemo(user: string): Promise<Page> {
  const page = await browser.context.newPage();
  page.on('pageerror', (err) => console.error('[demo page error]', err));
  await page.goto(browser.origin + '/demo/index.html');
  // The default URL is the page's own origin, which serves /ws in production.
  expect(await page.inputValue('input[name=url]')).toBe(browser.origin.replace('http', 'ws') + '/ws');
  await page.fill('input[name=url]', server.wsUrl);
  await page.fill('input[name=user]', user);
  return page;
}

describe('demo page', () => {
  it('shows the error of a server that mints no tokens', async () => {
    const page = await openDemo('alice');
    // The static test server has no /demo/token: the page says so.
    await page.fill('input[name=url]', browser.origin.replace('http', 'ws') + '/ws');
    await page.click('#mint');
    await until(async () => /mint a token: HTTP 404/.test(await page.textContent('#status') || ''), 5000, 'the mint error');
    await page.close();
  });

  it('joins two people who see each other', async () => {
    const alice = await openDemo('alice');
    const bob = await openDemo('bob');
    for (const [page, user] of [[alice, 'alice'], [bob, 'bob']] as const) {
      await page.fill('input[name=token]', await server.token(user));
      await page.click('#joinBtn');
      await until(async () => /in room demo as/.test(await page.textContent('#status') || '') || /failed/.test(await page.textContent('#status') || ''), 10000, user + ' joined');
    }
    if (webrtc) {
      // Each page: its own camera and the other's.
      for (const page of [alice, bob]) {
        await until(async () => (await page.$$('#grid .tile')).length === 2, 15000, 'two tiles');
        await until(() => page.evaluate(() => Array.from(document.querySelectorAll('video')).every((v) => v.videoWidth > 0 && v.currentTime > 0)), 15000, 'both videos playing');
      }
      await alice.click('#mic');
      await until(async () => /🔇/.test(await bob.textContent('#grid') || ''), 10000, "bob's tile shows alice muted");
    } else {
      expect(await alice.textContent('#status')).toMatch(/publish failed: 9010/);
    }
    await until(async () => /bob joined/.test(await alice.textContent('#log') || ''), 5000, 'alice sees bob join');
    await alice.screenshot({ path: process.env.DEMO_SCREENSHOT || '/tmp/minirtc-web-demo.png' });
    await bob.click('#leave');
    await until(async () => /bob left/.test(await alice.textContent('#log') || ''), 5000, 'alice sees bob leave');
    await alice.close();
    await bob.close();
  });

  it('is served by the server at /demo/, which mints tokens when allowed', async () => {
    const minting = await startServer({ MINIRTC_DEMO_MINT_TOKENS: 'true' });
    try {
      const pages: Page[] = [];
      for (const user of ['carol', 'dave']) {
        const page = await browser.context.newPage();
        page.on('pageerror', (err) => console.error('[demo page error]', err));
        await page.goto(minting.httpBase + '/demo/');
        // The page's default URL is its own server's.
        expect(await page.inputValue('input[name=url]')).toBe(minting.wsUrl);
        await page.fill('input[name=user]', user);
        await page.click('#mint');
        await until(async () => /token minted/.test(await page.textContent('#status') || ''), 5000, user + "'s token");
        await page.click('#joinBtn');
        await until(async () => /in room demo as/.test(await page.textContent('#status') || ''), 10000, user + ' joined');
        pages.push(page);
      }
      if (webrtc) {
        for (const page of pages) {
          await until(() => page.evaluate(() => {
            const v = Array.from(document.querySelectorAll('video'));
            return v.length === 2 && v.every((x) => x.videoWidth > 0 && x.currentTime > 0);
          }), 15000, 'both videos playing on the served page');
        }
      }
      for (const page of pages) await page.close();
    } finally {
      await minting.stop();
    }
    // Without demo.mint_tokens the server refuses with a JSON reason.
    const res = await fetch(server.httpBase + '/demo/token', { method: 'POST', body: JSON.stringify({ user: 'x', room: 'demo' }) });
    expect(res.status).toBe(403);
    expect((await res.json()).error).toBe('demo_tokens_off');
  });
});

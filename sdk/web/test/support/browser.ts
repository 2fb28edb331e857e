// Headless Debian Chromium driven by playwright-core, and a tiny static HTTP
// server for the SDK bundle, the test harness page and the demo. Pages come
// from http://127.0.0.1, a secure context, so getUserMedia works; Chromium's
// fake devices stand in for camera (a test pattern) and microphone (a beep).
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { SDK_DIR } from './server';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

const ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  // The test server hands out 127.0.0.1 candidates; Chromium leaves the
  // loopback interface out of ICE unless told.
  '--allow-loopback-in-peer-connection',
];

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

// URL prefix → directories searched in order. /demo/ merges demo/ and dist/
// as the minirtc server does.
const MOUNTS: Array<[string, string[]]> = [
  ['/dist/', [path.join(SDK_DIR, 'dist')]],
  ['/test/', [path.join(SDK_DIR, 'test', 'fixtures')]],
  ['/demo/', [path.join(SDK_DIR, 'demo'), path.join(SDK_DIR, 'dist')]],
];

export interface Pages {
  origin: string;
  context: BrowserContext;
  /** A new tab with the harness loaded (window.h, MiniRTC). */
  harness(): Promise<Page>;
  close(): Promise<void>;
}

export async function startBrowser(): Promise<Pages> {
  if (!fs.existsSync(path.join(SDK_DIR, 'dist', 'minirtc.js'))) throw new Error('dist/minirtc.js missing: npm run build first');
  const server = http.createServer((req, res) => {
    const url = new URL(req.url || '/', 'http://x');
    for (const [prefix, dirs] of MOUNTS) {
      if (!url.pathname.startsWith(prefix)) continue;
      const rel = path.normalize(decodeURIComponent(url.pathname.slice(prefix.length)) || 'index.html');
      if (rel.startsWith('..')) break;
      for (const dir of dirs) {
        const file = path.join(dir, rel);
        if (fs.existsSync(file) && fs.statSync(file).isFile()) {
          res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
          fs.createReadStream(file).pipe(res);
          return;
        }
      }
    }
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = 'http://127.0.0.1:' + (server.address() as AddressInfo).port;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'minirtc-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
  return {
    origin,
    context,
    async harness() {
      const page = await context.newPage();
      page.on('pageerror', (err) => console.error('[page error]', err));
      await page.goto(origin + '/test/harness.html');
      await page.waitForFunction(() => typeof (window as unknown as { h?: unknown }).h === 'object');
      return page;
    },
    async close() {
      await context.close().catch(() => {});
      await new Promise((resolve) => server.close(resolve));
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface PageError {
  code: number;
  message: string;
  name: string;
}

type Result<T> = { ok: T } | { error: PageError };

/** Calls h[fn](...args) in the page; the harness turns exceptions into {error}. */
export async function h<T = unknown>(page: Page, fn: string, ...args: unknown[]): Promise<T> {
  const r = await page.evaluate(([f, a]) => (window as unknown as { h: Record<string, (...x: unknown[]) => unknown> }).h[f as string]!(...(a as unknown[])), [fn, args] as const) as Result<T>;
  if (r && typeof r === 'object' && 'error' in r) {
    const e = new Error('page: ' + fn + ' failed: ' + r.error.code + ' ' + r.error.message) as Error & PageError;
    e.code = r.error.code;
    throw e;
  }
  return (r as { ok: T }).ok;
}

/** Like h(), but expects a failure and returns it. */
export async function hError(page: Page, fn: string, ...args: unknown[]): Promise<PageError> {
  try {
    await h(page, fn, ...args);
  } catch (err) {
    const e = err as Error & PageError;
    if (typeof e.code === 'number') return { code: e.code, message: e.message, name: e.name };
    throw err;
  }
  throw new Error('expected ' + fn + ' to fail');
}

export interface LoggedEvent {
  name: string;
  arg: Record<string, unknown>;
}

/** Waits until the client's event log has an event that passes match. */
export async function waitEvent(page: Page, client: string, name: string, match: (arg: Record<string, unknown>) => boolean = () => true, timeoutMs = 15000): Promise<Record<string, unknown>> {
  const started = Date.now();
  for (;;) {
    const log = await h<LoggedEvent[]>(page, 'log', client);
    const hit = log.find((e) => e.name === name && match(e.arg));
    if (hit) return hit.arg;
    if (Date.now() - started > timeoutMs) {
      throw new Error('no ' + name + ' event on ' + client + ' within ' + timeoutMs + ' ms; log: ' + JSON.stringify(log.map((e) => e.name)));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls fn until it returns something truthy. */
export async function until<T>(fn: () => Promise<T> | T, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const started = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() - started > timeoutMs) throw new Error('timed out after ' + timeoutMs + ' ms waiting for ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

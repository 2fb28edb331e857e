// Starts the real minirtc binary on free ports with a temporary data
// directory, reads the development app from its banner, and mints tokens
// with its CLI (as sdk/wechat/test/support/server.js does).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from './processes';

export const SDK_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface TestServer {
  wsUrl: string;
  httpBase: string;
  rtmpBase: string;
  appId: string;
  appSecret: string;
  dataDir: string;
  process: ChildProcess;
  logs(): string;
  token(user: string, opts?: TokenOptions): Promise<string>;
  /** The reports (`report` requests) the server stored for user in room, newest first. */
  reports(room: string, user: string): Promise<Array<Record<string, unknown>>>;
  stop(): Promise<void>;
}

export interface TokenOptions {
  room?: string;
  grants?: string;
  name?: string;
  ttl?: string;
}

function binaryPath(): string {
  const bin = process.env.MINIRTC_BIN ? path.resolve(SDK_DIR, process.env.MINIRTC_BIN) : path.resolve(SDK_DIR, '..', '..', 'bin', 'minirtc');
  if (!fs.existsSync(bin)) throw new Error('minirtc binary not found at ' + bin + ' (set MINIRTC_BIN or run scripts/test-web-sdk.sh)');
  return bin;
}

// Keeps parallel test servers off the default WebRTC ports (UDP 7882, TCP
// 7881) and lets them hand out loopback candidates, as Chromium here talks
// to them over 127.0.0.1. A server that predates these keys ignores them.
const WEBRTC_ENV = {
  MINIRTC_WEBRTC_UDP_ADDR: '127.0.0.1:0',
  MINIRTC_WEBRTC_TCP_ADDR: '127.0.0.1:0',
  MINIRTC_WEBRTC_INCLUDE_LOOPBACK: 'true',
};

export function startServer(extraEnv: Record<string, string> = {}): Promise<TestServer> {
  const bin = binaryPath();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'minirtc-web-test-'));
  const args = ['serve', '--data', dataDir, '--http', '127.0.0.1:0', '--rtmp', '127.0.0.1:0', '--host', '127.0.0.1', '--log-level', 'warn'];
  const child = track(spawn(bin, args, { env: { ...process.env, ...WEBRTC_ENV, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderr = '';
  let stopping = false;
  child.stderr!.on('data', (d) => {
    stderr = (stderr + d).slice(-20000);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('no banner from minirtc within 20 s:\n' + out + stderr)), 20000);
    child.on('exit', (code) => reject(new Error('minirtc exited (' + code + ') before its banner:\n' + out + stderr)));
    child.stdout!.on('data', (d) => {
      out += d;
      if (!/Press Ctrl-C/.test(out)) return;
      clearTimeout(timer);
      // A server that dies under a test explains the test's failure.
      child.on('exit', (code, signal) => {
        if (!stopping) console.error('minirtc exited during the tests (' + (code ?? signal) + '):\n' + stderr);
      });
      const field = (name: string): string => {
        const m = out.match(new RegExp('^  ' + name + '\\s{2,}(\\S+)', 'm'));
        if (!m) throw new Error('banner has no ' + name + ':\n' + out);
        return m[1]!;
      };
      const appId = field('app id');
      const wsUrl = field('signalling');
      resolve({
        wsUrl,
        httpBase: wsUrl.replace(/^ws/, 'http').replace(/\/ws$/, ''),
        rtmpBase: field('rtmp'),
        appId,
        appSecret: field('app secret'),
        dataDir,
        process: child,
        logs: () => stderr,
        token: (user, opts = {}) => mintToken(bin, dataDir, appId, user, opts),
        reports: (room, user) => listReports(bin, dataDir, appId, room, user),
        stop: () => {
          stopping = true;
          return stopServer(child, dataDir);
        },
      });
    });
  });
}

function mintToken(bin: string, dataDir: string, appId: string, user: string, opts: TokenOptions): Promise<string> {
  const args = ['token', 'create', '--data', dataDir, '--app', appId, '--user', user];
  if (opts.room) args.push('--room', opts.room);
  if (opts.grants) args.push('--grants', opts.grants);
  if (opts.name) args.push('--name', opts.name);
  if (opts.ttl) args.push('--ttl', opts.ttl);
  return new Promise((resolve, reject) => {
    execFile(bin, args, (err, stdout, stderr) => {
      if (err) reject(new Error('token create: ' + err.message + '\n' + stderr));
      else resolve(stdout.trim().split('\n').pop()!);
    });
  });
}

function listReports(bin: string, dataDir: string, appId: string, room: string, user: string): Promise<Array<Record<string, unknown>>> {
  const args = ['report', 'list', '--data', dataDir, '--app', appId, '--room', room, '--user', user, '--json', '--limit', '1000'];
  return new Promise((resolve, reject) => {
    execFile(bin, args, (err, stdout, stderr) => {
      if (err) reject(new Error('report list: ' + err.message + '\n' + stderr));
      else resolve(JSON.parse(stdout || '[]') || []);
    });
  });
}

function stopServer(child: ChildProcess, dataDir: string): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      fs.rmSync(dataDir, { recursive: true, force: true });
      resolve();
    };
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    child.kill('SIGTERM');
  });
}

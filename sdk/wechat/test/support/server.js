'use strict';

// Starts the real minirtc binary on free ports with a temporary data
// directory, reads the development app from its banner, and mints tokens
// with its CLI.

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { track } = require('./processes');

const SDK_DIR = path.resolve(__dirname, '..', '..');

function binaryPath() {
  const bin = process.env.MINIRTC_BIN || path.resolve(SDK_DIR, '..', '..', 'bin', 'minirtc');
  if (!fs.existsSync(bin)) throw new Error('minirtc binary not found at ' + bin + ' (set MINIRTC_BIN or run scripts/test-wechat-sdk.sh)');
  return bin;
}

// Resolves with {wsUrl, rtmpBase, appId, dataDir, token(), stop()} once the
// server printed its banner. opts: {dataDir, http, rtmp} start it again
// where a stopped one was (same apps, same addresses); its banner names
// no development app then, so pass appId too.
function startServer(extraEnv, opts) {
  opts = opts || {};
  const bin = binaryPath();
  const dataDir = opts.dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'minirtc-sdk-test-'));
  const args = ['serve', '--data', dataDir, '--http', opts.http || '127.0.0.1:0', '--rtmp', opts.rtmp || '127.0.0.1:0',
    '--webrtc-udp', '127.0.0.1:0', '--webrtc-tcp', '127.0.0.1:0', '--host', '127.0.0.1', '--log-level', 'warn'];
  const child = track(spawn(bin, args, { env: Object.assign({}, process.env, extraEnv), stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 20000) stderr = stderr.slice(-20000);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('no banner from minirtc within 20 s:\n' + out + stderr)), 20000);
    child.on('exit', (code) => reject(new Error('minirtc exited (' + code + ') before its banner:\n' + out + stderr)));
    child.stdout.on('data', (d) => {
      out += d;
      if (!/Press Ctrl-C/.test(out)) return;
      clearTimeout(timer);
      const field = (name) => {
        const m = out.match(new RegExp('^  ' + name + '\\s{2,}(\\S+)', 'm'));
        if (!m) throw new Error('banner has no ' + name + ':\n' + out);
        return m[1];
      };
      const appId = opts.appId || field('app id');
      const server = {
        wsUrl: field('signalling'),
        rtmpBase: field('rtmp'),
        appId,
        dataDir,
        process: child,
        logs: () => stderr,
        token: (user, opts) => mintToken(bin, dataDir, appId, user, opts || {}),
        reports: (room, user) => listReports(bin, dataDir, appId, room, user),
        // keepData: leave the data directory for a server started again.
        stop: (stopOpts) => stopServer(child, (stopOpts || {}).keepData ? null : dataDir),
      };
      resolve(server);
    });
  });
}

function mintToken(bin, dataDir, appId, user, opts) {
  const args = ['token', 'create', '--data', dataDir, '--app', appId, '--user', user];
  if (opts.room) args.push('--room', opts.room);
  if (opts.grants) args.push('--grants', opts.grants);
  if (opts.name) args.push('--name', opts.name);
  if (opts.ttl) args.push('--ttl', opts.ttl);
  return new Promise((resolve, reject) => {
    execFile(bin, args, (err, stdout, stderr) => {
      if (err) reject(new Error('token create: ' + err.message + '\n' + stderr));
      else resolve(stdout.trim().split('\n').pop());
    });
  });
}

// The reports the server stored (`report` requests), newest first.
function listReports(bin, dataDir, appId, room, user) {
  const args = ['report', 'list', '--data', dataDir, '--app', appId, '--room', room, '--user', user, '--json', '--limit', '1000'];
  return new Promise((resolve, reject) => {
    execFile(bin, args, (err, stdout, stderr) => {
      if (err) reject(new Error('report list: ' + err.message + '\n' + stderr));
      else resolve(JSON.parse(stdout || '[]') || []);
    });
  });
}

function stopServer(child, dataDir) {
  return new Promise((resolve) => {
    const done = () => {
      if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
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

module.exports = { startServer, SDK_DIR };

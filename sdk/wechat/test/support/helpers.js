'use strict';

const path = require('node:path');
const { createRequire } = require('node:module');
const { SDK_DIR } = require('./server');

// The SDK through Node's own require: the same module instances the
// components get when miniprogram-simulate runs them.
const sdk = createRequire(path.join(SDK_DIR, 'package.json'))('./lib/index.js');

// Resolves with the payload of the next `name` event of client that passes
// filter; the timeout is only an upper bound.
function nextEvent(client, name, filter, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off(name, handler);
      reject(new Error('no ' + name + ' event within ' + (timeoutMs || 15000) + ' ms'));
    }, timeoutMs || 15000);
    function handler(arg) {
      if (filter && !filter(arg)) return;
      clearTimeout(timer);
      client.off(name, handler);
      resolve(arg);
    }
    client.on(name, handler);
  });
}

// Records every event a client emits, in order.
function record(client, names) {
  const log = [];
  for (const name of names) client.on(name, (arg) => log.push({ name, arg }));
  return log;
}

// Waits until fn() is truthy, checking every 50 ms; the timeout is an upper
// bound for conditions that have no event (decoded frame counts).
function until(fn, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      let value;
      try {
        value = fn();
      } catch (err) {
        reject(err);
        return;
      }
      if (value) resolve(value);
      else if (Date.now() - started > timeoutMs) reject(new Error('timed out after ' + timeoutMs + ' ms waiting for ' + (typeof what === 'function' ? what() : what)));
      else setTimeout(check, 50);
    };
    check();
  });
}

// Runs fn and returns the MiniRTCError it rejects with.
async function errorOf(promiseOrFn) {
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure, got success');
}

const PAGE = path.join(SDK_DIR, 'test', 'fixtures', 'call-page', 'index');

module.exports = { sdk, nextEvent, record, until, errorOf, PAGE };

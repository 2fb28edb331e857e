'use strict';

// Where <rtc-pusher> and <rtc-player> instances announce themselves, so that
// publish() and subscribe() can find the component to fill, and where their
// state, net status and volume events are passed on to the room clients.
//
// Pushers are keyed by tag ("main" by default), players by stream id. When two
// are attached under one key (the same component on two pages of the stack),
// the most recently attached one is used.

const entries = { pusher: [], player: [] };
const waiters = []; // {kind, key, resolve, timer}
const sinks = new Set(); // room clients: onComponentEvent(kind, key, type, detail, component)

function add(kind, key, component) {
  remove(kind, component);
  entries[kind].push({ key, component });
  for (const w of waiters.slice()) {
    if (w.kind === kind && w.key === key) {
      clearTimeout(w.timer);
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(component);
    }
  }
  for (const sink of sinks) sink.onComponentAttached(kind, key, component);
}

function remove(kind, component) {
  const list = entries[kind];
  for (let i = list.length - 1; i >= 0; i--) if (list[i].component === component) list.splice(i, 1);
}

function find(kind, key) {
  const list = entries[kind];
  for (let i = list.length - 1; i >= 0; i--) if (list[i].key === key) return list[i].component;
  return null;
}

function all(kind) {
  return entries[kind].map((e) => e.component);
}

// Resolves with the component, or null when none attached within timeoutMs:
// a page often renders a player in reaction to stream_published, just before
// it subscribes.
function waitFor(kind, key, timeoutMs) {
  const found = find(kind, key);
  if (found || timeoutMs <= 0) return Promise.resolve(found);
  return new Promise((resolve) => {
    const w = { kind, key, resolve, timer: null };
    w.timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(w), 1);
      resolve(null);
    }, timeoutMs);
    waiters.push(w);
  });
}

// Called by the components for bindstatechange, bindnetstatus,
// bindaudiovolumenotify and binderror.
function emit(kind, key, type, detail, component) {
  for (const sink of sinks) sink.onComponentEvent(kind, key, type, detail, component);
}

function addSink(sink) {
  sinks.add(sink);
}

function removeSink(sink) {
  sinks.delete(sink);
}

module.exports = { add, remove, find, all, waitFor, emit, addSink, removeSink };

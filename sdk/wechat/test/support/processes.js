'use strict';

// Every child process a test starts (server, ffmpeg, ffprobe) is tracked here
// so that teardown, or the worker's exit, kills what is left.

const children = new Set();

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function alive() {
  return Array.from(children).filter((c) => c.exitCode === null && c.signalCode === null);
}

// Kills the media helpers (not servers, which stop themselves) and waits.
function killAll(filter) {
  const list = alive().filter(filter || (() => true));
  return Promise.all(list.map((c) => new Promise((resolve) => {
    c.once('exit', resolve);
    c.kill('SIGKILL');
  })));
}

process.on('exit', () => {
  for (const c of alive()) c.kill('SIGKILL');
});

module.exports = { track, alive, killAll };

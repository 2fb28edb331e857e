'use strict';

const { ErrorCode, fail } = require('./errors');

// docs/protocol.md §5: ids and tags are 1 to 128 of [A-Za-z0-9_-].
const ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
// A stream id is <user>_<tag>: two ids joined by "_", at most 257 characters.
const STREAM_ID_RE = /^[A-Za-z0-9_-]{3,257}$/;

function bad(message) {
  return fail(ErrorCode.INVALID_ARGUMENT, message);
}

function requireId(value, what) {
  if (typeof value !== 'string' || !ID_RE.test(value)) {
    throw bad(what + ' must be 1 to 128 letters, digits, "_" or "-", got ' + JSON.stringify(value));
  }
  return value;
}

function requireStreamIds(value) {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) throw bad('stream ids: give a stream id or a non-empty array of them');
  for (const id of list) {
    if (typeof id !== 'string' || !STREAM_ID_RE.test(id)) throw bad('invalid stream id ' + JSON.stringify(id));
  }
  return list.filter((id, i) => list.indexOf(id) === i);
}

function requireOneOf(value, allowed, what) {
  if (allowed.indexOf(value) < 0) throw bad(what + ' must be one of ' + allowed.join(', ') + ', got ' + JSON.stringify(value));
  return value;
}

function requireString(value, what, allowEmpty) {
  if (typeof value !== 'string' || (!allowEmpty && value === '')) {
    throw bad(what + ' must be a ' + (allowEmpty ? '' : 'non-empty ') + 'string');
  }
  return value;
}

function requireStringMap(value, what) {
  if (!value || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length === 0) {
    throw bad(what + ' must be a non-empty object of strings');
  }
  for (const k of Object.keys(value)) {
    if (typeof value[k] !== 'string') throw bad(what + '.' + k + ' must be a string');
  }
  return value;
}

function requireStringList(value, what) {
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string' || v === '')) {
    throw bad(what + ' must be a non-empty array of non-empty strings');
  }
  return value;
}

function optionalNotify(notify) {
  if (notify === undefined) return undefined;
  if (!notify || typeof notify !== 'object') throw bad('notify must be {name, content}');
  requireString(notify.name, 'notify.name');
  if (notify.content !== undefined) requireString(notify.content, 'notify.content', true);
  return { name: notify.name, content: notify.content || '' };
}

function requireServerUrl(url) {
  if (typeof url !== 'string' || !/^wss?:\/\/[^/]+/.test(url)) {
    throw bad('url must be the server\'s ws:// or wss:// signalling URL, e.g. wss://rtc.example.com/ws');
  }
  return url;
}

module.exports = {
  bad,
  requireId,
  requireStreamIds,
  requireOneOf,
  requireString,
  requireStringMap,
  requireStringList,
  optionalNotify,
  requireServerUrl,
};

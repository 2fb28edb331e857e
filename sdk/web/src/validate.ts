import { ErrorCode, MiniRTCError, fail } from './errors';

// docs/protocol.md §5: ids and tags are 1 to 128 of [A-Za-z0-9_-].
const ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
// A stream id is <user>_<tag>: two ids joined by "_", at most 257 characters.
const STREAM_ID_RE = /^[A-Za-z0-9_-]{3,257}$/;

export function bad(message: string): MiniRTCError {
  return fail(ErrorCode.INVALID_ARGUMENT, message);
}

export function requireId(value: unknown, what: string): string {
  if (typeof value !== 'string' || !ID_RE.test(value)) {
    throw bad(what + ' must be 1 to 128 letters, digits, "_" or "-", got ' + JSON.stringify(value));
  }
  return value;
}

/** One id or a non-empty array of them, without duplicates. */
export function requireStreamIds(value: unknown): string[] {
  const list: unknown = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) throw bad('stream ids: give a stream id or a non-empty array of them');
  for (const id of list) {
    if (typeof id !== 'string' || !STREAM_ID_RE.test(id)) throw bad('invalid stream id ' + JSON.stringify(id));
  }
  const ids = list as string[];
  return ids.filter((id, i) => ids.indexOf(id) === i);
}

export function requireOneOf<T extends string>(value: unknown, allowed: readonly T[], what: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw bad(what + ' must be one of ' + allowed.join(', ') + ', got ' + JSON.stringify(value));
  }
  return value as T;
}

export function requireString(value: unknown, what: string, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value === '')) {
    throw bad(what + ' must be a ' + (allowEmpty ? '' : 'non-empty ') + 'string');
  }
  return value;
}

export function requireStringMap(value: unknown, what: string): Record<string, string> {
  if (!value || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length === 0) {
    throw bad(what + ' must be a non-empty object of strings');
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw bad(what + '.' + k + ' must be a string');
  }
  return value as Record<string, string>;
}

export function requireStringList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string' || v === '')) {
    throw bad(what + ' must be a non-empty array of non-empty strings');
  }
  return value as string[];
}

export function optionalNotify(notify: unknown): { name: string; content: string } | undefined {
  if (notify === undefined) return undefined;
  if (!notify || typeof notify !== 'object') throw bad('notify must be {name, content}');
  const n = notify as { name?: unknown; content?: unknown };
  const name = requireString(n.name, 'notify.name');
  const content = n.content === undefined ? '' : requireString(n.content, 'notify.content', true);
  return { name, content };
}

export function requireServerUrl(url: unknown): string {
  if (typeof url !== 'string' || !/^wss?:\/\/[^/]+/.test(url)) {
    throw bad("url must be the server's ws:// or wss:// signalling URL, e.g. wss://rtc.example.com/ws");
  }
  return url;
}

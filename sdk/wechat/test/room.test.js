// Room client against a real minirtc server: joining, attributes, messages,
// kick, a dropped socket that resumes, and errors. No media here.
import { describe, test, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { startServer } = require('./support/server');
const wxStandin = require('./support/wx');
const { sdk, nextEvent, record, until, errorOf } = require('./support/helpers');

const { RTCClient, ErrorCode, MiniRTCError } = sdk;
wxStandin.install();

let server;
const clients = [];

beforeAll(async () => {
  server = await startServer();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.leave()));
  wxStandin.host.networkDown = false;
});

afterAll(async () => {
  if (server) await server.stop();
});

function client(options) {
  const c = new RTCClient(Object.assign({ url: server.wsUrl }, options));
  clients.push(c);
  return c;
}

async function joined(user, room, tokenOpts) {
  const c = client();
  const info = await c.join(await server.token(user, Object.assign({ room }, tokenOpts)), room);
  return { c, info };
}

describe('joining', () => {
  test('two users see each other, in the snapshot and as events', async () => {
    const a = await joined('alice', 'join-room', { name: 'Alice' });
    expect(a.info.room.id).toBe('join-room');
    expect(a.info.self.userId).toBe('alice');
    expect(a.info.self.grants).toEqual(['publish', 'subscribe', 'data']);
    expect(a.info.users).toEqual([]);
    expect(a.c.getConnectionState()).toBe('connected');

    const seen = nextEvent(a.c, 'userJoined');
    const b = await joined('bob', 'join-room', { name: 'Bob' });
    expect(b.info.users.map((u) => [u.userId, u.name])).toEqual([['alice', 'Alice']]);
    expect((await seen).userId).toBe('bob');
    expect(a.c.getRemoteUsers().map((u) => u.userId)).toEqual(['bob']);
    expect(a.c.getRemoteUser('bob').name).toBe('Bob');

    const left = nextEvent(a.c, 'userLeft');
    await b.c.leave();
    expect(await left).toEqual({ userId: 'bob', reason: 'left' });
    expect(b.c.getConnectionState()).toBe('disconnected');
    expect(a.c.getRemoteUsers()).toEqual([]);
  });
});

describe('attributes and messages', () => {
  test('set, get and delete attributes reach the other user', async () => {
    const a = await joined('alice', 'attr-room');
    const b = await joined('bob', 'attr-room');

    const changed = nextEvent(b.c, 'attributesChanged');
    const all = await a.c.setAttributes({ topic: 'maths', floor: 'alice' }, { notify: { name: 'floor', content: 'alice speaks' } });
    expect(all).toEqual({ topic: 'maths', floor: 'alice' });
    expect(await changed).toEqual({ set: { topic: 'maths', floor: 'alice' }, deleted: [], by: 'alice', notify: { name: 'floor', content: 'alice speaks' } });
    expect(b.c.getRoom().attributes).toEqual({ topic: 'maths', floor: 'alice' });
    expect(await b.c.getAttributes(['topic', 'missing'])).toEqual({ topic: 'maths' });
    expect(await b.c.getAttributes()).toEqual({ topic: 'maths', floor: 'alice' });

    const deleted = nextEvent(a.c, 'attributesChanged');
    expect(await b.c.deleteAttributes(['floor', 'nothing'])).toEqual({ topic: 'maths' });
    expect(await deleted).toMatchObject({ deleted: ['floor'], by: 'bob' });
    expect(a.c.getRoom().attributes).toEqual({ topic: 'maths' });

    // A late joiner gets the attributes in its snapshot.
    const c = await joined('carol', 'attr-room');
    expect(c.info.room.attributes).toEqual({ topic: 'maths' });
  });

  test('messages both ways, to the room and privately', async () => {
    const a = await joined('alice', 'msg-room');
    const b = await joined('bob', 'msg-room');
    const c = await joined('carol', 'msg-room');
    const carolLog = record(c.c, ['message']);

    const atB = nextEvent(b.c, 'message');
    const id = await a.c.sendMessage('chat', 'hi bob');
    expect(await atB).toMatchObject({ id, from: 'alice', name: 'chat', content: 'hi bob', private: false });

    const atA = nextEvent(a.c, 'message');
    await b.c.sendMessage('chat', '{"text":"hi alice"}', { to: ['alice'] });
    expect(await atA).toMatchObject({ from: 'bob', content: '{"text":"hi alice"}', private: true });
    // Carol's next message proves the private one passed her by.
    await a.c.sendMessage('chat', 'to everyone');
    await until(() => carolLog.length >= 2, 5000, 'carol\'s messages');
    expect(carolLog.map((e) => e.arg.content)).toEqual(['hi bob', 'to everyone']);
  });
});

describe('sessions', () => {
  test('a dropped socket resumes and nothing sent meanwhile is lost', async () => {
    const a = await joined('alice', 'resume-room');
    const b = await joined('bob', 'resume-room');
    const states = record(b.c, ['connectionStateChanged']);
    const messages = record(b.c, ['message']);

    // Bob's network goes away: no new socket can open, and the open one dies
    // without a close frame.
    wxStandin.host.networkDown = true;
    const reconnecting = nextEvent(b.c, 'connectionStateChanged', (s) => s.state === 'reconnecting');
    b.c.session.conn.task.kill();
    await reconnecting;

    // Alice talks and changes the room while Bob is away; Bob queues a message.
    for (let i = 1; i <= 5; i++) await a.c.sendMessage('chat', 'while away ' + i);
    await a.c.setAttributes({ during: 'outage' });
    const fromBob = nextEvent(a.c, 'message');
    const sent = b.c.sendMessage('chat', 'queued while offline');

    // The network comes back and WeChat says so.
    wxStandin.host.networkDown = false;
    const back = nextEvent(b.c, 'connectionStateChanged', (s) => s.state === 'connected');
    wxStandin.emitHost.network(true);
    await back;

    await until(() => messages.length >= 5, 10000, 'the replayed messages');
    expect(messages.map((m) => m.arg.content)).toEqual([1, 2, 3, 4, 5].map((i) => 'while away ' + i));
    // The attribute change is replayed after the messages, in its own frame.
    await until(() => b.c.getRoom().attributes.during !== undefined, 5000, 'the replayed attributes');
    expect(b.c.getRoom().attributes).toEqual({ during: 'outage' });
    expect(typeof (await sent)).toBe('string');
    expect((await fromBob).content).toBe('queued while offline');
    expect(states.map((s) => s.arg.state)).toEqual(['reconnecting', 'connected']);
    // The session resumed: the first frame on the new socket was a resume.
    const last = wxStandin.host.sockets.filter((s) => s.ws && s.sent.length).pop();
    expect(JSON.parse(last.sent[0]).op).toBe('resume');
    // Exactly once: no duplicate after more traffic.
    await a.c.sendMessage('chat', 'after');
    await until(() => messages.length >= 6, 5000, 'the next message');
    expect(messages.map((m) => m.arg.content).slice(5)).toEqual(['after']);
  });

  test('back from the background after a long time: reconnect and resume', async () => {
    const a = await joined('alice', 'bg-room');
    const b = await joined('bob', 'bg-room');
    const old = b.c.session.conn;
    b.c.session.hiddenAt = 0;
    wxStandin.emitHost.appHide();
    b.c.session.hiddenAt = Date.now() - 60000; // as if hidden for a minute
    const msg = nextEvent(b.c, 'message');
    await a.c.sendMessage('chat', 'while hidden');
    const back = nextEvent(b.c, 'connectionStateChanged', (s) => s.state === 'connected');
    wxStandin.emitHost.appShow();
    await back;
    expect(b.c.session.conn).not.toBe(old);
    expect((await msg).content).toBe('while hidden');
  });

  test('kick: the kicked user is told, its state cleaned, the others see it leave', async () => {
    const admin = await joined('teacher', 'kick-room', { grants: 'publish,subscribe,data,admin' });
    const a = await joined('alice', 'kick-room');
    const b = await joined('mallory', 'kick-room');

    const kicked = nextEvent(b.c, 'kickedOff');
    const ended = nextEvent(b.c, 'connectionStateChanged', (s) => s.state === 'disconnected');
    const leftAtA = nextEvent(a.c, 'userLeft');
    await admin.c.kick('mallory', { reason: 'spam', banSeconds: 60 });
    expect(await kicked).toEqual({ reason: 'kicked', by: 'teacher', banSeconds: 60, message: 'spam' });
    const end = await ended;
    expect(end.error).toBeInstanceOf(MiniRTCError);
    expect(end.error.code).toBe(ErrorCode.SESSION_ENDED);
    expect(await leftAtA).toEqual({ userId: 'mallory', reason: 'kicked' });

    expect(b.c.isJoined()).toBe(false);
    expect(b.c.getRemoteUsers()).toEqual([]);
    expect(b.c.getRoom()).toBe(null);
    expect((await errorOf(b.c.sendMessage('chat', 'x'))).code).toBe(ErrorCode.NOT_JOINED);

    // The ban holds: joining again fails with the server's code.
    const again = client();
    const err = await errorOf(again.join(await server.token('mallory', { room: 'kick-room' }), 'kick-room'));
    expect(err.code).toBe(2007);

    // Kicking needs the admin grant: the server's 2006 reaches the caller.
    expect((await errorOf(a.c.kick('teacher'))).code).toBe(2006);
  });
});

describe('errors', () => {
  test('bad arguments and state are typed SDK errors', async () => {
    expect(() => new RTCClient({ url: 'http://x' })).toThrow(MiniRTCError);
    const c = client();
    const token = await server.token('alice', { room: 'err-room' });
    expect((await errorOf(c.join('', 'err-room'))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((await errorOf(c.join(undefined, 'err-room'))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((await errorOf(c.join(token, 'bad room!'))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((await errorOf(c.join(token, 'x'.repeat(129)))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((await errorOf(c.publish())).code).toBe(ErrorCode.NOT_JOINED);
    expect((await errorOf(c.subscribe('bob_main'))).code).toBe(ErrorCode.NOT_JOINED);
    expect((await errorOf(c.sendMessage('chat', 'x'))).code).toBe(ErrorCode.NOT_JOINED);

    await c.join(token, 'err-room');
    expect((await errorOf(c.join(token, 'err-room'))).code).toBe(ErrorCode.ALREADY_JOINED);
    expect((await errorOf(c.subscribe('nobody_main'))).code).toBe(ErrorCode.UNKNOWN_STREAM);
    expect((await errorOf(c.subscribe([]))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((await errorOf(c.subscribe('x y'))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((await errorOf(c.publish({ tag: 'a b' }))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((await errorOf(c.publish({ mediaType: 'screen' }))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((await errorOf(c.setAttributes({}))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((await errorOf(c.setAttributes({ a: 1 }))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((await errorOf(c.sendMessage(''))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((await errorOf(c.setAudioOutput('headphones'))).code).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  test('server codes reach the caller unchanged', async () => {
    const c = client();
    // Token for another room: 2005.
    const other = await server.token('alice', { room: 'room-one' });
    const err = await errorOf(c.join(other, 'room-two'));
    expect(err).toBeInstanceOf(MiniRTCError);
    expect(err.code).toBe(2005);
    expect(err.fromServer).toBe(true);
    expect(c.getConnectionState()).toBe('disconnected');
    // A forged token: 2002.
    const good = await server.token('alice', { room: 'room-two' });
    const forged = good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect((await errorOf(c.join(forged, 'room-two'))).code).toBe(2002);

    await c.join(good, 'room-two');
    // A message to somebody not in the room: 3003.
    expect((await errorOf(c.sendMessage('chat', 'x', { to: ['ghost'] }))).code).toBe(3003);
    // Unpublishing what was never published: 3005.
    expect((await errorOf(c.unpublish('main'))).code).toBe(3005);
    // An attribute value over 4096 bytes: 3006.
    expect((await errorOf(c.setAttributes({ big: 'x'.repeat(5000) }))).code).toBe(3006);
  });

  test('without the data grant, changing attributes is refused with 2006', async () => {
    const c = client();
    await c.join(await server.token('viewer', { room: 'grant-room', grants: 'subscribe' }), 'grant-room');
    const err = await errorOf(c.setAttributes({ a: 'b' }));
    expect(err.code).toBe(2006);
    expect(err.message).toMatch(/permission/);
  });
});

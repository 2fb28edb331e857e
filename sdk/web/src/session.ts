import { Connection, serverError, type CloseInfo } from './connection';
import { ErrorCode, MiniRTCError, fail, isCode } from './errors';
import type { ConnectionState } from './types';
import type { EventFrame, JoinData, ResponseFrame, ResumeData } from './protocol';

// Server codes after which joining again cannot succeed by itself
// (docs/protocol.md §12): a bad token, a ban, a full room, a closed room.
const FATAL_JOIN_CODES = [1003, 1008, 2001, 2002, 2003, 2004, 2005, 2007, 3001, 3002, 3009];

// Close codes that end the session for good (docs/protocol.md §13).
const ENDING_CLOSE_CODES = [1000, 4001, 4002, 4004];

export interface SessionOptions {
  connectTimeout: number;
  requestTimeout: number;
  reconnectTimeout: number;
}

const LIMITS = {
  maxPending: 64, // the server caches 64 responses: more in flight could not be retried safely
  backoffMin: 250,
  backoffMax: 5000,
  probeTimeout: 3000, // a ping after the page comes back / the network returns must be answered within this
};

export interface SessionHooks {
  /** join answered; runs before the session's first event. */
  onJoined(data: JoinData): void;
  /** Every event, once, in order. */
  onEvent(name: string, data: Record<string, unknown>): void;
  /** The session was lost and a new one joined. */
  onRejoined(data: JoinData): void;
  onState(state: ConnectionState, previous: ConnectionState): void;
  /** The session is over (null after leave). */
  onEnded(error: MiniRTCError | null): void;
}

interface Pending {
  id: string;
  op: string;
  data: unknown;
  resolve(data: unknown): void;
  reject(err: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

// A session of the signalling protocol (docs/protocol.md §7): join, event
// numbering, pings, reconnect + resume, re-sending unanswered requests, and
// joining again when the session is gone. The same algorithm as
// sdk/wechat/lib/session.js, with the page's visibility and the browser's
// online event standing in for the mini-program's app show and network events.
export class Session {
  state: ConnectionState = 'disconnected';
  /** Between join and the end of the session. */
  active = false;
  token = '';
  roomId = '';
  private conn: Connection | null = null;
  private nextId = 1;
  private pending = new Map<string, Pending>();
  private lastSeq = 0;
  private resumeToken: string | null = null;
  private pingIntervalMs = 5000;
  private ending: { event: string; data: Record<string, unknown> } | null = null;
  private leaving = false;
  private retryAfterMs = 0;
  private reconnecting = false;
  private reconnectStartedAt = 0;
  private attempt = 0;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private unwatch: Array<() => void> = [];
  private hiddenAt = 0;

  constructor(
    private url: string,
    private opts: SessionOptions,
    private hooks: SessionHooks,
  ) {}

  async join(token: string, roomId: string): Promise<void> {
    this.token = token;
    this.roomId = roomId;
    this.active = true;
    this.ending = null;
    this.leaving = false;
    this.setState('connecting');
    let conn: Connection | null = null;
    try {
      conn = await this.open();
      const c = conn;
      await c.request<JoinData>(this.newId(), 'join', { token, room: roomId, protocol: 1 }, this.opts.requestTimeout, (data) => {
        this.adopt(c, data, true);
        this.hooks.onJoined(data);
      });
      this.watchHost();
    } catch (err) {
      if (conn) conn.close(1000, 'join failed');
      this.conn = null;
      this.active = false;
      this.stopTimers();
      this.setState('disconnected');
      throw err;
    }
  }

  /**
   * Sends a request of the session. Requests made while reconnecting wait and
   * are sent after the resume; unanswered ones are re-sent with the same id.
   */
  request<T = Record<string, unknown>>(op: string, data?: unknown, timeoutMs?: number): Promise<T> {
    if (!this.active) return Promise.reject(fail(ErrorCode.NOT_JOINED, op + ': not in a room'));
    if (this.pending.size >= LIMITS.maxPending) {
      return Promise.reject(fail(ErrorCode.TOO_MANY_REQUESTS, op + ': ' + this.pending.size + ' requests are waiting for answers'));
    }
    return new Promise<T>((resolve, reject) => {
      const id = this.newId();
      const timeout = timeoutMs || this.opts.requestTimeout;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(fail(ErrorCode.TIMEOUT, op + ' got no answer within ' + timeout + ' ms; the server may have executed it'));
      }, timeout);
      this.pending.set(id, { id, op, data, resolve: resolve as (d: unknown) => void, reject, timer });
      if (this.state === 'connected' && this.conn) this.conn.send({ id, op, data });
    });
  }

  async leave(): Promise<void> {
    if (!this.active) return;
    this.leaving = true;
    if (this.state === 'connected') {
      try {
        await this.request('leave', undefined, 5000);
      } catch {
        // The session times out on the server if the answer was lost.
      }
    }
    this.end(null);
  }

  /**
   * Checks a connection that may have died unnoticed (the page was hidden,
   * the network came back); reconnects at once if it did.
   */
  probe(): void {
    if (!this.active) return;
    const conn = this.conn;
    if (!conn) {
      this.attempt = 0;
      clearTimeout(this.reconnectTimer);
      void this.reconnect();
      return;
    }
    conn.request(this.newId(), 'ping', { last_seq: this.lastSeq }, LIMITS.probeTimeout).catch(() => {
      if (this.conn === conn) this.drop('no answer to a ping');
    });
  }

  /** Closes the socket without ending the session, as a network loss would. */
  drop(why: string): void {
    const conn = this.conn;
    if (!conn) return;
    console.warn('[minirtc] reconnecting: ' + why);
    this.conn = null;
    clearInterval(this.pingTimer);
    conn.close(3000, why.slice(0, 100));
    this.reconnectLater(0);
  }

  private newId(): string {
    return String(this.nextId++);
  }

  private open(): Promise<Connection> {
    const conn = new Connection(this.url, {
      onEvent: (frame, c) => this.onEvent(frame, c),
      onResponse: (frame, c) => this.onResponse(frame, c),
      onClose: (info, c) => this.onClose(info, c),
    });
    return conn.connect(this.opts.connectTimeout);
  }

  /** Makes conn the session's socket after a successful join or resume. */
  private adopt(conn: Connection, data: JoinData | ResumeData, joined: boolean): void {
    this.conn = conn;
    if (joined) {
      this.resumeToken = (data as JoinData).resume_token;
      this.lastSeq = 0;
    }
    if (data.ping_interval_ms > 0) this.pingIntervalMs = data.ping_interval_ms;
    this.attempt = 0;
    this.reconnectStartedAt = 0;
    this.retryAfterMs = 0;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.tick(), this.pingIntervalMs);
    this.setState('connected');
  }

  private tick(): void {
    const conn = this.conn;
    if (!conn) return;
    // docs/protocol.md §7.3: two ping intervals without a frame = dead.
    if (Date.now() - conn.lastFrameAt > 2 * this.pingIntervalMs) {
      this.drop('nothing from the server for two ping intervals');
      return;
    }
    conn.request(this.newId(), 'ping', { last_seq: this.lastSeq }, 2 * this.pingIntervalMs).catch(() => {});
  }

  private onEvent(frame: EventFrame, conn: Connection): void {
    if (conn !== this.conn) return;
    const seq = frame.seq;
    if (typeof seq !== 'number' || seq <= this.lastSeq) return; // a duplicate
    if (seq !== this.lastSeq + 1) {
      // Resuming from the last processed event makes the server replay the gap.
      this.drop('event gap: got ' + seq + ' after ' + this.lastSeq);
      return;
    }
    this.lastSeq = seq;
    const data = (frame.data || {}) as Record<string, unknown>;
    if (frame.event === 'kicked_off' || frame.event === 'room_closed') this.ending = { event: frame.event, data };
    if (frame.event === 'server_going_away') this.retryAfterMs = Number(data.retry_after_ms) || 1000;
    this.hooks.onEvent(frame.event, data);
  }

  private onResponse(frame: ResponseFrame, _conn: Connection): void {
    const entry = this.pending.get(frame.id);
    if (!entry) return;
    this.pending.delete(frame.id);
    clearTimeout(entry.timer);
    if (frame.code === 0) entry.resolve(frame.data || {});
    else entry.reject(serverError(frame));
  }

  private onClose(info: CloseInfo, conn: Connection): void {
    if (conn !== this.conn) return;
    this.conn = null;
    clearInterval(this.pingTimer);
    if (!this.active) return;
    if (this.leaving) {
      this.end(null);
      return;
    }
    if (this.ending || ENDING_CLOSE_CODES.includes(info.code)) {
      this.end(endError(this.ending, info));
      return;
    }
    if (info.code === 4003) this.resumeToken = null; // timed out: only a new join helps
    this.reconnectLater(info.code === 1001 ? this.retryAfterMs : 0);
  }

  private reconnectLater(delay: number): void {
    if (!this.active) return;
    this.setState('reconnecting');
    if (!this.reconnectStartedAt) this.reconnectStartedAt = Date.now();
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.reconnect(), delay);
  }

  private async reconnect(): Promise<void> {
    if (!this.active || this.conn || this.reconnecting) return;
    this.reconnecting = true;
    this.attempt++;
    if (!this.reconnectStartedAt) this.reconnectStartedAt = Date.now();
    this.setState('reconnecting');
    let conn: Connection | null = null;
    try {
      conn = await this.open();
      const c = conn;
      if (!this.active) {
        c.close(1000, 'left');
        return;
      }
      if (this.resumeToken) {
        try {
          await c.request<ResumeData>(this.newId(), 'resume', { resume_token: this.resumeToken, last_seq: this.lastSeq },
            this.opts.requestTimeout, (data) => {
              this.adopt(c, data, false);
              this.resendPending();
            });
          return;
        } catch (err) {
          if (!isCode(err, 2008)) throw err;
          this.resumeToken = null; // the session is gone: join again (§7.5)
        }
      }
      await c.request<JoinData>(this.newId(), 'join', { token: this.token, room: this.roomId, protocol: 1 },
        this.opts.requestTimeout, (data) => {
          this.failPending(ErrorCode.SESSION_RESET, 'the session was lost and joined again; the outcome is unknown');
          this.adopt(c, data, true);
          this.hooks.onRejoined(data);
        });
    } catch (err) {
      if (conn && conn !== this.conn) conn.close(1000, 'reconnect failed');
      if (!this.active) return;
      if (err instanceof MiniRTCError && FATAL_JOIN_CODES.includes(err.code)) {
        this.end(err);
        return;
      }
      if (Date.now() - this.reconnectStartedAt > this.opts.reconnectTimeout) {
        this.end(fail(ErrorCode.SESSION_ENDED, 'gave up reconnecting after ' + this.opts.reconnectTimeout + ' ms', err));
        return;
      }
      const base = Math.min(LIMITS.backoffMax, LIMITS.backoffMin * Math.pow(2, this.attempt - 1));
      this.reconnectLater(base / 2 + (Math.random() * base) / 2);
    } finally {
      this.reconnecting = false;
    }
  }

  /** docs/protocol.md §4: re-send unanswered requests with the same id, in order. */
  private resendPending(): void {
    const entries = Array.from(this.pending.values()).sort((a, b) => Number(a.id) - Number(b.id));
    for (const e of entries) this.conn?.send({ id: e.id, op: e.op, data: e.data });
  }

  private failPending(code: number, message: string): void {
    for (const e of this.pending.values()) {
      clearTimeout(e.timer);
      e.reject(fail(code, e.op + ': ' + message));
    }
    this.pending.clear();
  }

  private end(error: MiniRTCError | null): void {
    if (!this.active) return;
    this.active = false;
    this.failPending(ErrorCode.SESSION_ENDED, error ? error.message : 'left the room');
    this.stopTimers();
    const conn = this.conn;
    this.conn = null;
    if (conn) conn.close(1000, 'session ended');
    this.resumeToken = null;
    this.hooks.onEnded(error);
    this.setState('disconnected');
  }

  private stopTimers(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.reconnectTimer);
    for (const off of this.unwatch) off();
    this.unwatch = [];
  }

  // A laptop that wakes up, a tab that comes back, a network that returns:
  // that is when sockets have died silently.
  private watchHost(): void {
    if (this.unwatch.length || typeof window === 'undefined') return;
    const online = () => this.probe();
    window.addEventListener('online', online);
    this.unwatch.push(() => window.removeEventListener('online', online));
    if (typeof document === 'undefined') return;
    const visibility = () => {
      if (document.visibilityState === 'hidden') {
        this.hiddenAt = Date.now();
        return;
      }
      // After a long time hidden (timers throttled, the machine asleep) the
      // socket is almost surely gone: do not wait for a ping to time out.
      const long = this.hiddenAt > 0 && Date.now() - this.hiddenAt > 2 * this.pingIntervalMs;
      this.hiddenAt = 0;
      if (long && this.conn) this.drop('back after being hidden');
      else this.probe();
    };
    document.addEventListener('visibilitychange', visibility);
    this.unwatch.push(() => document.removeEventListener('visibilitychange', visibility));
  }

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    this.hooks.onState(state, previous);
  }
}

function endError(ending: { event: string; data: Record<string, unknown> } | null, info: CloseInfo): MiniRTCError {
  if (ending && ending.event === 'kicked_off') {
    return fail(ErrorCode.SESSION_ENDED, 'kicked off: ' + (String(ending.data.reason || '') || 'unknown'));
  }
  if (ending && ending.event === 'room_closed') return fail(ErrorCode.SESSION_ENDED, 'room closed');
  return fail(ErrorCode.SESSION_ENDED, 'the server closed the session (' + info.code + ' ' + info.reason + ')');
}

import { ErrorCode, MiniRTCError, fail } from './errors';
import type { EventFrame, ResponseFrame } from './protocol';

export const SUBPROTOCOL = 'minirtc.v1';

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface ConnectionHandlers {
  onEvent(frame: EventFrame, conn: Connection): void;
  onResponse(frame: ResponseFrame, conn: Connection): void;
  onClose(info: CloseInfo, conn: Connection): void;
}

interface OwnRequest {
  resolve(data: unknown): void;
  reject(err: unknown): void;
  timer: ReturnType<typeof setTimeout>;
  onAnswer?: (data: unknown) => void;
}

export function serverError(frame: ResponseFrame): MiniRTCError {
  return new MiniRTCError(frame.code, frame.msg || 'error ' + frame.code);
}

// One WebSocket to the server. It parses frames, hands events and responses
// to its owner, and answers its own requests (join, resume, ping), which are
// bound to this socket and never re-sent on another one.
export class Connection {
  open = false;
  closed = false;
  lastFrameAt = 0;
  private ws: WebSocket | null = null;
  private own = new Map<string, OwnRequest>();

  constructor(
    readonly url: string,
    private handlers: ConnectionHandlers,
  ) {}

  /** Resolves when the socket is open; rejects with CONNECTION_FAILED. */
  connect(timeoutMs: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err?: MiniRTCError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(this);
      };
      const timer = setTimeout(() => {
        settle(fail(ErrorCode.CONNECTION_FAILED, 'connecting to ' + this.url + ' timed out'));
        this.close(1000, 'connect timeout');
      }, timeoutMs);
      let ws: WebSocket;
      try {
        ws = new WebSocket(this.url, [SUBPROTOCOL]);
      } catch (err) {
        settle(fail(ErrorCode.CONNECTION_FAILED, 'cannot open ' + this.url + ': ' + String((err as Error)?.message || err), err));
        return;
      }
      this.ws = ws;
      ws.onopen = () => {
        this.open = true;
        this.lastFrameAt = Date.now();
        settle();
      };
      ws.onmessage = (ev: MessageEvent) => {
        if (typeof ev.data === 'string') this.onMessage(ev.data);
      };
      // Browsers hide why a socket failed; the close event that follows
      // carries the code.
      ws.onerror = () => settle(fail(ErrorCode.CONNECTION_FAILED, 'cannot connect to ' + this.url));
      ws.onclose = (ev: CloseEvent) => {
        const info = { code: ev.code || 1006, reason: ev.reason || '' };
        settle(fail(ErrorCode.CONNECTION_FAILED, 'socket closed (' + info.code + ') before it opened'));
        this.onClose(info);
      };
    });
  }

  send(frame: { id: string; op: string; data?: unknown }): boolean {
    if (!this.open || this.closed || !this.ws) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /**
   * A request answered on this socket only. onAnswer runs synchronously with
   * the response, before any later frame is handled: join and resume must
   * take effect before their events.
   */
  request<T>(id: string, op: string, data: unknown, timeoutMs: number, onAnswer?: (data: T) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.own.delete(id);
        reject(fail(ErrorCode.TIMEOUT, op + ' got no answer within ' + timeoutMs + ' ms'));
      }, timeoutMs);
      this.own.set(id, {
        resolve: resolve as (d: unknown) => void,
        reject,
        timer,
        onAnswer: onAnswer as ((d: unknown) => void) | undefined,
      });
      if (!this.send({ id, op, data })) {
        clearTimeout(timer);
        this.own.delete(id);
        reject(fail(ErrorCode.CONNECTION_FAILED, 'not connected'));
      }
    });
  }

  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    this.closed = true;
    this.open = false;
    // Browsers accept only 1000 and 3000–4999 from scripts.
    if (this.ws) this.ws.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, reason);
    this.failOwn();
  }

  private onMessage(text: string): void {
    this.lastFrameAt = Date.now();
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch (err) {
      console.error('[minirtc] unreadable frame from server', err);
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    if (typeof (frame as EventFrame).event === 'string') {
      this.handlers.onEvent(frame as EventFrame, this);
      return;
    }
    const res = frame as ResponseFrame;
    const own = this.own.get(res.id);
    if (!own) {
      this.handlers.onResponse(res, this);
      return;
    }
    this.own.delete(res.id);
    clearTimeout(own.timer);
    if (res.code !== 0) {
      own.reject(serverError(res));
      return;
    }
    try {
      if (own.onAnswer) own.onAnswer(res.data || {});
      own.resolve(res.data || {});
    } catch (err) {
      own.reject(err);
    }
  }

  private onClose(info: CloseInfo): void {
    const wasClosed = this.closed;
    this.closed = true;
    this.open = false;
    this.failOwn();
    // A socket we closed ourselves is the owner's business already.
    if (!wasClosed) this.handlers.onClose(info, this);
  }

  private failOwn(): void {
    for (const own of this.own.values()) {
      clearTimeout(own.timer);
      own.reject(fail(ErrorCode.CONNECTION_FAILED, 'connection closed'));
    }
    this.own.clear();
  }
}

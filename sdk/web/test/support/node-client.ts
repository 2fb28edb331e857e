// A minimal signalling client for Node (docs/protocol.md): the test's
// stand-in for a participant that is not a browser, e.g. one that publishes
// with ffmpeg over RTMP or plays the FLV/RTMP URLs.
import WebSocket from 'ws';

export interface ServerError extends Error {
  code: number;
}

export interface NodeEvent {
  seq: number;
  event: string;
  data: Record<string, unknown>;
}

export class NodeClient {
  readonly events: NodeEvent[] = [];
  join: Record<string, unknown> = {};
  private ws: WebSocket;
  private nextId = 1;
  private waiting = new Map<string, { resolve(d: Record<string, unknown>): void; reject(e: ServerError): void }>();
  private ping: ReturnType<typeof setInterval> | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw));
      if (typeof frame.event === 'string') {
        this.events.push(frame as NodeEvent);
        return;
      }
      const w = this.waiting.get(frame.id);
      if (!w) return;
      this.waiting.delete(frame.id);
      if (frame.code === 0) w.resolve(frame.data || {});
      else w.reject(Object.assign(new Error(frame.code + ' ' + frame.msg), { code: frame.code as number }));
    });
  }

  static async connect(wsUrl: string, token: string, room: string): Promise<NodeClient> {
    const ws = new WebSocket(wsUrl, ['minirtc.v1']);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const c = new NodeClient(ws);
    c.join = await c.request('join', { token, room, protocol: 1 });
    const interval = Number(c.join.ping_interval_ms) || 5000;
    c.ping = setInterval(() => {
      const last = c.events.length ? c.events[c.events.length - 1]!.seq : 0;
      c.request('ping', { last_seq: last }).catch(() => {});
    }, interval);
    return c;
  }

  request(op: string, data?: unknown): Promise<Record<string, unknown>> {
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, op, data }));
    });
  }

  async waitEvent(name: string, match: (d: Record<string, unknown>) => boolean = () => true, timeoutMs = 15000): Promise<Record<string, unknown>> {
    const started = Date.now();
    for (;;) {
      const hit = this.events.find((e) => e.event === name && match(e.data));
      if (hit) return hit.data;
      if (Date.now() - started > timeoutMs) throw new Error('node client: no ' + name + ' within ' + timeoutMs + ' ms');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  close(): void {
    clearInterval(this.ping);
    this.ws.close();
  }
}

/** True when the server's join answer says it takes WebRTC. */
export function serverHasWebRTC(join: Record<string, unknown>): boolean {
  return !!join.webrtc && typeof join.webrtc === 'object';
}

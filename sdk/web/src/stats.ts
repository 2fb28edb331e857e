import type { AudioStats, StreamStats, VideoStats } from './types';

type Report = Record<string, unknown> & { id: string; type: string; timestamp: number };

function num(v: unknown): number {
  return typeof v === 'number' && isFinite(v) ? v : 0;
}

// Turns RTCPeerConnection.getStats() into per-stream numbers. Bitrates need
// two samples: the previous byte counters are kept by RTP stats id.
export class StatsSampler {
  private prev = new Map<string, { bytes: number; at: number }>();

  /** A stream we send: every outbound-rtp of its own peer connection. */
  async sent(pc: RTCPeerConnection, streamId: string, tag: string): Promise<StreamStats> {
    const reports = await collect(pc);
    const out: StreamStats = { streamId, tag, direction: 'send' };
    for (const r of reports.values()) {
      if (r.type === 'outbound-rtp') {
        const codec = codecName(reports, r);
        const base = { bitrate: this.bitrate(r.id, num(r.bytesSent), r.timestamp), packets: num(r.packetsSent), packetsLost: 0, codec };
        if (r.kind === 'video') out.video = { ...base, frames: num(r.framesEncoded), framesPerSecond: num(r.framesPerSecond), width: num(r.frameWidth), height: num(r.frameHeight) };
        else if (r.kind === 'audio') out.audio = { ...base, level: 0 };
      } else if (r.type === 'remote-inbound-rtp') {
        const outbound = reports.get(String(r.localId || ''));
        if (outbound && outbound.kind === 'video' && out.video) out.video.packetsLost = num(r.packetsLost);
        if (outbound && outbound.kind === 'audio' && out.audio) out.audio.packetsLost = num(r.packetsLost);
      }
    }
    const rtt = roundTrip(reports);
    if (rtt !== undefined) out.rttMs = rtt;
    return out;
  }

  /** The streams we receive on the downlink, matched by track id. */
  async received(pc: RTCPeerConnection, trackToStream: Map<string, string>): Promise<StreamStats[]> {
    const reports = await collect(pc);
    const byStream = new Map<string, StreamStats>();
    const rtt = roundTrip(reports);
    for (const r of reports.values()) {
      if (r.type !== 'inbound-rtp') continue;
      const streamId = trackToStream.get(String(r.trackIdentifier || ''));
      if (!streamId) continue;
      let s = byStream.get(streamId);
      if (!s) {
        s = { streamId, direction: 'recv' };
        if (rtt !== undefined) s.rttMs = rtt;
        byStream.set(streamId, s);
      }
      const base = {
        bitrate: this.bitrate(r.id, num(r.bytesReceived), r.timestamp),
        packets: num(r.packetsReceived),
        packetsLost: num(r.packetsLost),
        codec: codecName(reports, r),
      };
      if (r.kind === 'video') {
        const v: VideoStats = { ...base, frames: num(r.framesDecoded), framesPerSecond: num(r.framesPerSecond), width: num(r.frameWidth), height: num(r.frameHeight) };
        s.video = v;
      } else if (r.kind === 'audio') {
        const a: AudioStats = { ...base, level: num(r.audioLevel) };
        s.audio = a;
      }
    }
    return Array.from(byStream.values());
  }

  private bitrate(id: string, bytes: number, at: number): number {
    const p = this.prev.get(id);
    this.prev.set(id, { bytes, at });
    if (!p || at <= p.at || bytes < p.bytes) return 0;
    return Math.round(((bytes - p.bytes) * 8 * 1000) / (at - p.at));
  }
}

async function collect(pc: RTCPeerConnection): Promise<Map<string, Report>> {
  const out = new Map<string, Report>();
  if (pc.connectionState === 'closed') return out;
  const stats = await pc.getStats();
  stats.forEach((r: Report) => out.set(r.id, r));
  return out;
}

function codecName(reports: Map<string, Report>, r: Report): string {
  const c = reports.get(String(r.codecId || ''));
  const mime = c ? String(c.mimeType || '') : '';
  return mime.includes('/') ? mime.split('/')[1]!.toLowerCase() : mime.toLowerCase();
}

function roundTrip(reports: Map<string, Report>): number | undefined {
  for (const r of reports.values()) {
    if (r.type === 'candidate-pair' && (r.nominated || r.state === 'succeeded') && typeof r.currentRoundTripTime === 'number') {
      return Math.round(r.currentRoundTripTime * 1000);
    }
  }
  return undefined;
}

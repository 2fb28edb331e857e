import { ErrorCode, MiniRTCError, fail } from './errors';
import type { WireICEServer } from './protocol';

export interface Signaller {
  /** Sends a request of the session (session.request). */
  request<T = Record<string, unknown>>(op: string, data?: unknown): Promise<T>;
}

export function iceConfig(servers: WireICEServer[]): RTCConfiguration {
  // One transport for every track: the server bundles (one ICE/DTLS per
  // peer connection), and it saves candidates and checks.
  return {
    iceServers: servers.map((s) => ({ urls: s.urls, username: s.username, credential: s.credential })),
    bundlePolicy: 'max-bundle',
    rtcpMuxPolicy: 'require',
  };
}

// Mini-programs play what the server relays without transcoding video, and
// live-player decodes H.264 only: prefer constrained baseline (42e01f) with
// packetization-mode=1, then other H.264 with mode 1, then VP8 (a fallback a
// server may take for browser-only rooms). RTX stays so losses can be repaired.
function rankVideo(c: RTCRtpCodec): number {
  const mime = c.mimeType.toLowerCase();
  const fmtp = (c.sdpFmtpLine || '').toLowerCase();
  if (mime === 'video/h264' && fmtp.includes('packetization-mode=1')) {
    return fmtp.includes('profile-level-id=42e01f') ? 0 : fmtp.includes('profile-level-id=42001f') ? 1 : 2;
  }
  if (mime === 'video/vp8') return 3;
  if (mime === 'video/rtx') return 4;
  return -1;
}

/** Orders a sending transceiver's codecs as the server wants them; a no-op where the browser cannot. */
export function preferCodecs(transceiver: RTCRtpTransceiver, kind: 'audio' | 'video'): void {
  if (typeof transceiver.setCodecPreferences !== 'function' || typeof RTCRtpReceiver.getCapabilities !== 'function') return;
  // Receiver capabilities: older Chromium checks preferences against them
  // even for a sendonly transceiver; the codecs we want are in both lists.
  const caps = RTCRtpReceiver.getCapabilities(kind);
  if (!caps) return;
  let codecs: RTCRtpCodec[];
  if (kind === 'video') {
    codecs = caps.codecs.filter((c) => rankVideo(c) >= 0).sort((a, b) => rankVideo(a) - rankVideo(b));
  } else {
    codecs = caps.codecs.filter((c) => c.mimeType.toLowerCase() === 'audio/opus');
  }
  if (!codecs.length) return;
  try {
    transceiver.setCodecPreferences(codecs);
  } catch (err) {
    // Leave the browser's defaults: the server answers 3011 if it cannot take them.
    console.warn('[minirtc] setCodecPreferences failed', err);
  }
}

/**
 * Waits until the peer connection has gathered its candidates, or timeoutMs:
 * then the local description is sent with what it has and the rest trickles.
 */
export function waitForGathering(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/**
 * Sends the candidates a peer connection finds after its SDP went out, as
 * webrtc_candidate for target. Candidates found earlier are in that SDP.
 */
export class Trickler {
  private sentSdp: string | null = null;
  private sentComplete = false;
  private queued: Array<RTCIceCandidate | null> = [];
  private stopped = false;

  constructor(
    pc: RTCPeerConnection,
    private signaller: Signaller,
    private target: string,
  ) {
    pc.addEventListener('icecandidate', (ev) => this.onCandidate(ev.candidate));
  }

  /** The SDP with the candidates known so far has been sent and applied by the server. */
  start(sentSdp: string, gatheringComplete: boolean): void {
    this.sentSdp = sentSdp;
    this.sentComplete = gatheringComplete;
    const queued = this.queued;
    this.queued = [];
    for (const c of queued) this.onCandidate(c);
  }

  stop(): void {
    this.stopped = true;
    this.queued = [];
  }

  private onCandidate(c: RTCIceCandidate | null): void {
    if (this.stopped) return;
    if (this.sentSdp === null) {
      this.queued.push(c);
      return;
    }
    if (c && c.candidate && this.sentSdp.includes(c.candidate)) return;
    // Gathering finished before the SDP went out: it held every candidate.
    if (!c && this.sentComplete) return;
    const data = c
      ? { target: this.target, candidate: c.candidate, sdp_mid: c.sdpMid ?? undefined, sdp_mline_index: c.sdpMLineIndex ?? undefined }
      : { target: this.target, candidate: '' };
    this.signaller.request('webrtc_candidate', data).catch((err: unknown) => {
      if (!this.stopped) console.warn('[minirtc] webrtc_candidate for ' + this.target + ' failed', err);
    });
  }
}

export function rtcFailure(what: string, err: unknown): MiniRTCError {
  if (err instanceof MiniRTCError) return err;
  return fail(ErrorCode.WEBRTC_FAILED, what + ': ' + String((err as Error)?.message || err), err);
}

export function hasWebRTC(): boolean {
  return typeof RTCPeerConnection === 'function';
}

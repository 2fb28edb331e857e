import type { MiniRTCError } from './errors';
import { DOWNLINK, type WebRTCOfferEvent, type WireICEServer } from './protocol';
import { Trickler, iceConfig, rtcFailure, waitForGathering, type Signaller } from './rtc-util';

export interface DownlinkHandlers {
  /** A remote track arrived; streamId is its MediaStream id, which the server sets to the stream id. */
  onTrack(streamId: string, track: MediaStreamTrack): void;
  /** An offer was applied: the downlink carries exactly these streams now. */
  onApplied(streams: string[]): void;
  onError(err: MiniRTCError): void;
}

// The session's one subscribing peer connection. The server offers (again
// whenever the streams it carries change); we answer, always the latest
// offer: one that a newer offer overtook is skipped.
export class Downlink {
  readonly pc: RTCPeerConnection;
  private trickler: Trickler;
  private latest: WebRTCOfferEvent | null = null;
  private newestId = -1;
  private running = false;
  private answered = false;
  private closed = false;

  constructor(
    private signaller: Signaller,
    iceServers: WireICEServer[],
    private gatheringTimeout: number,
    private handlers: DownlinkHandlers,
  ) {
    this.pc = new RTCPeerConnection(iceConfig(iceServers));
    this.trickler = new Trickler(this.pc, signaller, DOWNLINK);
    this.pc.addEventListener('track', (ev: RTCTrackEvent) => {
      const stream = ev.streams[0];
      if (stream && !this.closed) this.handlers.onTrack(stream.id, ev.track);
    });
  }

  offer(ev: WebRTCOfferEvent): void {
    if (this.closed || ev.offer_id <= this.newestId) return;
    this.newestId = ev.offer_id;
    this.latest = ev;
    if (!this.running) void this.run();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.latest = null;
    this.trickler.stop();
    this.pc.close();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.latest && !this.closed) {
        const ev = this.latest;
        this.latest = null;
        try {
          await this.answer(ev);
        } catch (err) {
          // A stale offer's answer may be refused once a newer one exists.
          if (!this.closed && ev.offer_id === this.newestId) this.handlers.onError(rtcFailure('answering the downlink offer ' + ev.offer_id, err));
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async answer(ev: WebRTCOfferEvent): Promise<void> {
    const pc = this.pc;
    await pc.setRemoteDescription({ type: 'offer', sdp: ev.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    // Later offers reuse the bundled transport: only the first answer has
    // candidates worth waiting for.
    let complete = true;
    if (!this.answered) {
      await waitForGathering(pc, this.gatheringTimeout);
      complete = pc.iceGatheringState === 'complete';
    }
    if (this.closed || this.latest) return; // overtaken: answer the newer offer instead
    const sdp = pc.localDescription ? pc.localDescription.sdp : '';
    this.handlers.onApplied(ev.streams || []);
    await this.signaller.request('webrtc_answer', { offer_id: ev.offer_id, sdp });
    if (!this.answered) {
      this.answered = true;
      this.trickler.start(sdp, complete);
    }
  }
}

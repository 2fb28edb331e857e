import type { MediaType, PublishData, WireICEServer } from './protocol';
import { Trickler, iceConfig, preferCodecs, rtcFailure, waitForGathering, type Signaller } from './rtc-util';

export interface PublisherConfig {
  iceServers: WireICEServer[];
  gatheringTimeout: number;
  maxVideoBitrate?: number;
}

export function kindsOf(mediaType: MediaType): Array<'audio' | 'video'> {
  return mediaType === 'audio_video' ? ['audio', 'video'] : [mediaType];
}

// One stream sent over WebRTC: its own peer connection (the server takes one
// per published tag), sendonly tracks, and the publish request carrying the
// offer (docs/protocol.md, publish with transport "webrtc").
export class Publisher {
  readonly pc: RTCPeerConnection;
  private trickler: Trickler;
  private closed = false;

  constructor(
    readonly tag: string,
    readonly stream: MediaStream,
    readonly mediaType: MediaType,
    private signaller: Signaller,
    private config: PublisherConfig,
  ) {
    this.pc = new RTCPeerConnection(iceConfig(config.iceServers));
    // Listening from the start: candidates found before the offer goes out
    // are in it, later ones trickle.
    this.trickler = new Trickler(this.pc, signaller, tag);
  }

  /** Publishes: offer → publish request → answer. Server errors come through unchanged. */
  async start(): Promise<PublishData> {
    const pc = this.pc;
    for (const kind of kindsOf(this.mediaType)) {
      const track = kind === 'audio' ? this.stream.getAudioTracks()[0] : this.stream.getVideoTracks()[0];
      if (!track) continue;
      const init: RTCRtpTransceiverInit = { direction: 'sendonly', streams: [this.stream] };
      if (kind === 'video' && this.config.maxVideoBitrate) init.sendEncodings = [{ maxBitrate: this.config.maxVideoBitrate }];
      preferCodecs(pc.addTransceiver(track, init), kind);
    }
    let sdp: string;
    let complete: boolean;
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await waitForGathering(pc, this.config.gatheringTimeout);
      sdp = pc.localDescription ? pc.localDescription.sdp : '';
      complete = pc.iceGatheringState === 'complete';
    } catch (err) {
      throw rtcFailure('creating the offer for ' + this.tag, err);
    }
    const data = await this.signaller.request<PublishData>('publish', {
      tag: this.tag,
      media: this.mediaType,
      transport: 'webrtc',
      offer: sdp,
    });
    if (this.closed) return data;
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: data.answer || '' });
    } catch (err) {
      throw rtcFailure("applying the server's answer for " + this.tag, err);
    }
    this.trickler.start(sdp, complete);
    return data;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.trickler.stop();
    this.pc.close();
  }
}

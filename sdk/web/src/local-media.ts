import { capture, hasAudio, hasVideo, stopTracks, type Captured } from './capture';
import { allowRetry, type ClientContext } from './context';
import { ErrorCode, MiniRTCError, fail, isCode } from './errors';
import type { MediaType } from './protocol';
import { Publisher } from './publisher';
import type { LocalStream, PublishOptions } from './types';
import { requireId, requireOneOf } from './validate';

interface Entry extends Captured {
  tag: string;
  streamId: string;
  maxVideoBitrate?: number;
  publisher: Publisher | null;
  republishing: Promise<void> | null;
  republishedAt: number[];
  unwatch: () => void;
}

// Your own streams: capture, one Publisher per tag, camera and microphone
// switches, and publishing again when the server loses a stream.
export class LocalMedia {
  readonly entries = new Map<string, Entry>();
  cameraOn = true;
  micOn = true;

  constructor(private ctx: ClientContext) {}

  async publish(options?: PublishOptions): Promise<LocalStream> {
    const o = options || {};
    const tag = o.tag === undefined ? 'main' : requireId(o.tag, 'tag');
    const wanted = o.mediaType === undefined ? undefined : requireOneOf<MediaType>(o.mediaType, ['audio', 'video', 'audio_video'], 'mediaType');
    this.ctx.requireJoined('publish');
    this.ctx.requireWebRTC('publish');
    // Capturing a second camera only to hear 3004 from the server would make
    // the camera light flicker: refuse here, with the server's code.
    if (this.entries.has(tag)) throw new MiniRTCError(3004, 'stream already published: tag "' + tag + '" is published already; unpublish it first');
    const captured = await capture(o, wanted);
    const entry: Entry = {
      ...captured,
      tag,
      streamId: '',
      maxVideoBitrate: o.maxVideoBitrate,
      publisher: null,
      republishing: null,
      republishedAt: [],
      unwatch: () => {},
    };
    if (this.entries.has(tag) || !this.ctx.isJoined()) {
      // Published meanwhile, or the session ended while the user chose a screen.
      if (entry.owned) stopTracks(entry.stream);
      this.ctx.requireJoined('publish');
      throw new MiniRTCError(3004, 'stream already published: tag "' + tag + '"');
    }
    this.entries.set(tag, entry);
    this.applyDevices(entry);
    try {
      await this.start(entry);
    } catch (err) {
      if (this.entries.get(tag) === entry) this.forget(entry);
      throw err;
    }
    entry.unwatch = watchEnded(entry.stream, () => this.onCaptureEnded(entry));
    return describe(entry);
  }

  async unpublish(tag?: string): Promise<void> {
    const t = tag === undefined ? 'main' : requireId(tag, 'tag');
    this.ctx.requireJoined('unpublish');
    const entry = this.entries.get(t);
    if (entry) this.forget(entry);
    await this.ctx.request('unpublish', { tag: t });
  }

  async setCamera(on: boolean): Promise<void> {
    this.cameraOn = on;
    await this.sendMute('video', { video_disabled: !on });
  }

  async setMic(on: boolean): Promise<void> {
    this.micOn = on;
    await this.sendMute('audio', { audio_muted: !on });
  }

  localStream(tag: string): LocalStream | null {
    const e = this.entries.get(tag);
    return e ? describe(e) : null;
  }

  all(): LocalStream[] {
    return Array.from(this.entries.values()).map(describe);
  }

  /** The server closed the peer connection of tag (webrtc_closed). */
  onClosed(tag: string, reason: string): void {
    void this.republish(tag, 'peer connection closed: ' + (reason || 'unknown'));
  }

  /** Our own stream ended on the server: publish it again. */
  onOwnStreamEnded(streamId: string): void {
    for (const e of this.entries.values()) if (e.streamId === streamId) void this.republish(e.tag, 'the server ended the stream');
  }

  /** A fresh peer connection and stream for tag. Once at a time per tag; failures become 'error' events. */
  republish(tag: string, reason: string): Promise<void> | null {
    const entry = this.entries.get(tag);
    if (!entry || entry.republishing || !this.ctx.isConnected()) return null;
    if (!allowRetry(entry.republishedAt, Date.now())) {
      this.ctx.emit('error', fail(ErrorCode.TOO_MANY_REQUESTS, 'stream ' + entry.streamId + ' failed 5 times within a minute; not re-publishing (last: ' + reason + ')'));
      return null;
    }
    entry.republishing = (async () => {
      entry.publisher?.close();
      entry.publisher = null;
      try {
        await this.ctx.request('unpublish', { tag });
      } catch (err) {
        if (!isCode(err, 3005)) throw err; // 3005: gone already
      }
      await this.start(entry);
      this.ctx.emit('streamRepublished', { ...ids(entry), reason });
    })()
      .catch((err: MiniRTCError) => {
        if (this.entries.get(tag) === entry) this.ctx.emit('error', err);
      })
      .then(() => {
        entry.republishing = null;
      });
    return entry.republishing;
  }

  /** After joining again (docs/protocol.md §7.5) the new session has no streams. */
  republishAll(): void {
    for (const entry of this.entries.values()) {
      entry.publisher?.close();
      entry.publisher = null;
      entry.republishing = null;
      entry.republishedAt = [];
      this.start(entry)
        .then(() => this.ctx.emit('streamRepublished', { ...ids(entry), reason: 'joined again' }))
        .catch((err: MiniRTCError) => {
          if (this.entries.get(entry.tag) === entry) this.ctx.emit('error', err);
        });
    }
  }

  /** The session is over: close every peer connection, release the devices. */
  clear(): void {
    for (const e of Array.from(this.entries.values())) this.forget(e);
  }

  publishers(): Publisher[] {
    return Array.from(this.entries.values()).map((e) => e.publisher).filter((p): p is Publisher => !!p);
  }

  private async start(entry: Entry): Promise<void> {
    const publisher = new Publisher(entry.tag, entry.stream, entry.mediaType, this.ctx, {
      iceServers: this.ctx.requireWebRTC('publish'),
      gatheringTimeout: this.ctx.options.iceGatheringTimeout,
      maxVideoBitrate: entry.maxVideoBitrate,
    });
    entry.publisher = publisher;
    let published = false;
    try {
      const data = await publisher.start();
      published = true;
      entry.streamId = data.stream.id;
      // A pending stream's mute state is announced with stream_published.
      const mute: Record<string, boolean> = {};
      if (entry.source !== 'screen' && hasVideo(entry.mediaType) && !this.cameraOn) mute.video_disabled = true;
      if (entry.source !== 'screen' && hasAudio(entry.mediaType) && !this.micOn) mute.audio_muted = true;
      if (Object.keys(mute).length) await this.ctx.request('mute', { tag: entry.tag, ...mute });
    } catch (err) {
      publisher.close();
      if (entry.publisher === publisher) entry.publisher = null;
      // The server took the offer but we could not use its answer: do not
      // leave a pending stream behind.
      if (published || (err instanceof MiniRTCError && err.code === ErrorCode.WEBRTC_FAILED)) {
        this.ctx.request('unpublish', { tag: entry.tag }).catch(() => {});
      }
      throw err;
    }
  }

  private forget(entry: Entry): void {
    this.entries.delete(entry.tag);
    entry.unwatch();
    entry.publisher?.close();
    entry.publisher = null;
    if (entry.owned) stopTracks(entry.stream);
  }

  // The camera and microphone switches act on what the camera (or your own
  // stream) sends, not on a screen share. A disabled track sends black
  // frames / silence, so players keep running and the switch is instant.
  private applyDevices(entry: Entry): void {
    if (entry.source === 'screen') return;
    for (const t of entry.stream.getVideoTracks()) t.enabled = this.cameraOn;
    for (const t of entry.stream.getAudioTracks()) t.enabled = this.micOn;
  }

  private async sendMute(kind: 'audio' | 'video', fields: Record<string, boolean>): Promise<void> {
    const jobs: Array<Promise<unknown>> = [];
    for (const entry of this.entries.values()) {
      if (entry.source === 'screen') continue;
      this.applyDevices(entry);
      const carries = kind === 'audio' ? hasAudio(entry.mediaType) : hasVideo(entry.mediaType);
      if (carries && entry.streamId && this.ctx.isConnected()) jobs.push(this.ctx.request('mute', { tag: entry.tag, ...fields }));
    }
    await Promise.all(jobs);
  }

  // "Stop sharing" in the browser's bar, an unplugged camera: nothing more
  // will be sent, so withdraw the stream and say so.
  private onCaptureEnded(entry: Entry): void {
    if (this.entries.get(entry.tag) !== entry) return;
    if (entry.stream.getTracks().some((t) => t.readyState === 'live')) return;
    this.forget(entry);
    this.ctx.emit('localStreamEnded', { tag: entry.tag, id: entry.streamId });
    if (this.ctx.isConnected()) this.ctx.request('unpublish', { tag: entry.tag }).catch(() => {});
  }
}

function ids(e: Entry): { id: string; tag: string; mediaType: MediaType } {
  return { id: e.streamId, tag: e.tag, mediaType: e.mediaType };
}

function describe(e: Entry): LocalStream {
  return { ...ids(e), source: e.source, stream: e.stream };
}

function watchEnded(stream: MediaStream, onEnded: () => void): () => void {
  const tracks = stream.getTracks();
  for (const t of tracks) t.addEventListener('ended', onEnded);
  return () => {
    for (const t of tracks) t.removeEventListener('ended', onEnded);
  };
}

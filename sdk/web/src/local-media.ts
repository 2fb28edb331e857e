import { capture, hasAudio, hasVideo, stopTracks, type Captured } from './capture';
import { allowRetry, type ClientContext } from './context';
import { ErrorCode, MiniRTCError, fail, isCode } from './errors';
import type { ForceMuteData, MediaType } from './protocol';
import { Publisher } from './publisher';
import type { ForceMuteEvent, LocalStream, PublishOptions } from './types';
import { requireId, requireOneOf } from './validate';

interface Entry extends Captured {
  tag: string;
  streamId: string;
  maxVideoBitrate?: number;
  publisher: Publisher | null;
  republishing: Promise<void> | null;
  republishedAt: number[];
  unwatch: () => void;
  /** The app server keeps this stream's audio / video off (force_mute). */
  audioLocked: boolean;
  videoLocked: boolean;
  /** A screen share's locks as last applied: its tracks are touched only on a lock or an unlock. */
  lockedBefore?: { audio: boolean; video: boolean };
}

/**
 * The server's code for a refused permission, also for unmuting what the app
 * server muted (docs/protocol.md "mute"). The SDK refuses such an unmute with
 * it before asking.
 */
const PERMISSION_DENIED = 2006;

// Your own streams: capture, one Publisher per tag, camera and microphone
// switches, and publishing again when the server loses a stream.
export class LocalMedia {
  readonly entries = new Map<string, Entry>();
  // The user's choices (openMic/closeMic ...). What a track does is the
  // choice unless the app server locked the stream (force_mute).
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
      audioLocked: false,
      videoLocked: false,
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
    if (on) this.refuseLocked('video', 'openCamera');
    this.cameraOn = on;
    await this.sendMute('video', { video_disabled: !on });
  }

  async setMic(on: boolean): Promise<void> {
    if (on) this.refuseLocked('audio', 'openMic');
    this.micOn = on;
    await this.sendMute('audio', { audio_muted: !on });
  }

  /** True while the app server keeps the microphone (camera) of one of your camera streams off. */
  locked(kind: 'audio' | 'video'): boolean {
    for (const e of this.entries.values()) if (e.source !== 'screen' && (kind === 'audio' ? e.audioLocked : e.videoLocked)) return true;
    return false;
  }

  /**
   * force_mute (docs/protocol.md): the app server muted or unmuted one of our
   * streams. Comply at once: a disabled track sends silence / black frames.
   * After an unmute the track comes back only if the user had not turned the
   * device off; if they had, the server (which just unmuted the stream) is
   * told the user's choice again. Returns the forceMute event, or null for a
   * stream we do not publish.
   */
  onForceMute(d: ForceMuteData): ForceMuteEvent | null {
    let entry: Entry | undefined;
    for (const e of this.entries.values()) if (e.streamId === d.stream.id) entry = e;
    if (!entry) return null;
    entry.audioLocked = !!d.stream.audio_locked;
    entry.videoLocked = !!d.stream.video_locked;
    this.applyDevices(entry);
    const restore: Record<string, boolean> = {};
    if (entry.source !== 'screen') {
      if (d.audio_muted === false && !this.micOn) restore.audio_muted = true;
      if (d.video_disabled === false && !this.cameraOn) restore.video_disabled = true;
    }
    if (Object.keys(restore).length && this.ctx.isJoined()) {
      this.ctx.request('mute', { tag: entry.tag, ...restore }).catch((err: MiniRTCError) => this.ctx.emit('error', err));
    }
    const out: ForceMuteEvent = { streamId: entry.streamId, tag: entry.tag, audioLocked: entry.audioLocked, videoLocked: entry.videoLocked };
    if (typeof d.audio_muted === 'boolean') out.audioMuted = d.audio_muted;
    if (typeof d.video_disabled === 'boolean') out.videoDisabled = d.video_disabled;
    return out;
  }

  /**
   * The app server took the publish grant away: it has unpublished our
   * streams already (stream_unpublished came first). Close the peer
   * connections, release the devices, and forget the streams so that nothing
   * publishes them again.
   */
  onPublishRevoked(): void {
    this.clear();
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
      // Unpublished or revoked (participant_updated) meanwhile.
      if (this.entries.get(tag) !== entry) return;
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
      // The app server's locks outlive the stream: a stream published again
      // comes back muted (docs/api.md). The answer comes before ICE connects,
      // so no unlocked media goes out.
      entry.audioLocked = !!data.stream.audio_locked;
      entry.videoLocked = !!data.stream.video_locked;
      this.applyDevices(entry);
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
  // stream) sends, not on a screen share; the app server's locks act on
  // every stream. A disabled track sends black frames / silence, so players
  // keep running and the switch is instant.
  private applyDevices(entry: Entry): void {
    if (entry.source === 'screen') {
      // Only the locks: leave a share the app server does not lock as it is.
      if (entry.videoLocked || entry.lockedBefore?.video) for (const t of entry.stream.getVideoTracks()) t.enabled = !entry.videoLocked;
      if (entry.audioLocked || entry.lockedBefore?.audio) for (const t of entry.stream.getAudioTracks()) t.enabled = !entry.audioLocked;
      entry.lockedBefore = { audio: entry.audioLocked, video: entry.videoLocked };
      return;
    }
    for (const t of entry.stream.getVideoTracks()) t.enabled = this.cameraOn && !entry.videoLocked;
    for (const t of entry.stream.getAudioTracks()) t.enabled = this.micOn && !entry.audioLocked;
  }

  // Unmuting what the app server muted is refused, as the server would
  // (2006), and changes nothing: the user's choice stays as it was.
  private refuseLocked(kind: 'audio' | 'video', op: string): void {
    for (const e of this.entries.values()) {
      if (e.source === 'screen' || !(kind === 'audio' ? e.audioLocked : e.videoLocked)) continue;
      throw new MiniRTCError(PERMISSION_DENIED, op + ': the app server muted the ' + kind + ' of stream ' + e.streamId + ' (' + kind + 'Locked); it must unmute it first');
    }
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

import { allowRetry, type ClientContext } from './context';
import { Downlink } from './downlink';
import { ErrorCode, MiniRTCError, fail } from './errors';
import type { SubscribeData, WebRTCOfferEvent } from './protocol';
import type { SubscribeResult } from './types';
import { requireStreamIds } from './validate';

interface Waiter {
  resolve(): void;
  reject(err: MiniRTCError): void;
}

interface Sub {
  streamId: string;
  /** Ours, not the browser's: a re-subscription gets a new one, announced with remoteStream. */
  media: MediaStream;
  /** An applied offer carries the stream. */
  ready: boolean;
  waiters: Waiter[];
  /** Why the SDK subscribed again, until the stream is back. */
  resubscribeReason: string;
}

// Subscriptions over WebRTC: the downlink peer connection, one MediaStream per
// remote stream, local mute, and subscribing again when the downlink is lost.
export class RemoteMedia {
  readonly subs = new Map<string, Sub>();
  private localMuted = new Map<string, boolean>();
  private downlink: Downlink | null = null;
  private retries: number[] = [];

  constructor(private ctx: ClientContext) {}

  async subscribe(streamIds: string | string[]): Promise<SubscribeResult> {
    const ids = requireStreamIds(streamIds);
    this.ctx.requireJoined('subscribe');
    // The server is the judge of which streams are live (its 3005) and of
    // whether it takes WebRTC (3013): the local view may lag behind it.
    const webrtc = this.ctx.supportsWebRTC();
    const added = ids.filter((id) => !this.subs.has(id));
    for (const id of added) this.subs.set(id, newSub(id));
    const mine = added.map((id) => this.subs.get(id));
    let data: SubscribeData;
    try {
      data = await this.ctx.request<SubscribeData>('subscribe', { streams: ids, transport: 'webrtc' });
    } catch (err) {
      added.forEach((id, i) => {
        if (this.subs.get(id) === mine[i]) this.drop(id, err as MiniRTCError);
      });
      throw err;
    }
    if (!webrtc) {
      // A server from before WebRTC ignores the transport and answers play
      // URLs: undo the subscription, as nothing will come to this page.
      for (const id of ids) this.drop(id, fail(ErrorCode.NOT_SUPPORTED, 'no WebRTC'));
      this.ctx.request('unsubscribe', { streams: ids }).catch(() => {});
      throw fail(ErrorCode.NOT_SUPPORTED, 'subscribe: the server does not take WebRTC (its join answer has no webrtc)');
    }
    await Promise.all(ids.map((id) => this.whenReady(id)));
    const streams: Record<string, MediaStream> = {};
    for (const id of ids) streams[id] = this.subs.get(id)!.media;
    return { subscriptions: data.subscriptions.slice(), streams };
  }

  async unsubscribe(streamIds: string | string[]): Promise<{ subscriptions: string[] }> {
    const ids = requireStreamIds(streamIds);
    this.ctx.requireJoined('unsubscribe');
    for (const id of ids) this.drop(id, fail(ErrorCode.UNKNOWN_STREAM, 'unsubscribed from ' + id));
    const data = await this.ctx.request<SubscribeData>('unsubscribe', { streams: ids });
    return { subscriptions: data.subscriptions.slice() };
  }

  /** Silences (or not) a remote stream on this page only; remembered across re-subscriptions. */
  muteRemoteStream(streamId: string, muted: boolean): void {
    requireStreamIds(streamId);
    this.localMuted.set(streamId, muted);
    const sub = this.subs.get(streamId);
    if (sub) for (const t of sub.media.getAudioTracks()) t.enabled = !muted;
  }

  isRemoteStreamMuted(streamId: string): boolean {
    return this.localMuted.get(streamId) === true;
  }

  mediaStream(streamId: string): MediaStream | null {
    const sub = this.subs.get(streamId);
    return sub && sub.ready ? sub.media : null;
  }

  /** Remote track id → stream id, to match the downlink's stats to streams. */
  trackMap(): Map<string, string> {
    const out = new Map<string, string>();
    for (const sub of this.subs.values()) for (const t of sub.media.getTracks()) out.set(t.id, sub.streamId);
    return out;
  }

  downlinkPc(): RTCPeerConnection | null {
    return this.downlink ? this.downlink.pc : null;
  }

  onOffer(ev: WebRTCOfferEvent): void {
    if (!this.downlink) {
      this.downlink = new Downlink(this.ctx, this.ctx.requireWebRTC('subscribe'), this.ctx.options.iceGatheringTimeout, {
        onTrack: (id, track) => this.onTrack(id, track),
        onApplied: (streams) => this.onApplied(streams),
        onError: (err) => this.ctx.emit('error', err),
      });
    }
    this.downlink.offer(ev);
  }

  /** The server closed the downlink (ICE failed, ...): subscribe again to what we still want. */
  onClosed(reason: string): void {
    this.closeDownlink();
    const why = 'downlink closed: ' + (reason || 'unknown');
    if (!allowRetry(this.retries, Date.now())) {
      const err = fail(ErrorCode.TOO_MANY_REQUESTS, 'the downlink failed 5 times within a minute; not subscribing again (last: ' + why + ')');
      for (const id of Array.from(this.subs.keys())) this.drop(id, err);
      this.ctx.emit('error', err);
      return;
    }
    this.resubscribeAll(why);
  }

  /** After joining again, or the downlink closing: the server has no downlink for us now. */
  resubscribeAll(reason: string): void {
    this.closeDownlink();
    const wanted: string[] = [];
    for (const id of Array.from(this.subs.keys())) {
      if (!this.ctx.state.streams.has(id)) {
        this.drop(id, fail(ErrorCode.UNKNOWN_STREAM, id + ' is not live any more'));
        continue;
      }
      const sub = this.subs.get(id)!;
      // A fresh MediaStream: the old tracks ended with the old connection.
      sub.media = new MediaStream();
      sub.ready = false;
      sub.resubscribeReason = reason;
      wanted.push(id);
    }
    if (!wanted.length) return;
    this.ctx.request('subscribe', { streams: wanted, transport: 'webrtc' }).catch((err: MiniRTCError) => {
      for (const id of wanted) this.drop(id, err);
      this.ctx.emit('error', err);
    });
  }

  /** The stream ended (unpublished, its owner left): the server dropped the subscription. */
  onStreamGone(streamId: string): void {
    this.drop(streamId, fail(ErrorCode.UNKNOWN_STREAM, streamId + ' was unpublished'));
    this.localMuted.delete(streamId);
  }

  /** The app server took the subscribe grant away: the server ended every subscription. */
  onSubscribeRevoked(): void {
    const why = new MiniRTCError(2006, 'permission denied: the app server took the subscribe grant away');
    for (const id of Array.from(this.subs.keys())) this.drop(id, why);
  }

  clear(): void {
    this.closeDownlink();
    for (const id of Array.from(this.subs.keys())) this.drop(id, fail(ErrorCode.SESSION_ENDED, 'the session ended'));
    this.localMuted.clear();
    this.retries = [];
  }

  private closeDownlink(): void {
    this.downlink?.close();
    this.downlink = null;
  }

  private onTrack(streamId: string, track: MediaStreamTrack): void {
    const sub = this.subs.get(streamId);
    if (!sub) return; // unsubscribed meanwhile; the next offer drops it
    for (const old of sub.media.getTracks()) if (old.kind === track.kind && old !== track) sub.media.removeTrack(old);
    if (!sub.media.getTracks().includes(track)) sub.media.addTrack(track);
    if (track.kind === 'audio' && this.localMuted.get(streamId)) track.enabled = false;
    this.ctx.emit('track', { streamId, track, stream: sub.media });
  }

  private onApplied(streams: string[]): void {
    for (const sub of this.subs.values()) {
      if (sub.ready || !streams.includes(sub.streamId)) continue;
      sub.ready = true;
      const waiters = sub.waiters;
      sub.waiters = [];
      for (const w of waiters) w.resolve();
      this.ctx.emit('remoteStream', { streamId: sub.streamId, stream: sub.media });
      if (sub.resubscribeReason) {
        this.ctx.emit('streamResubscribed', { streamId: sub.streamId, reason: sub.resubscribeReason });
        sub.resubscribeReason = '';
      }
    }
  }

  private whenReady(id: string): Promise<void> {
    const sub = this.subs.get(id);
    if (!sub) return Promise.reject(fail(ErrorCode.UNKNOWN_STREAM, id + ' is not subscribed any more'));
    if (sub.ready) return Promise.resolve();
    const timeout = this.ctx.options.subscribeTimeout;
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        sub.waiters = sub.waiters.filter((x) => x !== w);
        reject(fail(ErrorCode.TIMEOUT, 'the server sent no offer carrying ' + id + ' within ' + timeout + ' ms'));
      }, timeout);
      sub.waiters.push(w);
    });
  }

  private drop(id: string, why: MiniRTCError): void {
    const sub = this.subs.get(id);
    if (!sub) return;
    this.subs.delete(id);
    for (const w of sub.waiters) w.reject(why);
    sub.waiters = [];
  }
}

function newSub(streamId: string): Sub {
  return { streamId, media: new MediaStream(), ready: false, waiters: [], resubscribeReason: '' };
}

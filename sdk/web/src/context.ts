import type { WireICEServer } from './protocol';
import type { RoomState } from './room-state';
import type { ClientEvents } from './types';

export interface ResolvedOptions {
  url: string;
  requestTimeout: number;
  connectTimeout: number;
  reconnectTimeout: number;
  iceGatheringTimeout: number;
  subscribeTimeout: number;
  statsInterval: number;
  reportStats: boolean;
}

/** What the media parts need of the client; RTCClient hands them this. */
export interface ClientContext {
  readonly options: ResolvedOptions;
  readonly state: RoomState;
  request<T = Record<string, unknown>>(op: string, data?: unknown): Promise<T>;
  emit<K extends keyof ClientEvents>(name: K, arg: ClientEvents[K]): void;
  /** Throws NOT_JOINED. */
  requireJoined(op: string): void;
  /** The ICE servers of the join; throws NOT_SUPPORTED if the server or the browser has no WebRTC. */
  requireWebRTC(op: string): WireICEServer[];
  /** The browser has RTCPeerConnection and the server's join answer had `webrtc`. */
  supportsWebRTC(): boolean;
  isJoined(): boolean;
  isConnected(): boolean;
}

/** Automatic re-publish/re-subscribe: at most this many per stream per minute. */
export const MAX_RETRIES_PER_MINUTE = 5;

/** Drops timestamps older than a minute; true while another retry is allowed. */
export function allowRetry(times: number[], now: number): boolean {
  while (times.length && now - times[0]! >= 60000) times.shift();
  if (times.length >= MAX_RETRIES_PER_MINUTE) return false;
  times.push(now);
  return true;
}

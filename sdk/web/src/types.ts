import type { MiniRTCError } from './errors';
import type { MediaType } from './protocol';

export type { MediaType };

export interface ClientOptions {
  /** The server's signalling URL: wss://host/ws (ws:// for local tests). */
  url: string;
  /** ms per request (default 10000). */
  requestTimeout?: number;
  /** ms to open a WebSocket (default 10000). */
  connectTimeout?: number;
  /** ms of failed reconnecting after which the session is given up (default 120000). */
  reconnectTimeout?: number;
  /** ms a peer connection waits for its ICE candidates before sending its SDP; later ones are trickled (default 1000). */
  iceGatheringTimeout?: number;
  /** ms subscribe() waits for the server's offer to bring the streams (default 10000). */
  subscribeTimeout?: number;
  /** ms between `stats` events and reports to the server; 0 turns both off (default 5000). */
  statsInterval?: number;
  /** Send each `stats` sample to the server as a `report` (default true). */
  reportStats?: boolean;
}

export interface User {
  userId: string;
  name: string;
  metadata: string;
  joinedAt: number;
  /** Only for yourself (getSelf(), the join result). */
  grants?: string[];
}

export interface RemoteUser extends User {
  streams: Stream[];
}

export interface Stream {
  id: string;
  userId: string;
  tag: string;
  mediaType: MediaType;
  audioMuted: boolean;
  videoDisabled: boolean;
  /** The app server keeps the audio muted (force_mute): its owner cannot unmute it. */
  audioLocked: boolean;
  /** The app server keeps the video off. */
  videoLocked: boolean;
  /** The video as it arrives at the server. */
  video?: { codec: string; width: number; height: number; fps?: number };
  /** The audio as it arrives at the server. */
  audio?: { codec: string; sampleRate: number; channels: number };
}

export interface Room {
  id: string;
  attributes: Record<string, string>;
  createdAt: number;
}

export interface JoinResult {
  room: Room;
  self: User;
  users: RemoteUser[];
  streams: Stream[];
}

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export type Source = 'camera' | 'screen' | MediaStream;

export interface PublishOptions {
  /** Names the stream among yours (default 'main'; use 'screen' for a screen share). */
  tag?: string;
  /** What to send. Default: what the source has ('audio_video' for the camera, 'video' for the screen). */
  mediaType?: MediaType;
  /** 'camera' (getUserMedia, the default), 'screen' (getDisplayMedia) or your own MediaStream. */
  source?: Source;
  /** getUserMedia/getDisplayMedia audio constraints. */
  audio?: MediaTrackConstraints | boolean;
  /** getUserMedia/getDisplayMedia video constraints (camera default: 640x480 at 15 fps ideal). */
  video?: MediaTrackConstraints | boolean;
  /** Upper bound of the video bitrate, bits per second. */
  maxVideoBitrate?: number;
}

export interface LocalStream {
  /** Stream id, `<userId>_<tag>`. */
  id: string;
  tag: string;
  mediaType: MediaType;
  source: 'camera' | 'screen' | 'custom';
  /** What is sent: show it as the local preview. */
  stream: MediaStream;
}

export interface SubscribeResult {
  subscriptions: string[];
  /** One MediaStream per requested stream id. */
  streams: Record<string, MediaStream>;
}

export interface MediaStats {
  /** bits per second since the previous sample (0 on the first). */
  bitrate: number;
  packets: number;
  packetsLost: number;
}

export interface VideoStats extends MediaStats {
  /** framesEncoded when sending, framesDecoded when receiving. */
  frames: number;
  framesPerSecond: number;
  width: number;
  height: number;
  codec: string;
}

export interface AudioStats extends MediaStats {
  /** 0..1, receiving only. */
  level: number;
  codec: string;
}

export interface StreamStats {
  streamId: string;
  direction: 'send' | 'recv';
  /** Your tag, when sending. */
  tag?: string;
  video?: VideoStats;
  audio?: AudioStats;
  /** Round-trip time to the server in ms, when known. */
  rttMs?: number;
}

export interface AttributesChange {
  set: Record<string, string>;
  deleted: string[];
  by: string;
  notify?: { name: string; content: string };
}

export interface Message {
  id: string;
  from: string;
  name: string;
  content: string;
  private: boolean;
  sentAt: number;
}

/** The app server muted or unmuted one of your streams; the SDK has complied already. */
export interface ForceMuteEvent {
  streamId: string;
  tag: string;
  /** Present when the app server changed the audio: true muted, false unmuted. */
  audioMuted?: boolean;
  /** Present when the app server changed the video: true disabled, false enabled. */
  videoDisabled?: boolean;
  /** Whether the app server keeps the audio / the video off now. */
  audioLocked: boolean;
  videoLocked: boolean;
}

export interface ClientEvents {
  userJoined: User;
  userLeft: { userId: string; reason: string };
  streamPublished: Stream;
  streamUnpublished: Stream;
  streamStateChanged: Stream;
  attributesChanged: AttributesChange;
  message: Message;
  kickedOff: { reason: string; by: string; banSeconds: number; message: string };
  roomClosed: { reason: string; by: string };
  connectionStateChanged: { state: ConnectionState; previous: ConnectionState; error?: MiniRTCError };
  /** A track of a remote stream arrived (before `remoteStream`). */
  track: { streamId: string; track: MediaStreamTrack; stream: MediaStream };
  /** A subscribed stream's MediaStream is ready: attach it to a <video>. A new one comes after a re-subscription. */
  remoteStream: { streamId: string; stream: MediaStream };
  /** One sample per statsInterval: getStats() of every stream. */
  stats: StreamStats[];
  /** The SDK published your stream again (its peer connection closed, the session was joined again). */
  streamRepublished: { id: string; tag: string; mediaType: MediaType; reason: string };
  /** The SDK subscribed again (the downlink closed, the session was joined again); a `remoteStream` follows. */
  streamResubscribed: { streamId: string; reason: string };
  /** A local capture ended by itself (the user pressed "Stop sharing"): the stream was unpublished. */
  localStreamEnded: { tag: string; id: string };
  /** The app server changed someone's name, metadata or grants (grants only when it is you). */
  participantUpdated: User;
  /** The app server muted or unmuted one of your streams (its track is disabled / enabled already). */
  forceMute: ForceMuteEvent;
  /** Something the SDK did on its own failed (re-publish, re-subscribe, answering an offer). */
  error: MiniRTCError;
}

// Type declarations for @minirtc/wechat. README.md documents the behaviour.

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';
export type MediaType = 'audio' | 'video' | 'audio_video';
export type PlayProtocol = 'rtmp' | 'flv';
export type AudioOutput = 'speaker' | 'ear';

/** SDK error codes (9xxx). Server result codes (1xxx–5xxx) arrive unchanged. */
export declare const ErrorCode: {
  readonly INVALID_ARGUMENT: 9001;
  readonly NOT_JOINED: 9002;
  readonly ALREADY_JOINED: 9003;
  readonly UNKNOWN_STREAM: 9004;
  readonly COMPONENT_MISSING: 9005;
  readonly CONNECTION_FAILED: 9006;
  readonly TIMEOUT: 9007;
  readonly SESSION_ENDED: 9008;
  readonly SESSION_RESET: 9009;
  readonly NOT_SUPPORTED: 9010;
  readonly TOO_MANY_REQUESTS: 9011;
};

export declare class MiniRTCError extends Error {
  readonly name: 'MiniRTCError';
  /** A server result code (docs/protocol.md §12) or an ErrorCode (9xxx). */
  readonly code: number;
  readonly cause?: unknown;
  /** True when the code came from the server. */
  readonly fromServer: boolean;
  constructor(code: number, message: string, cause?: unknown);
}

export interface VideoInfo {
  codec: 'h264' | 'h265' | string;
  width: number;
  height: number;
  fps?: number;
}

export interface AudioInfo {
  codec: 'aac' | string;
  sampleRate: number;
  channels: number;
}

export interface Stream {
  id: string;
  userId: string;
  tag: string;
  mediaType: MediaType;
  audioMuted: boolean;
  videoDisabled: boolean;
  /** The app server keeps the audio muted (force_mute); the owner cannot unmute it. */
  audioLocked: boolean;
  /** The app server keeps the video off. */
  videoLocked: boolean;
  /** What arrives at the server; absent while pending or without video. */
  video?: VideoInfo;
  audio?: AudioInfo;
}

export interface User {
  userId: string;
  name: string;
  metadata: string;
  joinedAt: number;
  /** Only for getSelf() and join()'s self. */
  grants?: string[];
}

export interface RemoteUser extends User {
  streams: Stream[];
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

export interface LocalStream {
  id: string;
  tag: string;
  mediaType: MediaType;
  pushUrl: string;
  /** unix ms: the push must start before this. */
  pushUrlExpiresAt: number;
}

export interface PlayUrls {
  rtmp: string;
  flv: string;
  /** unix ms: the play must start before this. */
  expiresAt: number;
}

export interface SubscribeResult {
  subscriptions: string[];
  urls: Record<string, PlayUrls>;
}

export interface Notify {
  name: string;
  content?: string;
}

export interface StreamStats {
  stream: string;
  video?: { codec: string; width: number; height: number; fps?: number };
  audio?: { codec: string; sample_rate: number; channels: number };
  bitrate_in: number;
  bitrate_out: number;
  fps: number;
  gop_frames: number;
  gop_ms: number;
  readers: Record<string, number>;
  dropped: number;
  pushing: boolean;
}

export interface ClientOptions {
  /** The server's signalling URL, e.g. wss://rtc.example.com/ws. */
  url: string;
  /** How long publish/subscribe wait for their component to attach (ms, default 3000). */
  componentTimeout?: number;
  /** Per request (ms, default 10000). */
  requestTimeout?: number;
  /** Opening a socket (ms, default 10000). */
  connectTimeout?: number;
  /** Give up reconnecting after this long (ms, default 120000). */
  reconnectTimeout?: number;
  /** At most one net status report per component per this (ms, default 5000). */
  reportInterval?: number;
}

export interface UserLeftEvent {
  userId: string;
  reason: 'left' | 'timeout' | 'kicked' | 'replaced' | string;
}

export interface AttributesChangedEvent {
  set: Record<string, string>;
  deleted: string[];
  by: string;
  notify?: { name: string; content: string };
}

export interface MessageEvent {
  id: string;
  from: string;
  name: string;
  content: string;
  private: boolean;
  sentAt: number;
}

export interface KickedOffEvent {
  reason: 'kicked' | 'replaced' | 'timeout' | string;
  by: string;
  banSeconds: number;
  message: string;
}

export interface RoomClosedEvent {
  reason: string;
  by: string;
}

export interface ConnectionStateEvent {
  state: ConnectionState;
  previous: ConnectionState;
  /** Why the session ended, when state is 'disconnected' for a reason other than leave(). */
  error?: MiniRTCError;
}

export interface StatsEvent {
  kind: 'pusher' | 'player';
  /** The pusher's tag. */
  tag?: string;
  /** The stream pushed or played ('' for a pusher that has not published). */
  streamId: string;
  type: 'state' | 'net' | 'error';
  /** live-pusher / live-player state code (type 'state'), or the error code (type 'error'). */
  code?: number;
  message?: string;
  /** bindnetstatus's detail.info (type 'net'). */
  info?: Record<string, number | string>;
}

export interface VolumeEvent {
  kind: 'pusher' | 'player';
  tag?: string;
  streamId: string;
  volume: number;
}

export interface RepublishedEvent extends LocalStream {
  reason: string;
}

export interface ResubscribedEvent {
  streamId: string;
  src: string;
  reason: string;
}

/** The app server muted or unmuted one of your streams; the SDK complied already. */
export interface ForceMuteEvent {
  streamId: string;
  tag: string;
  /** Present when the app server changed the audio: true muted, false unmuted. */
  audioMuted?: boolean;
  /** Present when the app server changed the video: true disabled, false enabled. */
  videoDisabled?: boolean;
  /** Whether the app server keeps the audio / video off now. */
  audioLocked: boolean;
  videoLocked: boolean;
}

export interface ClientEvents {
  userJoined: User;
  userLeft: UserLeftEvent;
  streamPublished: Stream;
  streamUnpublished: Stream;
  streamStateChanged: Stream;
  attributesChanged: AttributesChangedEvent;
  message: MessageEvent;
  kickedOff: KickedOffEvent;
  roomClosed: RoomClosedEvent;
  connectionStateChanged: ConnectionStateEvent;
  stats: StatsEvent;
  volume: VolumeEvent;
  streamRepublished: RepublishedEvent;
  streamResubscribed: ResubscribedEvent;
  /** The app server changed someone's name, metadata or grants (grants only for you). */
  participantUpdated: User;
  forceMute: ForceMuteEvent;
  error: MiniRTCError;
}

export declare const Events: {
  readonly USER_JOINED: 'userJoined';
  readonly USER_LEFT: 'userLeft';
  readonly STREAM_PUBLISHED: 'streamPublished';
  readonly STREAM_UNPUBLISHED: 'streamUnpublished';
  readonly STREAM_STATE_CHANGED: 'streamStateChanged';
  readonly ATTRIBUTES_CHANGED: 'attributesChanged';
  readonly MESSAGE: 'message';
  readonly KICKED_OFF: 'kickedOff';
  readonly ROOM_CLOSED: 'roomClosed';
  readonly CONNECTION_STATE_CHANGED: 'connectionStateChanged';
  readonly STATS: 'stats';
  readonly VOLUME: 'volume';
  readonly STREAM_REPUBLISHED: 'streamRepublished';
  readonly STREAM_RESUBSCRIBED: 'streamResubscribed';
  readonly PARTICIPANT_UPDATED: 'participantUpdated';
  readonly FORCE_MUTE: 'forceMute';
  readonly ERROR: 'error';
};

export declare class RTCClient {
  constructor(options: ClientOptions);

  on<K extends keyof ClientEvents>(name: K, listener: (event: ClientEvents[K]) => void): this;
  once<K extends keyof ClientEvents>(name: K, listener: (event: ClientEvents[K]) => void): this;
  off<K extends keyof ClientEvents>(name: K, listener?: (event: ClientEvents[K]) => void): this;

  join(token: string, roomId: string): Promise<JoinResult>;
  leave(): Promise<void>;

  publish(options?: { tag?: string; mediaType?: MediaType }): Promise<LocalStream>;
  unpublish(tag?: string): Promise<void>;
  openCamera(): Promise<void>;
  closeCamera(): Promise<void>;
  openMic(): Promise<void>;
  closeMic(): Promise<void>;
  isCameraOpen(): boolean;
  isMicOpen(): boolean;
  /** True while the app server keeps your camera off (openCamera() fails with 2006). */
  isCameraLocked(): boolean;
  /** True while the app server keeps your microphone muted (openMic() fails with 2006). */
  isMicLocked(): boolean;
  switchCamera(): Promise<void>;
  startPreview(): Promise<void>;
  stopPreview(): Promise<void>;

  subscribe(streamIds: string | string[], options?: { protocol?: PlayProtocol }): Promise<SubscribeResult>;
  unsubscribe(streamIds: string | string[]): Promise<{ subscriptions: string[] }>;
  muteRemoteStream(streamId: string, muted?: boolean): Promise<void>;
  setAudioOutput(output: AudioOutput): Promise<void>;

  setAttributes(attributes: Record<string, string>, options?: { notify?: Notify }): Promise<Record<string, string>>;
  getAttributes(keys?: string[]): Promise<Record<string, string>>;
  deleteAttributes(keys: string[], options?: { notify?: Notify }): Promise<Record<string, string>>;
  /** Resolves with the message id. */
  sendMessage(name: string, content?: string, options?: { to?: string[] }): Promise<string>;

  /** Needs the admin grant. */
  kick(userId: string, options?: { banSeconds?: number; reason?: string }): Promise<void>;
  /** Needs the admin grant. */
  closeRoom(reason?: string): Promise<void>;
  getStreamStats(streamIds?: string | string[]): Promise<StreamStats[]>;

  isJoined(): boolean;
  getConnectionState(): ConnectionState;
  getRoom(): Room | null;
  getSelf(): User | null;
  getRemoteUsers(): RemoteUser[];
  getRemoteUser(userId: string): RemoteUser | null;
  getRemoteStreams(userId?: string): Stream[];
}

/**
 * Uses another host API object than the global wx / tt (for example uni-app's
 * `uni`, or a test stand-in). Pass null to go back to detection.
 */
export declare function setPlatform(api: object | null, name?: string): void;

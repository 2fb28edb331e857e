// The wire format of docs/protocol.md (snake_case), as far as the SDK reads
// it. Fields the SDK does not use are left out; unknown ones are ignored.

export type MediaType = 'audio' | 'video' | 'audio_video';

export interface WireStream {
  id: string;
  user_id: string;
  tag: string;
  media: MediaType;
  audio_muted?: boolean;
  video_disabled?: boolean;
  /** The app server keeps the audio muted (force_mute). */
  audio_locked?: boolean;
  /** The app server keeps the video off. */
  video_locked?: boolean;
  video?: { codec: string; width: number; height: number; fps?: number };
  audio?: { codec: string; sample_rate: number; channels: number };
}

export interface WireParticipant {
  user_id: string;
  name?: string;
  metadata?: string;
  grants?: string[];
  joined_at: number;
  streams?: WireStream[];
}

export interface WireICEServer {
  urls: string[];
  username?: string;
  credential?: string;
}

export interface JoinData {
  protocol: number;
  session_id: string;
  resume_token: string;
  room: { id: string; attributes?: Record<string, string>; created_at: number };
  self: WireParticipant;
  participants?: WireParticipant[];
  ping_interval_ms: number;
  session_timeout_ms: number;
  server_time: number;
  /** Present when the server takes WebRTC. */
  webrtc?: { ice_servers?: WireICEServer[] };
}

export interface ResumeData {
  session_id: string;
  replayed: number;
  ping_interval_ms: number;
  session_timeout_ms: number;
}

export interface PublishData {
  stream: WireStream;
  answer?: string;
}

export interface SubscribeData {
  subscriptions: string[];
}

export interface WebRTCOfferEvent {
  offer_id: number;
  sdp: string;
  streams?: string[];
}

/** force_mute: the app server muted or unmuted one of your streams. */
export interface ForceMuteData {
  stream: WireStream;
  /** Present when the audio changed. */
  audio_muted?: boolean;
  /** Present when the video changed. */
  video_disabled?: boolean;
}

/** participant_updated: someone's new name, metadata or grants (grants only in your own copy). */
export interface ParticipantUpdatedData {
  user: WireParticipant;
}

export interface WebRTCClosedEvent {
  target: string;
  reason?: string;
}

/** The downlink's name in webrtc_candidate and webrtc_closed. */
export const DOWNLINK = 'downlink';

export interface ResponseFrame {
  id: string;
  code: number;
  msg?: string;
  data?: unknown;
}

export interface EventFrame {
  seq: number;
  event: string;
  data?: unknown;
}

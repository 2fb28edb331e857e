// @minirtc/web: the browser SDK of minirtc. See README.md.
export { RTCClient } from './client';
export { ErrorCode, MiniRTCError } from './errors';
export type { ErrorCodeValue } from './errors';
export type * from './types';

declare const __MINIRTC_VERSION__: string;
/** The SDK's version (package.json). */
export const VERSION: string = typeof __MINIRTC_VERSION__ === 'string' ? __MINIRTC_VERSION__ : 'dev';

/** Event names of RTCClient, for code that prefers constants to strings. */
export const Events = {
  USER_JOINED: 'userJoined',
  USER_LEFT: 'userLeft',
  STREAM_PUBLISHED: 'streamPublished',
  STREAM_UNPUBLISHED: 'streamUnpublished',
  STREAM_STATE_CHANGED: 'streamStateChanged',
  ATTRIBUTES_CHANGED: 'attributesChanged',
  MESSAGE: 'message',
  KICKED_OFF: 'kickedOff',
  ROOM_CLOSED: 'roomClosed',
  CONNECTION_STATE_CHANGED: 'connectionStateChanged',
  TRACK: 'track',
  REMOTE_STREAM: 'remoteStream',
  STATS: 'stats',
  STREAM_REPUBLISHED: 'streamRepublished',
  STREAM_RESUBSCRIBED: 'streamResubscribed',
  LOCAL_STREAM_ENDED: 'localStreamEnded',
  PARTICIPANT_UPDATED: 'participantUpdated',
  FORCE_MUTE: 'forceMute',
  ERROR: 'error',
} as const;

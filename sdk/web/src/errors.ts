// Codes the SDK itself produces. Server result codes (1xxx, 2xxx, 3xxx, 5xxx,
// docs/protocol.md §12) are passed through unchanged, so the SDK's own codes
// live in a range the protocol does not use. 9001–9011 mean what they mean in
// the WeChat SDK (sdk/wechat); 9005 (a missing mini-program component) has no
// browser equivalent and is not used here.
export const ErrorCode = {
  /** An argument is missing or malformed. */
  INVALID_ARGUMENT: 9001,
  /** The operation needs a joined room. */
  NOT_JOINED: 9002,
  /** join() while joining or joined. */
  ALREADY_JOINED: 9003,
  /** The stream is not live in the room (as far as the SDK knows). */
  UNKNOWN_STREAM: 9004,
  /** The WebSocket could not be opened, or closed before an answer. */
  CONNECTION_FAILED: 9006,
  /** No answer in time; the server may still have executed the request. */
  TIMEOUT: 9007,
  /** Left, kicked, replaced, room closed, or gave up reconnecting. */
  SESSION_ENDED: 9008,
  /** The session was lost and joined again; the request's outcome is unknown. */
  SESSION_RESET: 9009,
  /** This browser, or this server, cannot do it (no WebRTC, no screen capture). */
  NOT_SUPPORTED: 9010,
  /** 64 requests wait for answers already; or automatic re-publish/re-subscribe gave up. */
  TOO_MANY_REQUESTS: 9011,
  /** Camera, microphone or screen could not be captured (denied, absent, cancelled). */
  DEVICE_ERROR: 9012,
  /** The browser's RTCPeerConnection refused an offer or answer. */
  WEBRTC_FAILED: 9013,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every failure of the SDK: a server result code or one of ErrorCode. */
export class MiniRTCError extends Error {
  readonly code: number;
  readonly cause?: unknown;

  constructor(code: number, message: string, cause?: unknown) {
    super(message);
    this.name = 'MiniRTCError';
    this.code = code;
    if (cause !== undefined) this.cause = cause;
  }

  /** True when the code came from the server (docs/protocol.md §12). */
  get fromServer(): boolean {
    return this.code < 9000;
  }
}

export function fail(code: number, message: string, cause?: unknown): MiniRTCError {
  return new MiniRTCError(code, message, cause);
}

export function isCode(err: unknown, code: number): boolean {
  return err instanceof MiniRTCError && err.code === code;
}

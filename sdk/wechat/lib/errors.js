'use strict';

// Codes the SDK itself produces. Server result codes (1xxx, 2xxx, 3xxx, 5xxx,
// docs/protocol.md §12) are passed through unchanged, so the SDK's own codes
// live in a range the protocol does not use.
const ErrorCode = {
  INVALID_ARGUMENT: 9001, // an argument is missing or malformed
  NOT_JOINED: 9002, // the operation needs a joined room
  ALREADY_JOINED: 9003, // join() while joining or joined
  UNKNOWN_STREAM: 9004, // the stream is not published in the room (as far as the SDK knows)
  COMPONENT_MISSING: 9005, // no <rtc-pusher>/<rtc-player> for the tag/stream on the page
  CONNECTION_FAILED: 9006, // the WebSocket could not be opened or closed before an answer
  TIMEOUT: 9007, // no answer in time; the server may still have executed it
  SESSION_ENDED: 9008, // left, kicked, replaced, room closed, or gave up reconnecting
  SESSION_RESET: 9009, // the session was lost and joined again; the outcome is unknown
  NOT_SUPPORTED: 9010, // the platform cannot do this (Douyin has no live-pusher)
  TOO_MANY_REQUESTS: 9011, // too many requests waiting for an answer
};

class MiniRTCError extends Error {
  constructor(code, message, cause) {
    super(message);
    this.name = 'MiniRTCError';
    this.code = code;
    if (cause !== undefined) this.cause = cause;
  }

  // True when the code came from the server (docs/protocol.md §12).
  get fromServer() {
    return this.code < 9000;
  }
}

function fail(code, message, cause) {
  return new MiniRTCError(code, message, cause);
}

module.exports = { ErrorCode, MiniRTCError, fail };

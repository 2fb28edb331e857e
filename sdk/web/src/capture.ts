import { ErrorCode, fail } from './errors';
import type { MediaType } from './protocol';
import type { PublishOptions } from './types';
import { bad } from './validate';

// A camera stream small enough for a mini-program to decode comfortably
// and for the server to relay to many.
const CAMERA_VIDEO: MediaTrackConstraints = {
  width: { ideal: 640 },
  height: { ideal: 480 },
  frameRate: { ideal: 15, max: 30 },
};

export interface Captured {
  stream: MediaStream;
  /** The SDK captured it, so the SDK stops its tracks when done. */
  owned: boolean;
  source: 'camera' | 'screen' | 'custom';
  mediaType: MediaType;
}

export function hasAudio(m: MediaType): boolean {
  return m !== 'video';
}

export function hasVideo(m: MediaType): boolean {
  return m !== 'audio';
}

function mediaTypeOf(stream: MediaStream): MediaType | null {
  const a = stream.getAudioTracks().length > 0;
  const v = stream.getVideoTracks().length > 0;
  return a && v ? 'audio_video' : a ? 'audio' : v ? 'video' : null;
}

/** Gets the MediaStream to publish: the camera, the screen, or the caller's own. */
export async function capture(o: PublishOptions, wanted: MediaType | undefined): Promise<Captured> {
  const source = o.source === undefined ? 'camera' : o.source;
  if (typeof MediaStream !== 'undefined' && source instanceof MediaStream) {
    const has = mediaTypeOf(source);
    if (!has) throw bad('the MediaStream to publish has no live track');
    const mediaType = wanted || has;
    if ((hasAudio(mediaType) && !hasAudio(has)) || (hasVideo(mediaType) && !hasVideo(has))) {
      throw bad('mediaType ' + mediaType + ' needs tracks the MediaStream does not have (' + has + ')');
    }
    return { stream: source, owned: false, source: 'custom', mediaType };
  }
  if (source !== 'camera' && source !== 'screen') throw bad("source must be 'camera', 'screen' or a MediaStream");
  const devices = typeof navigator !== 'undefined' ? navigator.mediaDevices : undefined;
  if (!devices) throw fail(ErrorCode.NOT_SUPPORTED, 'no navigator.mediaDevices: capturing needs a secure context (https:// or localhost)');
  let stream: MediaStream;
  try {
    if (source === 'screen') {
      if (typeof devices.getDisplayMedia !== 'function') throw fail(ErrorCode.NOT_SUPPORTED, 'this browser cannot capture the screen');
      const audio = wanted !== undefined && hasAudio(wanted) ? (o.audio ?? true) : false;
      stream = await devices.getDisplayMedia({ video: o.video ?? true, audio });
    } else {
      const mediaType = wanted || (o.audio === false ? 'video' : o.video === false ? 'audio' : 'audio_video');
      stream = await devices.getUserMedia({
        audio: hasAudio(mediaType) ? (o.audio ?? true) : false,
        video: hasVideo(mediaType) ? (o.video ?? CAMERA_VIDEO) : false,
      });
    }
  } catch (err) {
    if (err instanceof Error && err.name === 'MiniRTCError') throw err;
    const e = err as DOMException;
    throw fail(ErrorCode.DEVICE_ERROR, 'cannot capture the ' + source + ': ' + (e?.name || 'Error') + (e?.message ? ' (' + e.message + ')' : ''), err);
  }
  const has = mediaTypeOf(stream);
  if (!has) throw fail(ErrorCode.DEVICE_ERROR, 'the ' + source + ' capture has no track');
  // Screen audio is often not offered (it depends on the OS and on what the
  // user picks): send what came rather than a stream that waits for audio.
  let mediaType = wanted || has;
  if (source === 'screen' && mediaType === 'audio_video' && has === 'video') mediaType = 'video';
  return { stream, owned: true, source, mediaType };
}

export function stopTracks(stream: MediaStream): void {
  for (const t of stream.getTracks()) t.stop();
}

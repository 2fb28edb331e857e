// ffmpeg as the peer nobody here wrote: it pushes a test pattern over RTMP
// (as live-pusher or OBS would) and pulls play URLs and decodes them (as
// live-player would).
import { spawn, type ChildProcess } from 'node:child_process';
import { track } from './processes';

/** Pushes 640x360 H.264 baseline at 25 fps + AAC 48 kHz mono (a 1 kHz sine) in real time. */
export function push(url: string): ChildProcess & { stderrText: string } {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000',
    '-c:v', 'libx264', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-g', '25', '-tune', 'zerolatency', '-preset', 'ultrafast',
    '-c:a', 'aac', '-ac', '1',
    '-f', 'flv', url];
  const child = track(spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] })) as ChildProcess & { stderrText: string };
  child.stderrText = '';
  child.stderr!.on('data', (d) => {
    child.stderrText = (child.stderrText + d).slice(-4000);
  });
  return child;
}

export interface Decoded {
  videoFrames: number;
  audioFrames: number;
  /** pts_time of the first decoded video / audio frame, seconds. */
  firstVideoPts: number | null;
  firstAudioPts: number | null;
  /** The input's stream lines ("Stream #0:0: Video: h264 ..."). */
  streams: string[];
  exitCode: number | null;
  log: string;
}

const VIDEO = /\[Parsed_showinfo_\d+ @ [^\]]+\] n:\s*(\d+) pts:\s*-?\d+ pts_time:(-?[\d.]+)/;
const AUDIO = /\[Parsed_ashowinfo_\d+ @ [^\]]+\] n:\s*(\d+) pts:\s*-?\d+ pts_time:(-?[\d.]+)/;

/** Pulls url for `seconds` and decodes video and audio, counting frames. */
export function decode(url: string, seconds: number): Promise<Decoded> {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'info', '-rw_timeout', '10000000',
    '-i', url, '-t', String(seconds), '-vf', 'showinfo', '-af', 'ashowinfo', '-f', 'null', '-'];
  const child = track(spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  const out: Decoded = { videoFrames: 0, audioFrames: 0, firstVideoPts: null, firstAudioPts: null, streams: [], exitCode: null, log: '' };
  let rest = '';
  child.stderr!.on('data', (d) => {
    rest += d;
    const lines = rest.split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      const v = VIDEO.exec(line);
      const a = v ? null : AUDIO.exec(line);
      if (v) {
        out.videoFrames++;
        if (out.firstVideoPts === null) out.firstVideoPts = Number(v[2]);
      } else if (a) {
        out.audioFrames++;
        if (out.firstAudioPts === null) out.firstAudioPts = Number(a[2]);
      } else {
        if (/^\s*Stream #0:\d+.*: (Video|Audio):/.test(line)) out.streams.push(line.trim());
        if (out.log.length < 6000) out.log += line + '\n';
      }
    }
  });
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), (seconds + 20) * 1000);
    child.on('exit', (code) => {
      clearTimeout(kill);
      out.exitCode = code;
      resolve(out);
    });
  });
}

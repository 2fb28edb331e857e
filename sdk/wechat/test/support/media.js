'use strict';

// ffmpeg standing in for the camera + live-pusher (pushing a test pattern over
// RTMP) and for live-player (pulling a play URL and decoding it).

const { spawn } = require('node:child_process');
const { track } = require('./processes');

// Pushes H.264 baseline + AAC 48 kHz mono in real time, as live-pusher does.
// onProgress({frame, fps, bitrateKbps}) runs for every progress report, i.e.
// once the RTMP publish was accepted and frames are being sent.
function push(url, onProgress) {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-profile:v', 'baseline', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-ac', '1', '-ar', '48000', '-b:a', '64k',
    '-progress', 'pipe:1', '-stats_period', '0.5',
    '-f', 'flv', url];
  const child = track(spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let block = {};
  let rest = '';
  child.stdout.on('data', (d) => {
    rest += d;
    const lines = rest.split('\n');
    rest = lines.pop();
    for (const line of lines) {
      const i = line.indexOf('=');
      if (i < 0) continue;
      const key = line.slice(0, i).trim();
      block[key] = line.slice(i + 1).trim();
      if (key === 'progress') {
        const frame = Number(block.frame) || 0;
        if (frame > 0) onProgress({ frame, fps: Number(block.fps) || 0, bitrateKbps: parseFloat(block.bitrate) || 0 });
        block = {};
      }
    }
  });
  child.stderrText = '';
  child.stderr.on('data', (d) => { child.stderrText += d; });
  return child;
}

const VIDEO_FRAME = /\[Parsed_showinfo_\d+ @ [^\]]+\] n:\s*\d+/;
const AUDIO_FRAME = /\[Parsed_ashowinfo_\d+ @ [^\]]+\] n:\s*\d+/;

// Pulls url and decodes both kinds; onFrame('video' | 'audio') runs for every
// decoded frame (showinfo/ashowinfo print one line per decoded frame).
function pull(url, onFrame) {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'info', '-analyzeduration', '500000',
    '-i', url, '-vf', 'showinfo', '-af', 'ashowinfo', '-f', 'null', '-'];
  const child = track(spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  let rest = '';
  child.stderrText = '';
  child.stderr.on('data', (d) => {
    rest += d;
    const lines = rest.split('\n');
    rest = lines.pop();
    for (const line of lines) {
      if (VIDEO_FRAME.test(line)) onFrame('video');
      else if (AUDIO_FRAME.test(line)) onFrame('audio');
      else if (child.stderrText.length < 4000) child.stderrText += line + '\n';
    }
  });
  return child;
}

module.exports = { push, pull };

'use strict';

// ffmpeg standing in for the camera + live-pusher (pushing a test pattern over
// RTMP) and for live-player (pulling a play URL and decoding it).

const { spawn } = require('node:child_process');
const { track } = require('./processes');

// What live-pusher sends with its microphone off (enable-mic=false) or its
// camera off (enable-camera=false): silence, and a black picture. The stand-in
// gets there with filters it can change while pushing.
const MIC = { true: 'volume=1', false: 'volume=0' };
const CAMERA = { true: 'eq=contrast=1:brightness=0', false: 'eq=contrast=0:brightness=-1' };

// Pushes H.264 baseline + AAC 48 kHz mono in real time, as live-pusher does.
// onProgress({frame, fps, bitrateKbps}) runs for every progress report, i.e.
// once the RTMP publish was accepted and frames are being sent.
// devices = {micOn, cameraOn} (both on by default); child.setDevices(devices)
// changes them while pushing, through ffmpeg's interactive filter commands on
// its stdin ('c' + "<filter> -1 <option> <value>"), without reconnecting, as
// live-pusher does when its enable-mic/enable-camera change.
function push(url, onProgress, devices) {
  const d = Object.assign({ micOn: true, cameraOn: true }, devices);
  const args = ['-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-af', MIC[!!d.micOn], '-vf', CAMERA[!!d.cameraOn],
    '-c:v', 'libx264', '-profile:v', 'baseline', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-ac', '1', '-ar', '48000', '-b:a', '64k',
    '-progress', 'pipe:1', '-stats_period', '0.5',
    '-f', 'flv', url];
  const child = track(spawn('ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  child.stdin.on('error', () => {}); // ffmpeg exited: nothing to tell it any more
  child.devices = { micOn: !!d.micOn, cameraOn: !!d.cameraOn };
  child.setDevices = (next) => {
    const cmds = [];
    if (next.micOn !== undefined && !!next.micOn !== child.devices.micOn) {
      child.devices.micOn = !!next.micOn;
      cmds.push('volume -1 volume ' + (next.micOn ? '1' : '0'));
    }
    if (next.cameraOn !== undefined && !!next.cameraOn !== child.devices.cameraOn) {
      child.devices.cameraOn = !!next.cameraOn;
      cmds.push('eq -1 contrast ' + (next.cameraOn ? '1' : '0'), 'eq -1 brightness ' + (next.cameraOn ? '0' : '-1'));
    }
    if (cmds.length && child.exitCode === null) child.stdin.write(cmds.map((c) => 'c' + c + '\n').join(''));
  };
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
const AUDIO_LEVEL = /lavfi\.astats\.Overall\.RMS_level=(-inf|-?[\d.]+)/;
const VIDEO_LUMA = /lavfi\.signalstats\.YAVG=([\d.]+)/;

// Pulls url and decodes both kinds; onFrame('video' | 'audio') runs for every
// decoded frame (showinfo/ashowinfo print one line per decoded frame), and
// onLevel('audio', RMS dBFS) / onLevel('luma', mean Y 0-255) for every
// decoded frame too: what a viewer hears and sees.
function pull(url, onFrame, onLevel) {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'info', '-analyzeduration', '500000',
    '-i', url, '-vf', 'showinfo,signalstats,metadata=print:key=lavfi.signalstats.YAVG',
    '-af', 'ashowinfo,astats=metadata=1:reset=1,ametadata=print:key=lavfi.astats.Overall.RMS_level',
    '-f', 'null', '-'];
  const child = track(spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  let rest = '';
  child.stderrText = '';
  child.stderr.on('data', (d) => {
    rest += d;
    const lines = rest.split('\n');
    rest = lines.pop();
    for (const line of lines) {
      let m;
      if (VIDEO_FRAME.test(line)) onFrame('video');
      else if (AUDIO_FRAME.test(line)) onFrame('audio');
      else if ((m = AUDIO_LEVEL.exec(line))) {
        if (onLevel) onLevel('audio', m[1] === '-inf' ? -Infinity : Number(m[1]));
      } else if ((m = VIDEO_LUMA.exec(line))) {
        if (onLevel) onLevel('luma', Number(m[1]));
      }
      else if (child.stderrText.length < 4000) child.stderrText += line + '\n';
    }
  });
  return child;
}

module.exports = { push, pull };

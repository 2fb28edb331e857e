// Compiled (not run) by `npm run typecheck`: every public call, typed as a
// page would write it, so that lib/index.d.ts stays complete and consistent.
import { RTCClient, MiniRTCError, ErrorCode, Events, setPlatform, Stream, JoinResult, StatsEvent } from '../../lib';

async function call(token: string): Promise<void> {
  const client = new RTCClient({ url: 'wss://rtc.example.com/ws', componentTimeout: 2000, reconnectTimeout: 60000 });
  client.on('streamPublished', (s: Stream) => void client.subscribe(s.id, { protocol: 'rtmp' }));
  client.on(Events.USER_LEFT, (e) => e.userId.toUpperCase());
  client.on('connectionStateChanged', (e) => (e.state === 'disconnected' && e.error ? e.error.code : 0));
  client.on('stats', (e: StatsEvent) => (e.type === 'net' ? e.info : e.code));
  client.on('volume', (e) => e.volume + 1);
  client.once('kickedOff', (e) => e.banSeconds);
  client.on('message', (m) => m.content.length);
  client.on('attributesChanged', (a) => a.deleted.concat(Object.keys(a.set)));
  client.on('error', (err) => err.fromServer);
  client.on(Events.FORCE_MUTE, (e) => (e.audioMuted === true && e.audioLocked ? e.streamId : e.tag));
  client.on('participantUpdated', (u) => (u.grants ? u.grants.indexOf('publish') : u.name.length));

  const joined: JoinResult = await client.join(token, 'demo');
  joined.users.forEach((u) => u.streams.map((s) => s.video && s.video.width));
  const local = await client.publish({ tag: 'main', mediaType: 'audio_video' });
  const expires: number = local.pushUrlExpiresAt;
  await client.closeCamera();
  await client.openCamera();
  await client.closeMic();
  await client.openMic();
  const open: boolean = client.isCameraOpen() && client.isMicOpen();
  const locked: boolean = client.isCameraLocked() || client.isMicLocked();
  await client.switchCamera();
  await client.startPreview();
  await client.stopPreview();
  const sub = await client.subscribe(['bob_main'], { protocol: 'flv' });
  const url: string = sub.urls.bob_main.flv;
  await client.muteRemoteStream('bob_main', true);
  await client.setAudioOutput('ear');
  await client.unsubscribe('bob_main');
  await client.setAttributes({ topic: 'maths' }, { notify: { name: 'topic', content: 'maths' } });
  const attrs: Record<string, string> = await client.getAttributes(['topic']);
  await client.deleteAttributes(['topic']);
  const id: string = await client.sendMessage('chat', 'hi', { to: ['bob'] });
  await client.kick('bob', { banSeconds: 60, reason: 'spam' });
  const stats = await client.getStreamStats();
  stats.forEach((s) => s.bitrate_in);
  await client.unpublish('main');
  await client.closeRoom('over');
  const users = client.getRemoteUsers();
  const bob = client.getRemoteUser('bob');
  const streams: Stream[] = client.getRemoteStreams('bob');
  const state: string = client.getConnectionState();
  const room = client.getRoom();
  const self = client.getSelf();
  await client.leave();
  void [expires, open, url, attrs, id, users, bob, streams, state, room, self, client.isJoined()];
}

function handle(err: unknown): number {
  if (err instanceof MiniRTCError && err.code === ErrorCode.COMPONENT_MISSING) return err.code;
  return 0;
}

setPlatform(null);
void [call, handle];

// Compiled by `npm run typecheck` only (not run): the public types as an app
// would use them. A type error here is a broken API.
import { ErrorCode, Events, MiniRTCError, RTCClient, type LocalStream, type Stream, type StreamStats } from '../src/index';

export async function usage(token: string): Promise<void> {
  const client = new RTCClient({ url: 'wss://rtc.example.com/ws', statsInterval: 0 });
  client.on('remoteStream', ({ streamId, stream }) => {
    const video: HTMLVideoElement = document.createElement('video');
    video.srcObject = stream;
    video.dataset.stream = streamId;
  });
  client.on(Events.STREAM_PUBLISHED, (s: Stream) => void client.subscribe(s.id));
  client.on('connectionStateChanged', ({ state, error }) => {
    if (state === 'disconnected' && error) console.log(error.code, error.fromServer);
  });
  client.once('error', (err: MiniRTCError) => console.log(err.code === ErrorCode.TOO_MANY_REQUESTS));
  const { room, self, users, streams } = await client.join(token, 'demo');
  console.log(room.attributes, self.grants, users[0]?.streams, streams.map((s) => s.video?.width));
  const local: LocalStream = await client.publish({ tag: 'screen', source: 'screen', mediaType: 'video', maxVideoBitrate: 1_500_000 });
  console.log(local.stream.getVideoTracks(), local.source);
  const sub = await client.subscribe(['alice_main', 'bob_main']);
  const ms: MediaStream | undefined = sub.streams.alice_main;
  console.log(ms, sub.subscriptions);
  client.muteRemoteStream('alice_main');
  const stats: StreamStats[] = await client.getStats();
  console.log(stats[0]?.video?.framesPerSecond, stats[0]?.audio?.level);
  await client.setAttributes({ topic: 'maths' }, { notify: { name: 'topic' } });
  const id: string = await client.sendMessage('chat', 'hi', { to: ['bob'] });
  console.log(id);
  try {
    await client.unpublish('screen');
  } catch (err) {
    if (err instanceof MiniRTCError && err.code === 3005) console.log('not published');
  }
  await client.leave();
}

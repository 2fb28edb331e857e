// Room page: joins, publishes the camera and microphone, and shows one player
// per stream of the others. Everything the call needs is in this file.
const { RTCClient } = require('@minirtc/wechat');

function nameOf(client, userId) {
  const user = client.getRemoteUser(userId);
  return (user && user.name) || userId;
}

Component({
  data: {
    room: '',
    connection: 'connecting',
    error: '',
    showPusher: false,
    streams: [], // {id, name, audioMuted, videoDisabled}
    cameraOn: true,
    micOn: true,
    speaker: true,
  },

  methods: {
    onLoad(query) {
      const url = decodeURIComponent(query.url || '');
      const room = decodeURIComponent(query.room || '');
      const token = decodeURIComponent(query.token || '');
      this.setData({ room });
      try {
        this.client = new RTCClient({ url });
      } catch (err) {
        this.fail(err);
        return;
      }
      this.listen();
      this.start(token, room);
    },

    onUnload() {
      if (this.client) this.client.leave();
    },

    listen() {
      const c = this.client;
      c.on('streamPublished', (s) => this.addStream(s));
      c.on('streamUnpublished', (s) => this.removeStream(s.id));
      c.on('streamStateChanged', (s) => this.updateStream(s));
      c.on('connectionStateChanged', (e) => {
        this.setData({ connection: e.state });
        if (e.error) this.fail(e.error);
      });
      c.on('kickedOff', (e) => this.fail({ code: 'kicked', message: e.message || e.reason }));
      c.on('roomClosed', () => this.fail({ code: 'closed', message: 'the room was closed' }));
      c.on('error', (err) => this.fail(err));
    },

    async start(token, room) {
      try {
        const joined = await this.client.join(token, room);
        joined.streams.forEach((s) => this.addStream(s));
        // Render the pusher, then publish: publish() fills its URL.
        this.setData({ showPusher: true });
        await this.client.publish({ tag: 'main', mediaType: 'audio_video' });
      } catch (err) {
        this.fail(err);
      }
    },

    // Render a player for the stream, then subscribe: subscribe() waits for
    // the player to attach and fills its src.
    addStream(stream) {
      if (this.data.streams.some((s) => s.id === stream.id)) return;
      const item = { id: stream.id, name: nameOf(this.client, stream.userId), audioMuted: stream.audioMuted, videoDisabled: stream.videoDisabled };
      this.setData({ streams: this.data.streams.concat([item]) });
      this.client.subscribe(stream.id).catch((err) => this.fail(err));
    },

    removeStream(id) {
      this.setData({ streams: this.data.streams.filter((s) => s.id !== id) });
    },

    updateStream(stream) {
      this.setData({
        streams: this.data.streams.map((s) => (s.id === stream.id ? Object.assign({}, s, { audioMuted: stream.audioMuted, videoDisabled: stream.videoDisabled }) : s)),
      });
    },

    async toggleCamera() {
      await (this.data.cameraOn ? this.client.closeCamera() : this.client.openCamera()).catch((err) => this.fail(err));
      this.setData({ cameraOn: this.client.isCameraOpen() });
    },

    async toggleMic() {
      await (this.data.micOn ? this.client.closeMic() : this.client.openMic()).catch((err) => this.fail(err));
      this.setData({ micOn: this.client.isMicOpen() });
    },

    async toggleSpeaker() {
      const speaker = !this.data.speaker;
      await this.client.setAudioOutput(speaker ? 'speaker' : 'ear').catch((err) => this.fail(err));
      this.setData({ speaker });
    },

    switchCamera() {
      this.client.switchCamera().catch((err) => this.fail(err));
    },

    async hangUp() {
      await this.client.leave();
      wx.navigateBack({ fail() {} });
    },

    onPusherState(e) {
      if (e.detail.code === -1307) this.setData({ error: 'push failed, retrying with a fresh URL' });
    },

    fail(err) {
      this.setData({ error: (err.code ? err.code + ': ' : '') + err.message });
    },
  },
});

// Join page: where to connect, which room, and the token. Built with
// Component(), which WeChat accepts for pages (and which the SDK's tests load).
const STORAGE_KEY = 'minirtc-demo-join';

Component({
  data: { url: '', room: 'demo', token: '', error: '' },
  methods: {
    onLoad() {
      const saved = wx.getStorageSync(STORAGE_KEY);
      if (saved) this.setData(saved);
    },
    onInput(e) {
      this.setData({ [e.currentTarget.dataset.field]: e.detail.value.trim() });
    },
    join() {
      const { url, room, token } = this.data;
      if (!/^wss?:\/\//.test(url) || !room || !token) {
        this.setData({ error: 'Fill in the server URL (wss://...), the room and the token.' });
        return;
      }
      this.setData({ error: '' });
      wx.setStorageSync(STORAGE_KEY, { url, room, token });
      const q = (v) => encodeURIComponent(v);
      wx.navigateTo({ url: '/pages/room/index?url=' + q(url) + '&room=' + q(room) + '&token=' + q(token) });
    },
  },
});

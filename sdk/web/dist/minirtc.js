"use strict";
var MiniRTC = (() => {
  var __defProp = Object.defineProperty;
  var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
  var __getOwnPropNames = Object.getOwnPropertyNames;
  var __hasOwnProp = Object.prototype.hasOwnProperty;
  var __export = (target, all) => {
    for (var name in all)
      __defProp(target, name, { get: all[name], enumerable: true });
  };
  var __copyProps = (to, from, except, desc) => {
    if (from && typeof from === "object" || typeof from === "function") {
      for (let key of __getOwnPropNames(from))
        if (!__hasOwnProp.call(to, key) && key !== except)
          __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
    }
    return to;
  };
  var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);

  // src/index.ts
  var index_exports = {};
  __export(index_exports, {
    ErrorCode: () => ErrorCode,
    Events: () => Events,
    MiniRTCError: () => MiniRTCError,
    RTCClient: () => RTCClient,
    VERSION: () => VERSION
  });

  // src/emitter.ts
  var Emitter = class {
    constructor() {
      this.listeners = /* @__PURE__ */ new Map();
      this.onceWrappers = /* @__PURE__ */ new WeakMap();
    }
    on(name, fn) {
      if (typeof fn !== "function") throw new TypeError("listener must be a function");
      const list = this.listeners.get(name) || [];
      list.push(fn);
      this.listeners.set(name, list);
      return this;
    }
    /** Removes fn (also when registered with once), or every listener of name. */
    off(name, fn) {
      const list = this.listeners.get(name);
      if (!list) return this;
      if (!fn) {
        this.listeners.delete(name);
        return this;
      }
      const wrapper = this.onceWrappers.get(fn);
      this.listeners.set(name, list.filter((l) => l !== fn && l !== wrapper));
      return this;
    }
    once(name, fn) {
      const wrapper = (arg) => {
        this.off(name, wrapper);
        fn(arg);
      };
      this.onceWrappers.set(fn, wrapper);
      return this.on(name, wrapper);
    }
    emit(name, arg) {
      const list = this.listeners.get(name);
      if (!list) return;
      for (const fn of list.slice()) {
        try {
          fn(arg);
        } catch (err) {
          console.error('[minirtc] listener for "' + String(name) + '" threw', err);
        }
      }
    }
  };

  // src/errors.ts
  var ErrorCode = {
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
    WEBRTC_FAILED: 9013
  };
  var MiniRTCError = class extends Error {
    constructor(code, message, cause) {
      super(message);
      this.name = "MiniRTCError";
      this.code = code;
      if (cause !== void 0) this.cause = cause;
    }
    /** True when the code came from the server (docs/protocol.md §12). */
    get fromServer() {
      return this.code < 9e3;
    }
  };
  function fail(code, message, cause) {
    return new MiniRTCError(code, message, cause);
  }
  function isCode(err, code) {
    return err instanceof MiniRTCError && err.code === code;
  }

  // src/validate.ts
  var ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
  var STREAM_ID_RE = /^[A-Za-z0-9_-]{3,257}$/;
  function bad(message) {
    return fail(ErrorCode.INVALID_ARGUMENT, message);
  }
  function requireId(value, what) {
    if (typeof value !== "string" || !ID_RE.test(value)) {
      throw bad(what + ' must be 1 to 128 letters, digits, "_" or "-", got ' + JSON.stringify(value));
    }
    return value;
  }
  function requireStreamIds(value) {
    const list = typeof value === "string" ? [value] : value;
    if (!Array.isArray(list) || list.length === 0) throw bad("stream ids: give a stream id or a non-empty array of them");
    for (const id of list) {
      if (typeof id !== "string" || !STREAM_ID_RE.test(id)) throw bad("invalid stream id " + JSON.stringify(id));
    }
    const ids2 = list;
    return ids2.filter((id, i) => ids2.indexOf(id) === i);
  }
  function requireOneOf(value, allowed, what) {
    if (typeof value !== "string" || !allowed.includes(value)) {
      throw bad(what + " must be one of " + allowed.join(", ") + ", got " + JSON.stringify(value));
    }
    return value;
  }
  function requireString(value, what, allowEmpty = false) {
    if (typeof value !== "string" || !allowEmpty && value === "") {
      throw bad(what + " must be a " + (allowEmpty ? "" : "non-empty ") + "string");
    }
    return value;
  }
  function requireStringMap(value, what) {
    if (!value || typeof value !== "object" || Array.isArray(value) || Object.keys(value).length === 0) {
      throw bad(what + " must be a non-empty object of strings");
    }
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== "string") throw bad(what + "." + k + " must be a string");
    }
    return value;
  }
  function requireStringList(value, what) {
    if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== "string" || v === "")) {
      throw bad(what + " must be a non-empty array of non-empty strings");
    }
    return value;
  }
  function optionalNotify(notify) {
    if (notify === void 0) return void 0;
    if (!notify || typeof notify !== "object") throw bad("notify must be {name, content}");
    const n = notify;
    const name = requireString(n.name, "notify.name");
    const content = n.content === void 0 ? "" : requireString(n.content, "notify.content", true);
    return { name, content };
  }
  function requireServerUrl(url) {
    if (typeof url !== "string" || !/^wss?:\/\/[^/]+/.test(url)) {
      throw bad("url must be the server's ws:// or wss:// signalling URL, e.g. wss://rtc.example.com/ws");
    }
    return url;
  }

  // src/capture.ts
  var CAMERA_VIDEO = {
    width: { ideal: 640 },
    height: { ideal: 480 },
    frameRate: { ideal: 15, max: 30 }
  };
  function hasAudio(m) {
    return m !== "video";
  }
  function hasVideo(m) {
    return m !== "audio";
  }
  function mediaTypeOf(stream) {
    const a = stream.getAudioTracks().length > 0;
    const v = stream.getVideoTracks().length > 0;
    return a && v ? "audio_video" : a ? "audio" : v ? "video" : null;
  }
  async function capture(o, wanted) {
    const source = o.source === void 0 ? "camera" : o.source;
    if (typeof MediaStream !== "undefined" && source instanceof MediaStream) {
      const has2 = mediaTypeOf(source);
      if (!has2) throw bad("the MediaStream to publish has no live track");
      const mediaType2 = wanted || has2;
      if (hasAudio(mediaType2) && !hasAudio(has2) || hasVideo(mediaType2) && !hasVideo(has2)) {
        throw bad("mediaType " + mediaType2 + " needs tracks the MediaStream does not have (" + has2 + ")");
      }
      return { stream: source, owned: false, source: "custom", mediaType: mediaType2 };
    }
    if (source !== "camera" && source !== "screen") throw bad("source must be 'camera', 'screen' or a MediaStream");
    const devices = typeof navigator !== "undefined" ? navigator.mediaDevices : void 0;
    if (!devices) throw fail(ErrorCode.NOT_SUPPORTED, "no navigator.mediaDevices: capturing needs a secure context (https:// or localhost)");
    let stream;
    try {
      if (source === "screen") {
        if (typeof devices.getDisplayMedia !== "function") throw fail(ErrorCode.NOT_SUPPORTED, "this browser cannot capture the screen");
        const audio = wanted !== void 0 && hasAudio(wanted) ? o.audio ?? true : false;
        stream = await devices.getDisplayMedia({ video: o.video ?? true, audio });
      } else {
        const mediaType2 = wanted || (o.audio === false ? "video" : o.video === false ? "audio" : "audio_video");
        stream = await devices.getUserMedia({
          audio: hasAudio(mediaType2) ? o.audio ?? true : false,
          video: hasVideo(mediaType2) ? o.video ?? CAMERA_VIDEO : false
        });
      }
    } catch (err) {
      if (err instanceof Error && err.name === "MiniRTCError") throw err;
      const e = err;
      throw fail(ErrorCode.DEVICE_ERROR, "cannot capture the " + source + ": " + (e?.name || "Error") + (e?.message ? " (" + e.message + ")" : ""), err);
    }
    const has = mediaTypeOf(stream);
    if (!has) throw fail(ErrorCode.DEVICE_ERROR, "the " + source + " capture has no track");
    let mediaType = wanted || has;
    if (source === "screen" && mediaType === "audio_video" && has === "video") mediaType = "video";
    return { stream, owned: true, source, mediaType };
  }
  function stopTracks(stream) {
    for (const t of stream.getTracks()) t.stop();
  }

  // src/context.ts
  var MAX_RETRIES_PER_MINUTE = 5;
  function allowRetry(times, now) {
    while (times.length && now - times[0] >= 6e4) times.shift();
    if (times.length >= MAX_RETRIES_PER_MINUTE) return false;
    times.push(now);
    return true;
  }

  // src/rtc-util.ts
  function iceConfig(servers) {
    return {
      iceServers: servers.map((s) => ({ urls: s.urls, username: s.username, credential: s.credential })),
      bundlePolicy: "max-bundle",
      rtcpMuxPolicy: "require"
    };
  }
  function rankVideo(c) {
    const mime = c.mimeType.toLowerCase();
    const fmtp = (c.sdpFmtpLine || "").toLowerCase();
    if (mime === "video/h264" && fmtp.includes("packetization-mode=1")) {
      return fmtp.includes("profile-level-id=42e01f") ? 0 : fmtp.includes("profile-level-id=42001f") ? 1 : 2;
    }
    if (mime === "video/vp8") return 3;
    if (mime === "video/rtx") return 4;
    return -1;
  }
  function preferCodecs(transceiver, kind) {
    if (typeof transceiver.setCodecPreferences !== "function" || typeof RTCRtpReceiver.getCapabilities !== "function") return;
    const caps = RTCRtpReceiver.getCapabilities(kind);
    if (!caps) return;
    let codecs;
    if (kind === "video") {
      codecs = caps.codecs.filter((c) => rankVideo(c) >= 0).sort((a, b) => rankVideo(a) - rankVideo(b));
    } else {
      codecs = caps.codecs.filter((c) => c.mimeType.toLowerCase() === "audio/opus");
    }
    if (!codecs.length) return;
    try {
      transceiver.setCodecPreferences(codecs);
    } catch (err) {
      console.warn("[minirtc] setCodecPreferences failed", err);
    }
  }
  function waitForGathering(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      };
      const check = () => {
        if (pc.iceGatheringState === "complete") done();
      };
      const timer = setTimeout(done, timeoutMs);
      pc.addEventListener("icegatheringstatechange", check);
    });
  }
  var Trickler = class {
    constructor(pc, signaller, target) {
      this.signaller = signaller;
      this.target = target;
      this.sentSdp = null;
      this.sentComplete = false;
      this.queued = [];
      this.stopped = false;
      pc.addEventListener("icecandidate", (ev) => this.onCandidate(ev.candidate));
    }
    /** The SDP with the candidates known so far has been sent and applied by the server. */
    start(sentSdp, gatheringComplete) {
      this.sentSdp = sentSdp;
      this.sentComplete = gatheringComplete;
      const queued = this.queued;
      this.queued = [];
      for (const c of queued) this.onCandidate(c);
    }
    stop() {
      this.stopped = true;
      this.queued = [];
    }
    onCandidate(c) {
      if (this.stopped) return;
      if (this.sentSdp === null) {
        this.queued.push(c);
        return;
      }
      if (c && c.candidate && this.sentSdp.includes(c.candidate)) return;
      if (!c && this.sentComplete) return;
      const data = c ? { target: this.target, candidate: c.candidate, sdp_mid: c.sdpMid ?? void 0, sdp_mline_index: c.sdpMLineIndex ?? void 0 } : { target: this.target, candidate: "" };
      this.signaller.request("webrtc_candidate", data).catch((err) => {
        if (!this.stopped) console.warn("[minirtc] webrtc_candidate for " + this.target + " failed", err);
      });
    }
  };
  function rtcFailure(what, err) {
    if (err instanceof MiniRTCError) return err;
    return fail(ErrorCode.WEBRTC_FAILED, what + ": " + String(err?.message || err), err);
  }
  function hasWebRTC() {
    return typeof RTCPeerConnection === "function";
  }

  // src/publisher.ts
  function kindsOf(mediaType) {
    return mediaType === "audio_video" ? ["audio", "video"] : [mediaType];
  }
  var Publisher = class {
    constructor(tag, stream, mediaType, signaller, config) {
      this.tag = tag;
      this.stream = stream;
      this.mediaType = mediaType;
      this.signaller = signaller;
      this.config = config;
      this.closed = false;
      this.pc = new RTCPeerConnection(iceConfig(config.iceServers));
      this.trickler = new Trickler(this.pc, signaller, tag);
    }
    /** Publishes: offer → publish request → answer. Server errors come through unchanged. */
    async start() {
      const pc = this.pc;
      for (const kind of kindsOf(this.mediaType)) {
        const track = kind === "audio" ? this.stream.getAudioTracks()[0] : this.stream.getVideoTracks()[0];
        if (!track) continue;
        const init = { direction: "sendonly", streams: [this.stream] };
        if (kind === "video" && this.config.maxVideoBitrate) init.sendEncodings = [{ maxBitrate: this.config.maxVideoBitrate }];
        preferCodecs(pc.addTransceiver(track, init), kind);
      }
      let sdp;
      let complete;
      try {
        await pc.setLocalDescription(await pc.createOffer());
        await waitForGathering(pc, this.config.gatheringTimeout);
        sdp = pc.localDescription ? pc.localDescription.sdp : "";
        complete = pc.iceGatheringState === "complete";
      } catch (err) {
        throw rtcFailure("creating the offer for " + this.tag, err);
      }
      const data = await this.signaller.request("publish", {
        tag: this.tag,
        media: this.mediaType,
        transport: "webrtc",
        offer: sdp
      });
      if (this.closed) return data;
      try {
        await pc.setRemoteDescription({ type: "answer", sdp: data.answer || "" });
      } catch (err) {
        throw rtcFailure("applying the server's answer for " + this.tag, err);
      }
      this.trickler.start(sdp, complete);
      return data;
    }
    close() {
      if (this.closed) return;
      this.closed = true;
      this.trickler.stop();
      this.pc.close();
    }
  };

  // src/local-media.ts
  var PERMISSION_DENIED = 2006;
  var LocalMedia = class {
    constructor(ctx) {
      this.ctx = ctx;
      this.entries = /* @__PURE__ */ new Map();
      // The user's choices (openMic/closeMic ...). What a track does is the
      // choice unless the app server locked the stream (force_mute).
      this.cameraOn = true;
      this.micOn = true;
    }
    async publish(options) {
      const o = options || {};
      const tag = o.tag === void 0 ? "main" : requireId(o.tag, "tag");
      const wanted = o.mediaType === void 0 ? void 0 : requireOneOf(o.mediaType, ["audio", "video", "audio_video"], "mediaType");
      this.ctx.requireJoined("publish");
      this.ctx.requireWebRTC("publish");
      if (this.entries.has(tag)) throw new MiniRTCError(3004, 'stream already published: tag "' + tag + '" is published already; unpublish it first');
      const captured = await capture(o, wanted);
      const entry = {
        ...captured,
        tag,
        streamId: "",
        maxVideoBitrate: o.maxVideoBitrate,
        publisher: null,
        republishing: null,
        republishedAt: [],
        unwatch: () => {
        },
        audioLocked: false,
        videoLocked: false
      };
      if (this.entries.has(tag) || !this.ctx.isJoined()) {
        if (entry.owned) stopTracks(entry.stream);
        this.ctx.requireJoined("publish");
        throw new MiniRTCError(3004, 'stream already published: tag "' + tag + '"');
      }
      this.entries.set(tag, entry);
      this.applyDevices(entry);
      try {
        await this.start(entry);
      } catch (err) {
        if (this.entries.get(tag) === entry) this.forget(entry);
        throw err;
      }
      entry.unwatch = watchEnded(entry.stream, () => this.onCaptureEnded(entry));
      return describe(entry);
    }
    async unpublish(tag) {
      const t = tag === void 0 ? "main" : requireId(tag, "tag");
      this.ctx.requireJoined("unpublish");
      const entry = this.entries.get(t);
      if (entry) this.forget(entry);
      await this.ctx.request("unpublish", { tag: t });
    }
    async setCamera(on) {
      if (on) this.refuseLocked("video", "openCamera");
      this.cameraOn = on;
      await this.sendMute("video", { video_disabled: !on });
    }
    async setMic(on) {
      if (on) this.refuseLocked("audio", "openMic");
      this.micOn = on;
      await this.sendMute("audio", { audio_muted: !on });
    }
    /** True while the app server keeps the microphone (camera) of one of your camera streams off. */
    locked(kind) {
      for (const e of this.entries.values()) if (e.source !== "screen" && (kind === "audio" ? e.audioLocked : e.videoLocked)) return true;
      return false;
    }
    /**
     * force_mute (docs/protocol.md): the app server muted or unmuted one of our
     * streams. Comply at once: a disabled track sends silence / black frames.
     * After an unmute the track comes back only if the user had not turned the
     * device off; if they had, the server (which just unmuted the stream) is
     * told the user's choice again. Returns the forceMute event, or null for a
     * stream we do not publish.
     */
    onForceMute(d) {
      let entry;
      for (const e of this.entries.values()) if (e.streamId === d.stream.id) entry = e;
      if (!entry) return null;
      entry.audioLocked = !!d.stream.audio_locked;
      entry.videoLocked = !!d.stream.video_locked;
      this.applyDevices(entry);
      const restore = {};
      if (entry.source !== "screen") {
        if (d.audio_muted === false && !this.micOn) restore.audio_muted = true;
        if (d.video_disabled === false && !this.cameraOn) restore.video_disabled = true;
      }
      if (Object.keys(restore).length && this.ctx.isJoined()) {
        this.ctx.request("mute", { tag: entry.tag, ...restore }).catch((err) => this.ctx.emit("error", err));
      }
      const out = { streamId: entry.streamId, tag: entry.tag, audioLocked: entry.audioLocked, videoLocked: entry.videoLocked };
      if (typeof d.audio_muted === "boolean") out.audioMuted = d.audio_muted;
      if (typeof d.video_disabled === "boolean") out.videoDisabled = d.video_disabled;
      return out;
    }
    /**
     * The app server took the publish grant away: it has unpublished our
     * streams already (stream_unpublished came first). Close the peer
     * connections, release the devices, and forget the streams so that nothing
     * publishes them again.
     */
    onPublishRevoked() {
      this.clear();
    }
    localStream(tag) {
      const e = this.entries.get(tag);
      return e ? describe(e) : null;
    }
    all() {
      return Array.from(this.entries.values()).map(describe);
    }
    /** The server closed the peer connection of tag (webrtc_closed). */
    onClosed(tag, reason) {
      void this.republish(tag, "peer connection closed: " + (reason || "unknown"));
    }
    /** Our own stream ended on the server: publish it again. */
    onOwnStreamEnded(streamId) {
      for (const e of this.entries.values()) if (e.streamId === streamId) void this.republish(e.tag, "the server ended the stream");
    }
    /** A fresh peer connection and stream for tag. Once at a time per tag; failures become 'error' events. */
    republish(tag, reason) {
      const entry = this.entries.get(tag);
      if (!entry || entry.republishing || !this.ctx.isConnected()) return null;
      if (!allowRetry(entry.republishedAt, Date.now())) {
        this.ctx.emit("error", fail(ErrorCode.TOO_MANY_REQUESTS, "stream " + entry.streamId + " failed 5 times within a minute; not re-publishing (last: " + reason + ")"));
        return null;
      }
      entry.republishing = (async () => {
        entry.publisher?.close();
        entry.publisher = null;
        try {
          await this.ctx.request("unpublish", { tag });
        } catch (err) {
          if (!isCode(err, 3005)) throw err;
        }
        if (this.entries.get(tag) !== entry) return;
        await this.start(entry);
        this.ctx.emit("streamRepublished", { ...ids(entry), reason });
      })().catch((err) => {
        if (this.entries.get(tag) === entry) this.ctx.emit("error", err);
      }).then(() => {
        entry.republishing = null;
      });
      return entry.republishing;
    }
    /** After joining again (docs/protocol.md §7.5) the new session has no streams. */
    republishAll() {
      for (const entry of this.entries.values()) {
        entry.publisher?.close();
        entry.publisher = null;
        entry.republishing = null;
        entry.republishedAt = [];
        this.start(entry).then(() => this.ctx.emit("streamRepublished", { ...ids(entry), reason: "joined again" })).catch((err) => {
          if (this.entries.get(entry.tag) === entry) this.ctx.emit("error", err);
        });
      }
    }
    /** The session is over: close every peer connection, release the devices. */
    clear() {
      for (const e of Array.from(this.entries.values())) this.forget(e);
    }
    publishers() {
      return Array.from(this.entries.values()).map((e) => e.publisher).filter((p) => !!p);
    }
    async start(entry) {
      const publisher = new Publisher(entry.tag, entry.stream, entry.mediaType, this.ctx, {
        iceServers: this.ctx.requireWebRTC("publish"),
        gatheringTimeout: this.ctx.options.iceGatheringTimeout,
        maxVideoBitrate: entry.maxVideoBitrate
      });
      entry.publisher = publisher;
      let published = false;
      try {
        const data = await publisher.start();
        published = true;
        entry.streamId = data.stream.id;
        entry.audioLocked = !!data.stream.audio_locked;
        entry.videoLocked = !!data.stream.video_locked;
        this.applyDevices(entry);
        const mute = {};
        if (entry.source !== "screen" && hasVideo(entry.mediaType) && !this.cameraOn) mute.video_disabled = true;
        if (entry.source !== "screen" && hasAudio(entry.mediaType) && !this.micOn) mute.audio_muted = true;
        if (Object.keys(mute).length) await this.ctx.request("mute", { tag: entry.tag, ...mute });
      } catch (err) {
        publisher.close();
        if (entry.publisher === publisher) entry.publisher = null;
        if (published || err instanceof MiniRTCError && err.code === ErrorCode.WEBRTC_FAILED) {
          this.ctx.request("unpublish", { tag: entry.tag }).catch(() => {
          });
        }
        throw err;
      }
    }
    forget(entry) {
      this.entries.delete(entry.tag);
      entry.unwatch();
      entry.publisher?.close();
      entry.publisher = null;
      if (entry.owned) stopTracks(entry.stream);
    }
    // The camera and microphone switches act on what the camera (or your own
    // stream) sends, not on a screen share; the app server's locks act on
    // every stream. A disabled track sends black frames / silence, so players
    // keep running and the switch is instant.
    applyDevices(entry) {
      if (entry.source === "screen") {
        if (entry.videoLocked || entry.lockedBefore?.video) for (const t of entry.stream.getVideoTracks()) t.enabled = !entry.videoLocked;
        if (entry.audioLocked || entry.lockedBefore?.audio) for (const t of entry.stream.getAudioTracks()) t.enabled = !entry.audioLocked;
        entry.lockedBefore = { audio: entry.audioLocked, video: entry.videoLocked };
        return;
      }
      for (const t of entry.stream.getVideoTracks()) t.enabled = this.cameraOn && !entry.videoLocked;
      for (const t of entry.stream.getAudioTracks()) t.enabled = this.micOn && !entry.audioLocked;
    }
    // Unmuting what the app server muted is refused, as the server would
    // (2006), and changes nothing: the user's choice stays as it was.
    refuseLocked(kind, op) {
      for (const e of this.entries.values()) {
        if (e.source === "screen" || !(kind === "audio" ? e.audioLocked : e.videoLocked)) continue;
        throw new MiniRTCError(PERMISSION_DENIED, op + ": the app server muted the " + kind + " of stream " + e.streamId + " (" + kind + "Locked); it must unmute it first");
      }
    }
    async sendMute(kind, fields) {
      const jobs = [];
      for (const entry of this.entries.values()) {
        if (entry.source === "screen") continue;
        this.applyDevices(entry);
        const carries = kind === "audio" ? hasAudio(entry.mediaType) : hasVideo(entry.mediaType);
        if (carries && entry.streamId && this.ctx.isConnected()) jobs.push(this.ctx.request("mute", { tag: entry.tag, ...fields }));
      }
      await Promise.all(jobs);
    }
    // "Stop sharing" in the browser's bar, an unplugged camera: nothing more
    // will be sent, so withdraw the stream and say so.
    onCaptureEnded(entry) {
      if (this.entries.get(entry.tag) !== entry) return;
      if (entry.stream.getTracks().some((t) => t.readyState === "live")) return;
      this.forget(entry);
      this.ctx.emit("localStreamEnded", { tag: entry.tag, id: entry.streamId });
      if (this.ctx.isConnected()) this.ctx.request("unpublish", { tag: entry.tag }).catch(() => {
      });
    }
  };
  function ids(e) {
    return { id: e.streamId, tag: e.tag, mediaType: e.mediaType };
  }
  function describe(e) {
    return { ...ids(e), source: e.source, stream: e.stream };
  }
  function watchEnded(stream, onEnded) {
    const tracks = stream.getTracks();
    for (const t of tracks) t.addEventListener("ended", onEnded);
    return () => {
      for (const t of tracks) t.removeEventListener("ended", onEnded);
    };
  }

  // src/protocol.ts
  var DOWNLINK = "downlink";

  // src/downlink.ts
  var Downlink = class {
    constructor(signaller, iceServers, gatheringTimeout, handlers) {
      this.signaller = signaller;
      this.gatheringTimeout = gatheringTimeout;
      this.handlers = handlers;
      this.latest = null;
      this.newestId = -1;
      this.running = false;
      this.answered = false;
      this.closed = false;
      this.pc = new RTCPeerConnection(iceConfig(iceServers));
      this.trickler = new Trickler(this.pc, signaller, DOWNLINK);
      this.pc.addEventListener("track", (ev) => {
        const stream = ev.streams[0];
        if (stream && !this.closed) this.handlers.onTrack(stream.id, ev.track);
      });
    }
    offer(ev) {
      if (this.closed || ev.offer_id <= this.newestId) return;
      this.newestId = ev.offer_id;
      this.latest = ev;
      if (!this.running) void this.run();
    }
    close() {
      if (this.closed) return;
      this.closed = true;
      this.latest = null;
      this.trickler.stop();
      this.pc.close();
    }
    async run() {
      this.running = true;
      try {
        while (this.latest && !this.closed) {
          const ev = this.latest;
          this.latest = null;
          try {
            await this.answer(ev);
          } catch (err) {
            if (!this.closed && ev.offer_id === this.newestId) this.handlers.onError(rtcFailure("answering the downlink offer " + ev.offer_id, err));
          }
        }
      } finally {
        this.running = false;
      }
    }
    async answer(ev) {
      const pc = this.pc;
      await pc.setRemoteDescription({ type: "offer", sdp: ev.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      let complete = true;
      if (!this.answered) {
        await waitForGathering(pc, this.gatheringTimeout);
        complete = pc.iceGatheringState === "complete";
      }
      if (this.closed || this.latest) return;
      const sdp = pc.localDescription ? pc.localDescription.sdp : "";
      this.handlers.onApplied(ev.streams || []);
      await this.signaller.request("webrtc_answer", { offer_id: ev.offer_id, sdp });
      if (!this.answered) {
        this.answered = true;
        this.trickler.start(sdp, complete);
      }
    }
  };

  // src/remote-media.ts
  var RemoteMedia = class {
    constructor(ctx) {
      this.ctx = ctx;
      this.subs = /* @__PURE__ */ new Map();
      this.localMuted = /* @__PURE__ */ new Map();
      this.downlink = null;
      this.retries = [];
    }
    async subscribe(streamIds) {
      const ids2 = requireStreamIds(streamIds);
      this.ctx.requireJoined("subscribe");
      const webrtc = this.ctx.supportsWebRTC();
      const added = ids2.filter((id) => !this.subs.has(id));
      for (const id of added) this.subs.set(id, newSub(id));
      const mine = added.map((id) => this.subs.get(id));
      let data;
      try {
        data = await this.ctx.request("subscribe", { streams: ids2, transport: "webrtc" });
      } catch (err) {
        added.forEach((id, i) => {
          if (this.subs.get(id) === mine[i]) this.drop(id, err);
        });
        throw err;
      }
      if (!webrtc) {
        for (const id of ids2) this.drop(id, fail(ErrorCode.NOT_SUPPORTED, "no WebRTC"));
        this.ctx.request("unsubscribe", { streams: ids2 }).catch(() => {
        });
        throw fail(ErrorCode.NOT_SUPPORTED, "subscribe: the server does not take WebRTC (its join answer has no webrtc)");
      }
      await Promise.all(ids2.map((id) => this.whenReady(id)));
      const streams = {};
      for (const id of ids2) streams[id] = this.subs.get(id).media;
      return { subscriptions: data.subscriptions.slice(), streams };
    }
    async unsubscribe(streamIds) {
      const ids2 = requireStreamIds(streamIds);
      this.ctx.requireJoined("unsubscribe");
      for (const id of ids2) this.drop(id, fail(ErrorCode.UNKNOWN_STREAM, "unsubscribed from " + id));
      const data = await this.ctx.request("unsubscribe", { streams: ids2 });
      return { subscriptions: data.subscriptions.slice() };
    }
    /** Silences (or not) a remote stream on this page only; remembered across re-subscriptions. */
    muteRemoteStream(streamId, muted) {
      requireStreamIds(streamId);
      this.localMuted.set(streamId, muted);
      const sub = this.subs.get(streamId);
      if (sub) for (const t of sub.media.getAudioTracks()) t.enabled = !muted;
    }
    isRemoteStreamMuted(streamId) {
      return this.localMuted.get(streamId) === true;
    }
    mediaStream(streamId) {
      const sub = this.subs.get(streamId);
      return sub && sub.ready ? sub.media : null;
    }
    /** Remote track id → stream id, to match the downlink's stats to streams. */
    trackMap() {
      const out = /* @__PURE__ */ new Map();
      for (const sub of this.subs.values()) for (const t of sub.media.getTracks()) out.set(t.id, sub.streamId);
      return out;
    }
    downlinkPc() {
      return this.downlink ? this.downlink.pc : null;
    }
    onOffer(ev) {
      if (!this.downlink) {
        this.downlink = new Downlink(this.ctx, this.ctx.requireWebRTC("subscribe"), this.ctx.options.iceGatheringTimeout, {
          onTrack: (id, track) => this.onTrack(id, track),
          onApplied: (streams) => this.onApplied(streams),
          onError: (err) => this.ctx.emit("error", err)
        });
      }
      this.downlink.offer(ev);
    }
    /** The server closed the downlink (ICE failed, ...): subscribe again to what we still want. */
    onClosed(reason) {
      this.closeDownlink();
      const why = "downlink closed: " + (reason || "unknown");
      if (!allowRetry(this.retries, Date.now())) {
        const err = fail(ErrorCode.TOO_MANY_REQUESTS, "the downlink failed 5 times within a minute; not subscribing again (last: " + why + ")");
        for (const id of Array.from(this.subs.keys())) this.drop(id, err);
        this.ctx.emit("error", err);
        return;
      }
      this.resubscribeAll(why);
    }
    /** After joining again, or the downlink closing: the server has no downlink for us now. */
    resubscribeAll(reason) {
      this.closeDownlink();
      const wanted = [];
      for (const id of Array.from(this.subs.keys())) {
        if (!this.ctx.state.streams.has(id)) {
          this.drop(id, fail(ErrorCode.UNKNOWN_STREAM, id + " is not live any more"));
          continue;
        }
        const sub = this.subs.get(id);
        sub.media = new MediaStream();
        sub.ready = false;
        sub.resubscribeReason = reason;
        wanted.push(id);
      }
      if (!wanted.length) return;
      this.ctx.request("subscribe", { streams: wanted, transport: "webrtc" }).catch((err) => {
        for (const id of wanted) this.drop(id, err);
        this.ctx.emit("error", err);
      });
    }
    /** The stream ended (unpublished, its owner left): the server dropped the subscription. */
    onStreamGone(streamId) {
      this.drop(streamId, fail(ErrorCode.UNKNOWN_STREAM, streamId + " was unpublished"));
      this.localMuted.delete(streamId);
    }
    /** The app server took the subscribe grant away: the server ended every subscription. */
    onSubscribeRevoked() {
      const why = new MiniRTCError(2006, "permission denied: the app server took the subscribe grant away");
      for (const id of Array.from(this.subs.keys())) this.drop(id, why);
    }
    clear() {
      this.closeDownlink();
      for (const id of Array.from(this.subs.keys())) this.drop(id, fail(ErrorCode.SESSION_ENDED, "the session ended"));
      this.localMuted.clear();
      this.retries = [];
    }
    closeDownlink() {
      this.downlink?.close();
      this.downlink = null;
    }
    onTrack(streamId, track) {
      const sub = this.subs.get(streamId);
      if (!sub) return;
      for (const old of sub.media.getTracks()) if (old.kind === track.kind && old !== track) sub.media.removeTrack(old);
      if (!sub.media.getTracks().includes(track)) sub.media.addTrack(track);
      if (track.kind === "audio" && this.localMuted.get(streamId)) track.enabled = false;
      this.ctx.emit("track", { streamId, track, stream: sub.media });
    }
    onApplied(streams) {
      for (const sub of this.subs.values()) {
        if (sub.ready || !streams.includes(sub.streamId)) continue;
        sub.ready = true;
        const waiters = sub.waiters;
        sub.waiters = [];
        for (const w of waiters) w.resolve();
        this.ctx.emit("remoteStream", { streamId: sub.streamId, stream: sub.media });
        if (sub.resubscribeReason) {
          this.ctx.emit("streamResubscribed", { streamId: sub.streamId, reason: sub.resubscribeReason });
          sub.resubscribeReason = "";
        }
      }
    }
    whenReady(id) {
      const sub = this.subs.get(id);
      if (!sub) return Promise.reject(fail(ErrorCode.UNKNOWN_STREAM, id + " is not subscribed any more"));
      if (sub.ready) return Promise.resolve();
      const timeout = this.ctx.options.subscribeTimeout;
      return new Promise((resolve, reject) => {
        const w = {
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject: (err) => {
            clearTimeout(timer);
            reject(err);
          }
        };
        const timer = setTimeout(() => {
          sub.waiters = sub.waiters.filter((x) => x !== w);
          reject(fail(ErrorCode.TIMEOUT, "the server sent no offer carrying " + id + " within " + timeout + " ms"));
        }, timeout);
        sub.waiters.push(w);
      });
    }
    drop(id, why) {
      const sub = this.subs.get(id);
      if (!sub) return;
      this.subs.delete(id);
      for (const w of sub.waiters) w.reject(why);
      sub.waiters = [];
    }
  };
  function newSub(streamId) {
    return { streamId, media: new MediaStream(), ready: false, waiters: [], resubscribeReason: "" };
  }

  // src/room-state.ts
  function toStream(s) {
    const out = {
      id: s.id,
      userId: s.user_id,
      tag: s.tag,
      mediaType: s.media,
      audioMuted: !!s.audio_muted,
      videoDisabled: !!s.video_disabled,
      audioLocked: !!s.audio_locked,
      videoLocked: !!s.video_locked
    };
    if (s.video) {
      out.video = { codec: s.video.codec, width: s.video.width, height: s.video.height };
      if (s.video.fps !== void 0) out.video.fps = s.video.fps;
    }
    if (s.audio) out.audio = { codec: s.audio.codec, sampleRate: s.audio.sample_rate, channels: s.audio.channels };
    return out;
  }
  function toUser(p) {
    const out = { userId: p.user_id, name: p.name || "", metadata: p.metadata || "", joinedAt: p.joined_at };
    if (p.grants) out.grants = p.grants.slice();
    return out;
  }
  function copy(obj) {
    return JSON.parse(JSON.stringify(obj));
  }
  var RoomState = class {
    constructor() {
      this.room = null;
      this.self = null;
      /** The others, by user id. */
      this.users = /* @__PURE__ */ new Map();
      /** Live streams of everyone, yourself included, by stream id. */
      this.streams = /* @__PURE__ */ new Map();
    }
    reset() {
      this.room = null;
      this.self = null;
      this.users = /* @__PURE__ */ new Map();
      this.streams = /* @__PURE__ */ new Map();
    }
    /** Replaces the view with a join snapshot. */
    load(data) {
      this.reset();
      this.room = { id: data.room.id, attributes: { ...data.room.attributes }, createdAt: data.room.created_at };
      this.self = toUser(data.self);
      for (const s of data.self.streams || []) this.streams.set(s.id, toStream(s));
      for (const p of data.participants || []) {
        this.users.set(p.user_id, toUser(p));
        for (const s of p.streams || []) this.streams.set(s.id, toStream(s));
      }
    }
    /** Applies an event; returns the SDK event for the page, or null. */
    apply(name, d) {
      switch (name) {
        case "user_joined": {
          const user = toUser(d.user);
          this.users.set(user.userId, user);
          return ["userJoined", copy(user)];
        }
        case "user_left": {
          const userId = String(d.user_id);
          this.users.delete(userId);
          for (const [id, s] of this.streams) if (s.userId === userId) this.streams.delete(id);
          return ["userLeft", { userId, reason: String(d.reason || "") }];
        }
        case "stream_published":
        case "stream_state_changed": {
          const stream = toStream(d.stream);
          this.streams.set(stream.id, stream);
          return [name === "stream_published" ? "streamPublished" : "streamStateChanged", copy(stream)];
        }
        case "stream_unpublished": {
          const stream = toStream(d.stream);
          this.streams.delete(stream.id);
          return ["streamUnpublished", stream];
        }
        case "participant_updated": {
          const user = toUser(d.user);
          if (this.self && user.userId === this.self.userId) this.self = user;
          else if (this.users.has(user.userId)) this.users.set(user.userId, user);
          return ["participantUpdated", copy(user)];
        }
        case "attributes_changed": {
          const set = d.set || {};
          const deleted = (d.deleted || []).slice();
          if (this.room) {
            Object.assign(this.room.attributes, set);
            for (const k of deleted) delete this.room.attributes[k];
          }
          const notify = d.notify;
          return ["attributesChanged", {
            set: { ...set },
            deleted,
            by: String(d.by || ""),
            ...notify ? { notify: { name: notify.name, content: notify.content || "" } } : {}
          }];
        }
        case "message":
          return ["message", {
            id: String(d.id),
            from: String(d.from),
            name: String(d.name),
            content: String(d.content || ""),
            private: !!d.private,
            sentAt: Number(d.sent_at)
          }];
        case "kicked_off":
          return ["kickedOff", { reason: String(d.reason || ""), by: String(d.by || ""), banSeconds: Number(d.ban_seconds || 0), message: String(d.message || "") }];
        case "room_closed":
          return ["roomClosed", { reason: String(d.reason || ""), by: String(d.by || "") }];
        default:
          return null;
      }
    }
    /** Replaces the attributes after a set/delete answered with all of them. */
    setAttributes(all) {
      if (this.room) this.room.attributes = { ...all };
    }
    remoteUsers() {
      return Array.from(this.users.values()).map((u) => ({ ...copy(u), streams: this.remoteStreams(u.userId) }));
    }
    remoteStreams(userId) {
      const selfId = this.self && this.self.userId;
      return Array.from(this.streams.values()).filter((s) => s.userId !== selfId && (userId === void 0 || s.userId === userId)).map(copy);
    }
    isOwn(stream) {
      const owner = stream.user_id ?? stream.userId;
      return !!this.self && owner === this.self.userId;
    }
  };

  // src/connection.ts
  var SUBPROTOCOL = "minirtc.v1";
  function serverError(frame) {
    return new MiniRTCError(frame.code, frame.msg || "error " + frame.code);
  }
  var Connection = class {
    constructor(url, handlers) {
      this.url = url;
      this.handlers = handlers;
      this.open = false;
      this.closed = false;
      this.lastFrameAt = 0;
      this.ws = null;
      this.own = /* @__PURE__ */ new Map();
    }
    /** Resolves when the socket is open; rejects with CONNECTION_FAILED. */
    connect(timeoutMs) {
      return new Promise((resolve, reject) => {
        let settled = false;
        const settle = (err) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(this);
        };
        const timer = setTimeout(() => {
          settle(fail(ErrorCode.CONNECTION_FAILED, "connecting to " + this.url + " timed out"));
          this.close(1e3, "connect timeout");
        }, timeoutMs);
        let ws;
        try {
          ws = new WebSocket(this.url, [SUBPROTOCOL]);
        } catch (err) {
          settle(fail(ErrorCode.CONNECTION_FAILED, "cannot open " + this.url + ": " + String(err?.message || err), err));
          return;
        }
        this.ws = ws;
        ws.onopen = () => {
          this.open = true;
          this.lastFrameAt = Date.now();
          settle();
        };
        ws.onmessage = (ev) => {
          if (typeof ev.data === "string") this.onMessage(ev.data);
        };
        ws.onerror = () => settle(fail(ErrorCode.CONNECTION_FAILED, "cannot connect to " + this.url));
        ws.onclose = (ev) => {
          const info = { code: ev.code || 1006, reason: ev.reason || "" };
          settle(fail(ErrorCode.CONNECTION_FAILED, "socket closed (" + info.code + ") before it opened"));
          this.onClose(info);
        };
      });
    }
    send(frame) {
      if (!this.open || this.closed || !this.ws) return false;
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    /**
     * A request answered on this socket only. onAnswer runs synchronously with
     * the response, before any later frame is handled: join and resume must
     * take effect before their events.
     */
    request(id, op, data, timeoutMs, onAnswer) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          this.own.delete(id);
          reject(fail(ErrorCode.TIMEOUT, op + " got no answer within " + timeoutMs + " ms"));
        }, timeoutMs);
        this.own.set(id, {
          resolve,
          reject,
          timer,
          onAnswer
        });
        if (!this.send({ id, op, data })) {
          clearTimeout(timer);
          this.own.delete(id);
          reject(fail(ErrorCode.CONNECTION_FAILED, "not connected"));
        }
      });
    }
    close(code = 1e3, reason = "") {
      if (this.closed) return;
      this.closed = true;
      this.open = false;
      if (this.ws) this.ws.close(code === 1e3 || code >= 3e3 && code <= 4999 ? code : 1e3, reason);
      this.failOwn();
    }
    onMessage(text) {
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(text);
      } catch (err) {
        console.error("[minirtc] unreadable frame from server", err);
        return;
      }
      if (!frame || typeof frame !== "object") return;
      if (typeof frame.event === "string") {
        this.handlers.onEvent(frame, this);
        return;
      }
      const res = frame;
      const own = this.own.get(res.id);
      if (!own) {
        this.handlers.onResponse(res, this);
        return;
      }
      this.own.delete(res.id);
      clearTimeout(own.timer);
      if (res.code !== 0) {
        own.reject(serverError(res));
        return;
      }
      try {
        if (own.onAnswer) own.onAnswer(res.data || {});
        own.resolve(res.data || {});
      } catch (err) {
        own.reject(err);
      }
    }
    onClose(info) {
      const wasClosed = this.closed;
      this.closed = true;
      this.open = false;
      this.failOwn();
      if (!wasClosed) this.handlers.onClose(info, this);
    }
    failOwn() {
      for (const own of this.own.values()) {
        clearTimeout(own.timer);
        own.reject(fail(ErrorCode.CONNECTION_FAILED, "connection closed"));
      }
      this.own.clear();
    }
  };

  // src/session.ts
  var FATAL_JOIN_CODES = [1003, 1008, 2001, 2002, 2003, 2004, 2005, 2007, 3001, 3002, 3009];
  var ENDING_CLOSE_CODES = [1e3, 4001, 4002, 4004];
  var LIMITS = {
    maxPending: 64,
    // the server caches 64 responses: more in flight could not be retried safely
    backoffMin: 250,
    backoffMax: 5e3,
    probeTimeout: 3e3
    // a ping after the page comes back / the network returns must be answered within this
  };
  var Session = class {
    constructor(url, opts, hooks) {
      this.url = url;
      this.opts = opts;
      this.hooks = hooks;
      this.state = "disconnected";
      /** Between join and the end of the session. */
      this.active = false;
      this.token = "";
      this.roomId = "";
      this.conn = null;
      this.nextId = 1;
      this.pending = /* @__PURE__ */ new Map();
      this.lastSeq = 0;
      this.resumeToken = null;
      this.pingIntervalMs = 5e3;
      this.ending = null;
      this.leaving = false;
      this.retryAfterMs = 0;
      this.reconnecting = false;
      this.reconnectStartedAt = 0;
      this.attempt = 0;
      this.unwatch = [];
      this.hiddenAt = 0;
    }
    async join(token, roomId) {
      this.token = token;
      this.roomId = roomId;
      this.active = true;
      this.ending = null;
      this.leaving = false;
      this.setState("connecting");
      let conn = null;
      try {
        conn = await this.open();
        const c = conn;
        await c.request(this.newId(), "join", { token, room: roomId, protocol: 1 }, this.opts.requestTimeout, (data) => {
          this.adopt(c, data, true);
          this.hooks.onJoined(data);
        });
        this.watchHost();
      } catch (err) {
        if (conn) conn.close(1e3, "join failed");
        this.conn = null;
        this.active = false;
        this.stopTimers();
        this.setState("disconnected");
        throw err;
      }
    }
    /**
     * Sends a request of the session. Requests made while reconnecting wait and
     * are sent after the resume; unanswered ones are re-sent with the same id.
     */
    request(op, data, timeoutMs) {
      if (!this.active) return Promise.reject(fail(ErrorCode.NOT_JOINED, op + ": not in a room"));
      if (this.pending.size >= LIMITS.maxPending) {
        return Promise.reject(fail(ErrorCode.TOO_MANY_REQUESTS, op + ": " + this.pending.size + " requests are waiting for answers"));
      }
      return new Promise((resolve, reject) => {
        const id = this.newId();
        const timeout = timeoutMs || this.opts.requestTimeout;
        const timer = setTimeout(() => {
          this.pending.delete(id);
          reject(fail(ErrorCode.TIMEOUT, op + " got no answer within " + timeout + " ms; the server may have executed it"));
        }, timeout);
        this.pending.set(id, { id, op, data, resolve, reject, timer });
        if (this.state === "connected" && this.conn) this.conn.send({ id, op, data });
      });
    }
    async leave() {
      if (!this.active) return;
      this.leaving = true;
      if (this.state === "connected") {
        try {
          await this.request("leave", void 0, 5e3);
        } catch {
        }
      }
      this.end(null);
    }
    /**
     * Checks a connection that may have died unnoticed (the page was hidden,
     * the network came back); reconnects at once if it did.
     */
    probe() {
      if (!this.active) return;
      const conn = this.conn;
      if (!conn) {
        this.attempt = 0;
        clearTimeout(this.reconnectTimer);
        void this.reconnect();
        return;
      }
      conn.request(this.newId(), "ping", { last_seq: this.lastSeq }, LIMITS.probeTimeout).catch(() => {
        if (this.conn === conn) this.drop("no answer to a ping");
      });
    }
    /** Closes the socket without ending the session, as a network loss would. */
    drop(why) {
      const conn = this.conn;
      if (!conn) return;
      console.warn("[minirtc] reconnecting: " + why);
      this.conn = null;
      clearInterval(this.pingTimer);
      conn.close(3e3, why.slice(0, 100));
      this.reconnectLater(0);
    }
    newId() {
      return String(this.nextId++);
    }
    open() {
      const conn = new Connection(this.url, {
        onEvent: (frame, c) => this.onEvent(frame, c),
        onResponse: (frame, c) => this.onResponse(frame, c),
        onClose: (info, c) => this.onClose(info, c)
      });
      return conn.connect(this.opts.connectTimeout);
    }
    /** Makes conn the session's socket after a successful join or resume. */
    adopt(conn, data, joined) {
      this.conn = conn;
      if (joined) {
        this.resumeToken = data.resume_token;
        this.lastSeq = 0;
      }
      if (data.ping_interval_ms > 0) this.pingIntervalMs = data.ping_interval_ms;
      this.attempt = 0;
      this.reconnectStartedAt = 0;
      this.retryAfterMs = 0;
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.tick(), this.pingIntervalMs);
      this.setState("connected");
    }
    tick() {
      const conn = this.conn;
      if (!conn) return;
      if (Date.now() - conn.lastFrameAt > 2 * this.pingIntervalMs) {
        this.drop("nothing from the server for two ping intervals");
        return;
      }
      conn.request(this.newId(), "ping", { last_seq: this.lastSeq }, 2 * this.pingIntervalMs).catch(() => {
      });
    }
    onEvent(frame, conn) {
      if (conn !== this.conn) return;
      const seq = frame.seq;
      if (typeof seq !== "number" || seq <= this.lastSeq) return;
      if (seq !== this.lastSeq + 1) {
        this.drop("event gap: got " + seq + " after " + this.lastSeq);
        return;
      }
      this.lastSeq = seq;
      const data = frame.data || {};
      if (frame.event === "kicked_off" || frame.event === "room_closed") this.ending = { event: frame.event, data };
      if (frame.event === "server_going_away") this.retryAfterMs = Number(data.retry_after_ms) || 1e3;
      this.hooks.onEvent(frame.event, data);
    }
    onResponse(frame, _conn) {
      const entry = this.pending.get(frame.id);
      if (!entry) return;
      this.pending.delete(frame.id);
      clearTimeout(entry.timer);
      if (frame.code === 0) entry.resolve(frame.data || {});
      else entry.reject(serverError(frame));
    }
    onClose(info, conn) {
      if (conn !== this.conn) return;
      this.conn = null;
      clearInterval(this.pingTimer);
      if (!this.active) return;
      if (this.leaving) {
        this.end(null);
        return;
      }
      if (this.ending || ENDING_CLOSE_CODES.includes(info.code)) {
        this.end(endError(this.ending, info));
        return;
      }
      if (info.code === 4003) this.resumeToken = null;
      this.reconnectLater(info.code === 1001 ? this.retryAfterMs : 0);
    }
    reconnectLater(delay) {
      if (!this.active) return;
      this.setState("reconnecting");
      if (!this.reconnectStartedAt) this.reconnectStartedAt = Date.now();
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => void this.reconnect(), delay);
    }
    async reconnect() {
      if (!this.active || this.conn || this.reconnecting) return;
      this.reconnecting = true;
      this.attempt++;
      if (!this.reconnectStartedAt) this.reconnectStartedAt = Date.now();
      this.setState("reconnecting");
      let conn = null;
      try {
        conn = await this.open();
        const c = conn;
        if (!this.active) {
          c.close(1e3, "left");
          return;
        }
        if (this.resumeToken) {
          try {
            await c.request(
              this.newId(),
              "resume",
              { resume_token: this.resumeToken, last_seq: this.lastSeq },
              this.opts.requestTimeout,
              (data) => {
                this.adopt(c, data, false);
                this.resendPending();
              }
            );
            return;
          } catch (err) {
            if (!isCode(err, 2008)) throw err;
            this.resumeToken = null;
          }
        }
        await c.request(
          this.newId(),
          "join",
          { token: this.token, room: this.roomId, protocol: 1 },
          this.opts.requestTimeout,
          (data) => {
            this.failPending(ErrorCode.SESSION_RESET, "the session was lost and joined again; the outcome is unknown");
            this.adopt(c, data, true);
            this.hooks.onRejoined(data);
          }
        );
      } catch (err) {
        if (conn && conn !== this.conn) conn.close(1e3, "reconnect failed");
        if (!this.active) return;
        if (err instanceof MiniRTCError && FATAL_JOIN_CODES.includes(err.code)) {
          this.end(err);
          return;
        }
        if (Date.now() - this.reconnectStartedAt > this.opts.reconnectTimeout) {
          this.end(fail(ErrorCode.SESSION_ENDED, "gave up reconnecting after " + this.opts.reconnectTimeout + " ms", err));
          return;
        }
        const base = Math.min(LIMITS.backoffMax, LIMITS.backoffMin * Math.pow(2, this.attempt - 1));
        this.reconnectLater(base / 2 + Math.random() * base / 2);
      } finally {
        this.reconnecting = false;
      }
    }
    /** docs/protocol.md §4: re-send unanswered requests with the same id, in order. */
    resendPending() {
      const entries = Array.from(this.pending.values()).sort((a, b) => Number(a.id) - Number(b.id));
      for (const e of entries) this.conn?.send({ id: e.id, op: e.op, data: e.data });
    }
    failPending(code, message) {
      for (const e of this.pending.values()) {
        clearTimeout(e.timer);
        e.reject(fail(code, e.op + ": " + message));
      }
      this.pending.clear();
    }
    end(error) {
      if (!this.active) return;
      this.active = false;
      this.failPending(ErrorCode.SESSION_ENDED, error ? error.message : "left the room");
      this.stopTimers();
      const conn = this.conn;
      this.conn = null;
      if (conn) conn.close(1e3, "session ended");
      this.resumeToken = null;
      this.hooks.onEnded(error);
      this.setState("disconnected");
    }
    stopTimers() {
      clearInterval(this.pingTimer);
      clearTimeout(this.reconnectTimer);
      for (const off of this.unwatch) off();
      this.unwatch = [];
    }
    // A laptop that wakes up, a tab that comes back, a network that returns:
    // that is when sockets have died silently.
    watchHost() {
      if (this.unwatch.length || typeof window === "undefined") return;
      const online = () => this.probe();
      window.addEventListener("online", online);
      this.unwatch.push(() => window.removeEventListener("online", online));
      if (typeof document === "undefined") return;
      const visibility = () => {
        if (document.visibilityState === "hidden") {
          this.hiddenAt = Date.now();
          return;
        }
        const long = this.hiddenAt > 0 && Date.now() - this.hiddenAt > 2 * this.pingIntervalMs;
        this.hiddenAt = 0;
        if (long && this.conn) this.drop("back after being hidden");
        else this.probe();
      };
      document.addEventListener("visibilitychange", visibility);
      this.unwatch.push(() => document.removeEventListener("visibilitychange", visibility));
    }
    setState(state) {
      if (state === this.state) return;
      const previous = this.state;
      this.state = state;
      this.hooks.onState(state, previous);
    }
  };
  function endError(ending, info) {
    if (ending && ending.event === "kicked_off") {
      return fail(ErrorCode.SESSION_ENDED, "kicked off: " + (String(ending.data.reason || "") || "unknown"));
    }
    if (ending && ending.event === "room_closed") return fail(ErrorCode.SESSION_ENDED, "room closed");
    return fail(ErrorCode.SESSION_ENDED, "the server closed the session (" + info.code + " " + info.reason + ")");
  }

  // src/stats.ts
  function num(v) {
    return typeof v === "number" && isFinite(v) ? v : 0;
  }
  var StatsSampler = class {
    constructor() {
      this.prev = /* @__PURE__ */ new Map();
    }
    /** A stream we send: every outbound-rtp of its own peer connection. */
    async sent(pc, streamId, tag) {
      const reports = await collect(pc);
      const out = { streamId, tag, direction: "send" };
      for (const r of reports.values()) {
        if (r.type === "outbound-rtp") {
          const codec = codecName(reports, r);
          const base = { bitrate: this.bitrate(r.id, num(r.bytesSent), r.timestamp), packets: num(r.packetsSent), packetsLost: 0, codec };
          if (r.kind === "video") out.video = { ...base, frames: num(r.framesEncoded), framesPerSecond: num(r.framesPerSecond), width: num(r.frameWidth), height: num(r.frameHeight) };
          else if (r.kind === "audio") out.audio = { ...base, level: 0 };
        } else if (r.type === "remote-inbound-rtp") {
          const outbound = reports.get(String(r.localId || ""));
          if (outbound && outbound.kind === "video" && out.video) out.video.packetsLost = num(r.packetsLost);
          if (outbound && outbound.kind === "audio" && out.audio) out.audio.packetsLost = num(r.packetsLost);
        }
      }
      const rtt = roundTrip(reports);
      if (rtt !== void 0) out.rttMs = rtt;
      return out;
    }
    /** The streams we receive on the downlink, matched by track id. */
    async received(pc, trackToStream) {
      const reports = await collect(pc);
      const byStream = /* @__PURE__ */ new Map();
      const rtt = roundTrip(reports);
      for (const r of reports.values()) {
        if (r.type !== "inbound-rtp") continue;
        const streamId = trackToStream.get(String(r.trackIdentifier || ""));
        if (!streamId) continue;
        let s = byStream.get(streamId);
        if (!s) {
          s = { streamId, direction: "recv" };
          if (rtt !== void 0) s.rttMs = rtt;
          byStream.set(streamId, s);
        }
        const base = {
          bitrate: this.bitrate(r.id, num(r.bytesReceived), r.timestamp),
          packets: num(r.packetsReceived),
          packetsLost: num(r.packetsLost),
          codec: codecName(reports, r)
        };
        if (r.kind === "video") {
          const v = { ...base, frames: num(r.framesDecoded), framesPerSecond: num(r.framesPerSecond), width: num(r.frameWidth), height: num(r.frameHeight) };
          s.video = v;
        } else if (r.kind === "audio") {
          const a = { ...base, level: num(r.audioLevel) };
          s.audio = a;
        }
      }
      return Array.from(byStream.values());
    }
    bitrate(id, bytes, at) {
      const p = this.prev.get(id);
      this.prev.set(id, { bytes, at });
      if (!p || at <= p.at || bytes < p.bytes) return 0;
      return Math.round((bytes - p.bytes) * 8 * 1e3 / (at - p.at));
    }
  };
  async function collect(pc) {
    const out = /* @__PURE__ */ new Map();
    if (pc.connectionState === "closed") return out;
    const stats = await pc.getStats();
    stats.forEach((r) => out.set(r.id, r));
    return out;
  }
  function codecName(reports, r) {
    const c = reports.get(String(r.codecId || ""));
    const mime = c ? String(c.mimeType || "") : "";
    return mime.includes("/") ? mime.split("/")[1].toLowerCase() : mime.toLowerCase();
  }
  function roundTrip(reports) {
    for (const r of reports.values()) {
      if (r.type === "candidate-pair" && (r.nominated || r.state === "succeeded") && typeof r.currentRoundTripTime === "number") {
        return Math.round(r.currentRoundTripTime * 1e3);
      }
    }
    return void 0;
  }

  // src/client.ts
  var DEFAULTS = {
    requestTimeout: 1e4,
    connectTimeout: 1e4,
    reconnectTimeout: 12e4,
    iceGatheringTimeout: 1e3,
    subscribeTimeout: 1e4,
    statsInterval: 5e3,
    reportStats: true
  };
  var RTCClient = class extends Emitter {
    constructor(options) {
      super();
      this.state = new RoomState();
      this.session = null;
      this.iceServers = null;
      this.sampler = new StatsSampler();
      this.endError = null;
      const o = options || {};
      this.options = { ...DEFAULTS, ...stripUndefined(o), url: requireServerUrl(o.url) };
      this.ctx = {
        options: this.options,
        state: this.state,
        request: (op, data) => this.request(op, data),
        emit: (name, arg) => this.emit(name, arg),
        requireJoined: (op) => this.requireJoined(op),
        requireWebRTC: (op) => this.requireWebRTC(op),
        supportsWebRTC: () => this.supportsWebRTC(),
        isJoined: () => this.isJoined(),
        isConnected: () => this.getConnectionState() === "connected"
      };
      this.local = new LocalMedia(this.ctx);
      this.remote = new RemoteMedia(this.ctx);
    }
    // ---- room ----
    async join(token, roomId) {
      if (typeof token !== "string" || token === "") throw bad("token is required: the JWT your app server minted");
      requireId(roomId, "room id");
      if (this.session && this.session.active) throw fail(ErrorCode.ALREADY_JOINED, "already in room " + this.session.roomId + "; leave() first");
      const session = new Session(this.options.url, this.options, {
        onJoined: (data) => this.load(data),
        onEvent: (name, data) => this.onEvent(name, data),
        onRejoined: (data) => this.onRejoined(data),
        onState: (state, previous) => this.onState(state, previous),
        onEnded: (error) => this.onEnded(error)
      });
      this.session = session;
      await session.join(token, roomId);
      this.startStats();
      return {
        room: copy(this.state.room),
        self: copy(this.state.self),
        users: this.state.remoteUsers(),
        streams: this.state.remoteStreams()
      };
    }
    /** Leaves the room: closes every peer connection and releases camera and microphone. Safe to call twice. */
    async leave() {
      if (!this.session || !this.session.active) return;
      this.local.clear();
      this.remote.clear();
      await this.session.leave();
    }
    // ---- publishing ----
    publish(options) {
      return this.local.publish(options);
    }
    unpublish(tag) {
      return this.local.unpublish(tag);
    }
    openCamera() {
      return this.local.setCamera(true);
    }
    closeCamera() {
      return this.local.setCamera(false);
    }
    openMic() {
      return this.local.setMic(true);
    }
    closeMic() {
      return this.local.setMic(false);
    }
    /** False while you closed the camera, or the app server keeps it off. */
    isCameraOpen() {
      return this.local.cameraOn && !this.local.locked("video");
    }
    /** False while you closed the microphone, or the app server keeps it muted. */
    isMicOpen() {
      return this.local.micOn && !this.local.locked("audio");
    }
    /** True while the app server keeps your camera off (force_mute): openCamera() fails with 2006. */
    isCameraLocked() {
      return this.local.locked("video");
    }
    /** True while the app server keeps your microphone muted (force_mute): openMic() fails with 2006. */
    isMicLocked() {
      return this.local.locked("audio");
    }
    /** Your published stream of tag (default 'main'), with the MediaStream it sends. */
    getLocalStream(tag = "main") {
      return this.local.localStream(tag);
    }
    getLocalStreams() {
      return this.local.all();
    }
    // ---- subscribing ----
    /** Subscribes over WebRTC; resolves when each stream's MediaStream is ready. */
    subscribe(streamIds) {
      return this.remote.subscribe(streamIds);
    }
    unsubscribe(streamIds) {
      return this.remote.unsubscribe(streamIds);
    }
    /** The MediaStream of a subscribed remote stream, once ready. */
    getRemoteMediaStream(streamId) {
      return this.remote.mediaStream(streamId);
    }
    /** Mutes (or unmutes) a remote stream's audio on this page only. */
    muteRemoteStream(streamId, muted = true) {
      this.remote.muteRemoteStream(streamId, muted);
    }
    isRemoteStreamMuted(streamId) {
      return this.remote.isRemoteStreamMuted(streamId);
    }
    // ---- attributes and messages ----
    async setAttributes(attributes, options) {
      requireStringMap(attributes, "attributes");
      const notify = optionalNotify(options && options.notify);
      const data = await this.request("set_attributes", { attributes, notify });
      this.state.setAttributes(data.attributes);
      return { ...data.attributes };
    }
    async getAttributes(keys) {
      if (keys !== void 0) requireStringList(keys, "keys");
      const data = await this.request("get_attributes", { keys });
      return { ...data.attributes };
    }
    async deleteAttributes(keys, options) {
      requireStringList(keys, "keys");
      const notify = optionalNotify(options && options.notify);
      const data = await this.request("delete_attributes", { keys, notify });
      this.state.setAttributes(data.attributes);
      return { ...data.attributes };
    }
    /** Sends a message to the room or, with `to`, privately. Resolves with its id. */
    async sendMessage(name, content, options) {
      requireString(name, "message name");
      if (content !== void 0) requireString(content, "message content", true);
      const to = options && options.to;
      if (to !== void 0) {
        if (!Array.isArray(to)) throw bad("to must be an array of user ids");
        to.forEach((u) => requireId(u, "user id in to"));
      }
      const data = await this.request("send_message", { name, content: content || "", to });
      return data.message_id;
    }
    // ---- admin (tokens with the admin grant) ----
    async kick(userId, options) {
      requireId(userId, "user id");
      const o = options || {};
      if (o.banSeconds !== void 0 && (!Number.isInteger(o.banSeconds) || o.banSeconds < 0)) throw bad("banSeconds must be a whole number >= 0");
      if (o.reason !== void 0) requireString(o.reason, "reason", true);
      await this.request("kick", { user: userId, ban_seconds: o.banSeconds, reason: o.reason });
    }
    async closeRoom(reason) {
      if (reason !== void 0) requireString(reason, "reason", true);
      await this.request("close_room", { reason });
    }
    /** The server's view of live streams (get_stream_stats): bitrates in, players, ... */
    async getStreamStats(streamIds) {
      const streams = streamIds === void 0 ? void 0 : requireStreamIds(streamIds);
      const data = await this.request("get_stream_stats", { streams });
      return data.stats || [];
    }
    /** This browser's view: RTCPeerConnection.getStats() per stream sent and received. */
    async getStats() {
      const jobs = [];
      for (const s of this.local.all()) {
        const pub = this.local.publishers().find((p) => p.tag === s.tag);
        if (pub) jobs.push(this.sampler.sent(pub.pc, s.id, s.tag));
      }
      const down = this.remote.downlinkPc();
      if (down) jobs.push(this.sampler.received(down, this.remote.trackMap()));
      const results = await Promise.all(jobs);
      return results.flat();
    }
    // ---- getters ----
    isJoined() {
      return !!(this.session && this.session.active);
    }
    getConnectionState() {
      return this.session ? this.session.state : "disconnected";
    }
    getRoom() {
      return this.isJoined() && this.state.room ? copy(this.state.room) : null;
    }
    getSelf() {
      return this.isJoined() && this.state.self ? copy(this.state.self) : null;
    }
    getRemoteUsers() {
      return this.state.remoteUsers();
    }
    getRemoteUser(userId) {
      return this.state.remoteUsers().find((u) => u.userId === userId) || null;
    }
    getRemoteStreams(userId) {
      return this.state.remoteStreams(userId);
    }
    /** False when the server (its join answer has no `webrtc`) or the browser cannot do WebRTC. */
    supportsWebRTC() {
      return hasWebRTC() && this.iceServers !== null;
    }
    // ---- internals ----
    requireJoined(op) {
      if (!this.isJoined()) throw fail(ErrorCode.NOT_JOINED, op + ": join a room first");
    }
    requireWebRTC(op) {
      if (!hasWebRTC()) throw fail(ErrorCode.NOT_SUPPORTED, op + ": this browser has no RTCPeerConnection");
      if (!this.iceServers) throw fail(ErrorCode.NOT_SUPPORTED, op + ": the server does not take WebRTC (its join answer has no webrtc)");
      return this.iceServers;
    }
    request(op, data) {
      if (!this.session || !this.isJoined()) return Promise.reject(fail(ErrorCode.NOT_JOINED, op + ": join a room first"));
      return this.session.request(op, data);
    }
    load(data) {
      this.state.load(data);
      this.iceServers = data.webrtc ? data.webrtc.ice_servers || [] : null;
    }
    onEvent(name, data) {
      if (name === "webrtc_offer" || name === "webrtc_closed") {
        try {
          if (name === "webrtc_offer") this.remote.onOffer(data);
          else this.onWebRTCClosed(data);
        } catch (err) {
          this.emit("error", rtcFailure(name, err));
        }
        return;
      }
      if (name === "force_mute") {
        const out2 = this.local.onForceMute(data);
        if (out2) this.emit("forceMute", out2);
        return;
      }
      if (name === "participant_updated") this.onParticipantUpdated(data);
      if (name === "stream_unpublished") {
        const s = data.stream;
        this.remote.onStreamGone(s.id);
        if (this.state.isOwn(s)) this.local.onOwnStreamEnded(s.id);
      } else if (name === "user_left") {
        for (const s of this.state.remoteStreams(String(data.user_id))) this.remote.onStreamGone(s.id);
      }
      const out = this.state.apply(name, data);
      const own = !!data.stream && this.state.isOwn(data.stream);
      if (out && !own) this.emit(out[0], out[1]);
    }
    // A grant the app server took from us is gone on the server already
    // (protocol.md participant_updated): our streams were unpublished, our
    // subscriptions ended. Close what is left on this side to match.
    onParticipantUpdated(ev) {
      const self = this.state.self;
      const grants = ev.user && ev.user.grants;
      if (!self || !grants || ev.user.user_id !== self.userId) return;
      const had = self.grants || [];
      const lost = (g) => had.includes(g) && !grants.includes(g);
      if (lost("publish")) this.local.onPublishRevoked();
      if (lost("subscribe")) this.remote.onSubscribeRevoked();
    }
    onWebRTCClosed(ev) {
      if (ev.target === DOWNLINK) this.remote.onClosed(ev.reason || "");
      else this.local.onClosed(ev.target, ev.reason || "");
    }
    // The old session is gone and a new one joined: tell the page what changed
    // while it was away, then publish and subscribe again (the server closed
    // every peer connection of the old session).
    onRejoined(data) {
      const before = { users: this.state.users, streams: this.state.streams };
      this.load(data);
      const after = this.state;
      const selfId = after.self.userId;
      for (const [id, s] of before.streams) {
        if (after.streams.has(id)) continue;
        this.remote.onStreamGone(id);
        if (s.userId !== selfId) this.emit("streamUnpublished", copy(s));
      }
      for (const id of before.users.keys()) if (!after.users.has(id)) this.emit("userLeft", { userId: id, reason: "timeout" });
      for (const [id, u] of after.users) if (!before.users.has(id)) this.emit("userJoined", copy(u));
      for (const [id, s] of after.streams) if (!before.streams.has(id) && s.userId !== selfId) this.emit("streamPublished", copy(s));
      this.local.republishAll();
      this.remote.resubscribeAll("joined again");
    }
    onState(state, previous) {
      const change = { state, previous };
      if (state === "disconnected" && this.endError) change.error = this.endError;
      this.endError = null;
      this.emit("connectionStateChanged", change);
    }
    // The session is over (left, kicked, replaced, room closed, gave up).
    onEnded(error) {
      clearInterval(this.statsTimer);
      this.local.clear();
      this.remote.clear();
      this.state.reset();
      this.iceServers = null;
      this.endError = error;
    }
    startStats() {
      clearInterval(this.statsTimer);
      if (!(this.options.statsInterval > 0)) return;
      this.statsTimer = setInterval(() => void this.sampleStats(), this.options.statsInterval);
    }
    async sampleStats() {
      if (!this.local.publishers().length && !this.remote.downlinkPc()) return;
      let stats;
      try {
        stats = await this.getStats();
      } catch (err) {
        console.warn("[minirtc] getStats failed", err);
        return;
      }
      if (!stats.length) return;
      this.emit("stats", stats);
      if (!this.options.reportStats || this.getConnectionState() !== "connected") return;
      for (const s of stats) {
        this.request("report", { kind: "webrtc_" + s.direction, stream: s.streamId, data: s }).catch(() => {
        });
      }
    }
  };
  function stripUndefined(o) {
    const out = {};
    for (const [k, val] of Object.entries(o)) if (val !== void 0) out[k] = val;
    return out;
  }

  // src/index.ts
  var VERSION = true ? "0.1.0" : "dev";
  var Events = {
    USER_JOINED: "userJoined",
    USER_LEFT: "userLeft",
    STREAM_PUBLISHED: "streamPublished",
    STREAM_UNPUBLISHED: "streamUnpublished",
    STREAM_STATE_CHANGED: "streamStateChanged",
    ATTRIBUTES_CHANGED: "attributesChanged",
    MESSAGE: "message",
    KICKED_OFF: "kickedOff",
    ROOM_CLOSED: "roomClosed",
    CONNECTION_STATE_CHANGED: "connectionStateChanged",
    TRACK: "track",
    REMOTE_STREAM: "remoteStream",
    STATS: "stats",
    STREAM_REPUBLISHED: "streamRepublished",
    STREAM_RESUBSCRIBED: "streamResubscribed",
    LOCAL_STREAM_ENDED: "localStreamEnded",
    PARTICIPANT_UPDATED: "participantUpdated",
    FORCE_MUTE: "forceMute",
    ERROR: "error"
  };
  return __toCommonJS(index_exports);
})();
//# sourceMappingURL=minirtc.js.map

// The minirtc browser demo: join a room, publish camera and microphone (and
// the screen on demand), and play everyone else's streams. Plain JavaScript
// on the IIFE bundle (global MiniRTC), no framework.
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var form = $('join');
  var client = null;
  var tiles = {}; // stream id (or "local:<tag>") -> tile element

  // Default server: this page's own origin, which serves /ws too.
  form.url.value = (location.protocol === 'https:' ? 'wss://' : 'ws://') + (location.host || 'localhost:7880') + '/ws';
  form.user.value = 'user' + Math.floor(Math.random() * 10000);

  function log(text) {
    var line = new Date().toISOString().slice(11, 23) + ' ' + text + '\n';
    $('log').textContent = (line + $('log').textContent).slice(0, 20000);
  }

  function status(text, isError) {
    $('status').textContent = text;
    $('status').className = isError ? 'error' : '';
  }

  function failed(what) {
    return function (err) {
      status(what + ' failed: ' + (err.code ? err.code + ' ' : '') + err.message, true);
      log('error ' + what + ': ' + (err.code || '') + ' ' + err.message);
    };
  }

  function setJoined(joined) {
    ['camera', 'mic', 'screen', 'leave'].forEach(function (id) { $(id).disabled = !joined; });
    $('joinBtn').disabled = joined;
    $('mint').disabled = joined;
  }

  // ---- tiles ----

  function tile(key, label, stream, isLocal) {
    var t = tiles[key];
    if (!t) {
      t = document.createElement('div');
      t.className = 'tile';
      var video = document.createElement('video');
      video.autoplay = true;
      video.playsInline = true;
      video.muted = !!isLocal; // never play your own microphone back
      var name = document.createElement('span');
      name.className = 'name';
      t.appendChild(video);
      t.appendChild(name);
      $('grid').appendChild(t);
      tiles[key] = t;
    }
    t.querySelector('.name').textContent = label;
    var v = t.querySelector('video');
    if (v.srcObject !== stream) v.srcObject = stream;
    v.play().catch(function () {});
  }

  function removeTile(key) {
    var t = tiles[key];
    if (!t) return;
    t.querySelector('video').srcObject = null;
    t.remove();
    delete tiles[key];
  }

  function labelOf(s) {
    return s.userId + ' (' + s.tag + ')' + (s.audioMuted ? ' 🔇' : '') + (s.videoDisabled ? ' 📷✕' : '');
  }

  // ---- the room ----

  function watch(c) {
    c.on('connectionStateChanged', function (e) {
      log('connection ' + e.previous + ' → ' + e.state + (e.error ? ' (' + e.error.code + ' ' + e.error.message + ')' : ''));
      status(e.state + (e.error ? ': ' + e.error.message : ''), !!e.error);
      if (e.state === 'disconnected') {
        Object.keys(tiles).forEach(removeTile);
        setJoined(false);
      }
    });
    c.on('userJoined', function (u) { log(u.userId + ' joined'); });
    c.on('userLeft', function (e) { log(e.userId + ' left (' + e.reason + ')'); });
    c.on('streamPublished', function (s) {
      log(s.id + ' is live');
      c.subscribe(s.id).catch(failed('subscribe ' + s.id));
    });
    c.on('remoteStream', function (e) {
      var s = c.getRemoteStreams().filter(function (x) { return x.id === e.streamId; })[0];
      tile(e.streamId, s ? labelOf(s) : e.streamId, e.stream, false);
    });
    c.on('streamStateChanged', function (s) {
      if (tiles[s.id]) tiles[s.id].querySelector('.name').textContent = labelOf(s);
    });
    c.on('streamUnpublished', function (s) {
      log(s.id + ' ended');
      removeTile(s.id);
    });
    c.on('message', function (m) { log('message from ' + m.from + ': ' + m.name + ' ' + m.content); });
    c.on('kickedOff', function (e) { log('kicked off: ' + e.reason + ' ' + e.message); });
    c.on('roomClosed', function () { log('room closed'); });
    c.on('streamRepublished', function (e) { log('published ' + e.id + ' again: ' + e.reason); });
    c.on('streamResubscribed', function (e) { log('subscribed to ' + e.streamId + ' again: ' + e.reason); });
    c.on('localStreamEnded', function (e) {
      removeTile('local:' + e.tag);
      if (e.tag === 'screen') $('screen').textContent = 'share screen';
    });
    c.on('error', function (err) { log('error ' + err.code + ': ' + err.message); });
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    try {
      client = new MiniRTC.RTCClient({ url: form.url.value.trim() });
    } catch (err) {
      failed('join')(err);
      return;
    }
    watch(client);
    var c = client;
    status('joining…');
    c.join(form.token.value.trim(), form.room.value.trim())
      .then(function (res) {
        setJoined(true);
        status('in room ' + res.room.id + ' as ' + res.self.userId);
        res.streams.forEach(function (s) { c.subscribe(s.id).catch(failed('subscribe ' + s.id)); });
        return c.publish().then(function (local) {
          tile('local:main', 'you (' + local.id + ')', local.stream, true);
        }, failed('publish'));
      })
      .catch(failed('join'));
  });

  // Development servers mint tokens for the demo; others answer an error.
  $('mint').addEventListener('click', function () {
    var httpBase = form.url.value.trim().replace(/^ws/, 'http').replace(/\/ws$/, '');
    fetch(httpBase + '/demo/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: form.user.value.trim(), room: form.room.value.trim() }),
    })
      .then(function (res) {
        return res.text().then(function (text) {
          if (!res.ok) throw new Error('HTTP ' + res.status + ': ' + (text || res.statusText));
          var body;
          try { body = JSON.parse(text); } catch (e) { body = { token: text.trim() }; }
          if (!body.token) throw new Error('no token in the answer: ' + text.slice(0, 200));
          form.token.value = body.token;
          status('token minted for ' + form.user.value);
        });
      })
      .catch(function (err) { status('mint a token: ' + err.message, true); });
  });

  $('camera').addEventListener('click', function () {
    var on = !client.isCameraOpen();
    (on ? client.openCamera() : client.closeCamera()).then(function () {
      $('camera').textContent = on ? 'camera on' : 'camera off';
      $('camera').className = on ? '' : 'off';
    }, failed('camera'));
  });

  $('mic').addEventListener('click', function () {
    var on = !client.isMicOpen();
    (on ? client.openMic() : client.closeMic()).then(function () {
      $('mic').textContent = on ? 'mic on' : 'mic off';
      $('mic').className = on ? '' : 'off';
    }, failed('mic'));
  });

  $('screen').addEventListener('click', function () {
    if (client.getLocalStream('screen')) {
      client.unpublish('screen').catch(failed('stop sharing'));
      removeTile('local:screen');
      $('screen').textContent = 'share screen';
      return;
    }
    client.publish({ tag: 'screen', source: 'screen' }).then(function (local) {
      tile('local:screen', 'your screen', local.stream, true);
      $('screen').textContent = 'stop sharing';
    }, failed('share screen'));
  });

  $('leave').addEventListener('click', function () {
    client.leave().then(function () {
      status('left the room');
    });
  });
})();

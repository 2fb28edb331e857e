'use strict';

const { RTCClient } = require('./client');
const { ErrorCode, MiniRTCError } = require('./errors');
const { setPlatform } = require('./platform');

// Names of the events an RTCClient emits (client.on(Events.MESSAGE, fn)).
const Events = {
  USER_JOINED: 'userJoined',
  USER_LEFT: 'userLeft',
  STREAM_PUBLISHED: 'streamPublished',
  STREAM_UNPUBLISHED: 'streamUnpublished',
  STREAM_STATE_CHANGED: 'streamStateChanged',
  ATTRIBUTES_CHANGED: 'attributesChanged',
  MESSAGE: 'message',
  KICKED_OFF: 'kickedOff',
  ROOM_CLOSED: 'roomClosed',
  CONNECTION_STATE_CHANGED: 'connectionStateChanged',
  STATS: 'stats',
  VOLUME: 'volume',
  STREAM_REPUBLISHED: 'streamRepublished',
  STREAM_RESUBSCRIBED: 'streamResubscribed',
  PARTICIPANT_UPDATED: 'participantUpdated',
  FORCE_MUTE: 'forceMute',
  ERROR: 'error',
};

module.exports = { RTCClient, MiniRTCError, ErrorCode, Events, setPlatform };

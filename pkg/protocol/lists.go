package protocol

// Ops lists every operation of this protocol version: each Op* constant, in
// the order they are declared in ops.go. Tests check it against those
// declarations and check that docs/protocol.md documents each one, so adding
// an operation means adding it here and to the document.
var Ops = []string{
	OpJoin,
	OpResume,
	OpLeave,
	OpPing,
	OpPublish,
	OpUnpublish,
	OpSubscribe,
	OpUnsubscribe,
	OpMute,
	OpSetAttributes,
	OpGetAttributes,
	OpDeleteAttributes,
	OpSendMessage,
	OpReport,
	OpKick,
	OpCloseRoom, OpGetStreamStats,
	OpWebRTCAnswer,
	OpWebRTCCandidate,
}

// Events lists every event the server sends: each Ev* constant, in the order
// they are declared in events.go. Like Ops, it is checked against the
// declarations and against docs/protocol.md.
var Events = []string{
	EvUserJoined,
	EvUserLeft,
	EvStreamPublished,
	EvStreamUnpublished,
	EvStreamStateChanged,
	EvAttributesChanged,
	EvMessage,
	EvKickedOff,
	EvRoomClosed,
	EvGoingAway,
	EvWebRTCOffer,
	EvWebRTCClosed,
	EvParticipantUpdated,
	EvForceMute,
}

package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// mediaGlue binds the media hub to the rooms, in both directions: it admits
// pushes and plays (signed URL + room state), tells rooms when streams go
// live or end (media.Hooks), cuts connections when rooms withdraw streams
// (room.MediaPlane), and signs URLs for the signalling layer.
type mediaGlue struct {
	hub    *media.Hub
	rooms  *room.Manager
	verify *auth.Verifier
	apps   auth.AppLookup
	urls   urlBases
	ttl    struct{ push, play time.Duration }
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	ingests map[media.Key]*room.Member // pseudo-participants of external encoders
	// revoked refuses ingest URLs revoked through the REST API (apiglue.go).
	revoked ingestRevocations
}

// urlBases are the scheme://host:port parts of media URLs.
type urlBases struct {
	rtmp string // "rtmp://host:1935"
	flv  string // "http://host:7880"
}

// --- media.Admission ---

func (g *mediaGlue) verifyURL(ctx context.Context, t media.Target) (auth.MediaGrant, bool, error) {
	grant, err := g.verify.VerifyMedia(ctx, t.Path, t.Query)
	switch {
	case err == nil:
		return grant, false, nil
	case errors.Is(err, auth.ErrMediaExpired):
		return grant, true, nil
	case errors.Is(err, auth.ErrMediaMalformed):
		return grant, false, media.Refuse(media.ReasonMalformed, err.Error())
	case errors.Is(err, auth.ErrMediaSignature):
		return grant, false, media.Refuse(media.ReasonBadSignature, err.Error())
	case errors.Is(err, auth.ErrUnknownApp):
		return grant, false, media.Refuse(media.ReasonUnknownApp, err.Error())
	default:
		return grant, false, fmt.Errorf("verifying a media URL: %w", err)
	}
}

func (g *mediaGlue) AdmitPush(ctx context.Context, t media.Target) (media.PushTicket, error) {
	grant, expired, err := g.verifyURL(ctx, t)
	if err != nil {
		return media.PushTicket{}, err
	}
	key := media.Key{App: grant.App, Room: grant.Room, Stream: grant.Stream}
	tk := media.PushTicket{Key: key, User: grant.User}
	switch grant.Action {
	case auth.ActionPush:
		check, err := g.rooms.CheckPush(grant.App, grant.Room, grant.User, grant.Stream)
		if err != nil {
			return tk, refusalFromRoom(err)
		}
		if expired && !check.Live {
			return tk, media.Refuse(media.ReasonExpired, fmt.Sprintf("push URL expired at %s; publish again for a new one", grant.Expires.UTC().Format(time.RFC3339)))
		}
		tk.Video, tk.Audio = check.Media.HasVideo(), check.Media.HasAudio()
		return tk, nil
	case auth.ActionIngest:
		return g.admitIngest(ctx, grant, expired)
	default:
		return tk, media.Refuse(media.ReasonWrongAction, fmt.Sprintf("a %q URL cannot push", grant.Action))
	}
}

// admitIngest joins an external encoder's user as a pseudo-participant that
// publishes the stream (or takes back the stream it already publishes, for a
// reconnect within the grace).
func (g *mediaGlue) admitIngest(ctx context.Context, grant auth.MediaGrant, expired bool) (media.PushTicket, error) {
	key := media.Key{App: grant.App, Room: grant.Room, Stream: grant.Stream}
	tk := media.PushTicket{Key: key, User: grant.User, Video: true, Audio: true}
	if err := g.refuseRevoked(ctx, grant); err != nil { // apiglue.go
		return tk, err
	}
	g.mu.Lock()
	existing := g.ingests[key]
	g.mu.Unlock()
	if existing != nil && existing.Present() {
		return tk, nil // a reconnect; the hub decides whether the old push is stale
	}
	if expired {
		return tk, media.Refuse(media.ReasonExpired, fmt.Sprintf("ingest URL expired at %s", grant.Expires.UTC().Format(time.RFC3339)))
	}
	tag, ok := grant.Stream.Owns(grant.User)
	if !ok || tag.Validate() != nil {
		return tk, media.Refuse(media.ReasonMalformed, fmt.Sprintf("stream %s does not belong to user %s", grant.Stream, grant.User))
	}
	if g.rooms.IsMember(grant.App, grant.Room, grant.User) {
		return tk, media.Refuse(media.ReasonUserPresent, fmt.Sprintf("user %s is in room %s; ingest as a user of its own", grant.User, grant.Room))
	}
	joined, err := g.rooms.Join(ctx, room.Identity{App: grant.App, User: grant.User, Name: "ingest", Grants: room.GrantPublish}, grant.Room, discardSink{})
	if err != nil {
		return tk, refusalFromRoom(err)
	}
	if _, err := joined.Member.Publish(tag, protocol.MediaAudioVideo); err != nil {
		joined.Member.Leave(protocol.ReasonLeft)
		return tk, refusalFromRoom(err)
	}
	g.mu.Lock()
	g.ingests[key] = joined.Member
	g.mu.Unlock()
	g.log.Info("ingest joined the room", "app", grant.App, "room", grant.Room, "user", grant.User, "stream", grant.Stream)
	return tk, nil
}

func (g *mediaGlue) AdmitPlay(ctx context.Context, t media.Target) (media.PlayTicket, error) {
	grant, expired, err := g.verifyURL(ctx, t)
	if err != nil {
		return media.PlayTicket{}, err
	}
	tk := media.PlayTicket{Key: media.Key{App: grant.App, Room: grant.Room, Stream: grant.Stream}, Viewer: grant.User}
	if expired {
		return tk, media.Refuse(media.ReasonExpired, fmt.Sprintf("play URL expired at %s; subscribe again for a new one", grant.Expires.UTC().Format(time.RFC3339)))
	}
	switch grant.Action {
	case auth.ActionPlay:
		if !g.rooms.IsMember(grant.App, grant.Room, grant.User) {
			return tk, media.Refuse(media.ReasonNotMember, fmt.Sprintf("user %s is not in room %s", grant.User, grant.Room))
		}
		if !g.rooms.IsSubscribed(grant.App, grant.Room, grant.User, grant.Stream) {
			return tk, media.Refuse(media.ReasonNotSubscribed, fmt.Sprintf("user %s is not subscribed to %s; subscribe again", grant.User, grant.Stream))
		}
	case auth.ActionView:
	default:
		return tk, media.Refuse(media.ReasonWrongAction, fmt.Sprintf("a %q URL cannot play", grant.Action))
	}
	return tk, nil
}

func refusalFromRoom(err error) error {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case protocol.CodeNotJoined, protocol.CodeRoomClosed:
		return media.Refuse(media.ReasonNotMember, pe.Msg)
	case protocol.CodeStreamNotFound:
		return media.Refuse(media.ReasonNotPublished, pe.Msg)
	case protocol.CodeBanned:
		return media.Refuse(media.ReasonNotMember, pe.Msg)
	case protocol.CodeRoomFull, protocol.CodeTooManyStreams:
		return media.Refuse(media.ReasonLimit, pe.Msg)
	case protocol.CodeStreamExists:
		return media.Refuse(media.ReasonBusy, pe.Msg)
	}
	return media.Refuse(media.ReasonUnavailable, pe.Msg)
}

// --- media.Hooks ---

func (g *mediaGlue) Live(k media.Key, _ ids.UserID, info media.Info) {
	v, a := protocolInfo(info)
	if err := g.rooms.StreamLive(k.App, k.Room, k.Stream, v, a); err != nil {
		g.log.Info("media: live stream no longer published; closing it", "stream", k.String(), "err", err)
		g.hub.Close(k)
	}
}

func (g *mediaGlue) Ended(k media.Key, _ ids.UserID) {
	g.rooms.StreamEnded(k.App, k.Room, k.Stream)
	g.mu.Lock()
	m := g.ingests[k]
	delete(g.ingests, k)
	g.mu.Unlock()
	if m != nil {
		m.Leave(protocol.ReasonLeft)
		g.log.Info("ingest left the room", "stream", k.String())
	}
}

func protocolInfo(info media.Info) (*protocol.VideoInfo, *protocol.AudioInfo) {
	var v *protocol.VideoInfo
	var a *protocol.AudioInfo
	if i := info.Video; i != nil {
		v = &protocol.VideoInfo{Codec: i.Codec.String(), Width: i.Width, Height: i.Height, FPS: i.FPS}
	}
	if i := info.Audio; i != nil {
		a = &protocol.AudioInfo{Codec: i.Codec.String(), SampleRate: i.SampleRate, Channels: i.Channels}
	}
	return v, a
}

// --- room.MediaPlane (called with a room lock held: only the hub) ---

func (g *mediaGlue) StreamRemoved(app ids.AppID, roomID ids.RoomID, sid ids.StreamID) {
	g.hub.Close(media.Key{App: app, Room: roomID, Stream: sid})
}

func (g *mediaGlue) ViewerGone(app ids.AppID, roomID ids.RoomID, user ids.UserID, streams []ids.StreamID) {
	if streams == nil {
		g.hub.CloseViewer(media.Key{App: app, Room: roomID}, user)
		return
	}
	for _, sid := range streams {
		g.hub.CloseViewer(media.Key{App: app, Room: roomID, Stream: sid}, user)
	}
}

// --- signal.MediaURLs ---

func (g *mediaGlue) secret(ctx context.Context, app ids.AppID) (string, error) {
	a, err := g.apps.GetApp(ctx, app)
	if err != nil {
		return "", err
	}
	return a.Secret, nil
}

// PushURL signs an RTMP push URL for a participant's stream.
func (g *mediaGlue) PushURL(ctx context.Context, app ids.AppID, roomID ids.RoomID, sid ids.StreamID, user ids.UserID) (string, time.Time, error) {
	return g.sign(ctx, auth.MediaGrant{Action: auth.ActionPush, App: app, Room: roomID, Stream: sid, User: user, Expires: g.now().Add(g.ttl.push)})
}

// CheckPlayURLs refuses streams whose video RTMP and FLV cannot carry.
func (g *mediaGlue) CheckPlayURLs(app ids.AppID, roomID ids.RoomID, streams []ids.StreamID) error {
	for _, st := range g.hub.Stats(app, roomID, streams...) {
		if v := st.Info.Video; v != nil && !slices.Contains(media.FLVVideoCodecs, v.Codec) {
			return protocol.Errorf(protocol.CodeCodec, "stream %s is %s video, which RTMP and FLV players cannot play; subscribe with transport %q", st.Key.Stream, v.Codec, protocol.TransportWebRTC)
		}
	}
	return nil
}

// PlayURLs signs RTMP and FLV play URLs of a stream for a subscriber.
func (g *mediaGlue) PlayURLs(ctx context.Context, app ids.AppID, roomID ids.RoomID, sid ids.StreamID, viewer ids.UserID) (protocol.PlayURLs, error) {
	return g.playURLs(ctx, auth.MediaGrant{Action: auth.ActionPlay, App: app, Room: roomID, Stream: sid, User: viewer, Expires: g.now().Add(g.ttl.play)})
}

func (g *mediaGlue) playURLs(ctx context.Context, grant auth.MediaGrant) (protocol.PlayURLs, error) {
	secret, err := g.secret(ctx, grant.App)
	if err != nil {
		return protocol.PlayURLs{}, err
	}
	return PlayURLsFor(g.urls.rtmp, g.urls.flv, secret, grant), nil
}

func (g *mediaGlue) sign(ctx context.Context, grant auth.MediaGrant) (string, time.Time, error) {
	secret, err := g.secret(ctx, grant.App)
	if err != nil {
		return "", time.Time{}, err
	}
	return PushURLFor(g.urls.rtmp, secret, grant), grant.Expires.Truncate(time.Second), nil
}

// PushURLFor builds a signed RTMP push (or ingest) URL on base
// ("rtmp://host:port").
func PushURLFor(base, secret string, grant auth.MediaGrant) string {
	return strings.TrimRight(base, "/") + grant.Path() + "?" + auth.SignMedia(secret, grant)
}

// PlayURLsFor builds signed RTMP and HTTP-FLV play URLs.
func PlayURLsFor(rtmpBase, flvBase, secret string, grant auth.MediaGrant) protocol.PlayURLs {
	q := auth.SignMedia(secret, grant)
	return protocol.PlayURLs{
		RTMP:      strings.TrimRight(rtmpBase, "/") + grant.Path() + "?" + q,
		FLV:       strings.TrimRight(flvBase, "/") + "/flv" + grant.Path() + ".flv?" + q,
		ExpiresAt: grant.Expires.Truncate(time.Second).UnixMilli(),
	}
}

// StreamStats converts the hub's stats for the protocol.
func (g *mediaGlue) StreamStats(app ids.AppID, roomID ids.RoomID, streams []ids.StreamID) []protocol.StreamStats {
	all := g.hub.Stats(app, roomID, streams...)
	out := make([]protocol.StreamStats, 0, len(all))
	for _, st := range all {
		v, a := protocolInfo(st.Info)
		readers := make(map[string]int, len(st.Readers))
		for p, n := range st.Readers {
			readers[string(p)] = n
		}
		out = append(out, protocol.StreamStats{Stream: st.Key.Stream, Video: v, Audio: a, BitrateIn: st.BitrateIn, BitrateOut: st.BitrateOut,
			FPS: st.FPS, GOPFrames: st.GOPFrames, GOPMs: st.GOPMillis, Readers: readers, Dropped: st.Dropped, Pushing: st.Pushing})
	}
	return out
}

// discardSink is the event sink of ingest pseudo-participants: an encoder
// has nobody to tell.
type discardSink struct{}

func (discardSink) Deliver(*room.Event) {}
func (discardSink) Removed()            {}

// mediaBases makes the URL bases from config and listen addresses.
func mediaBases(publicRTMP, publicFLV, host, rtmpPort, httpPort string, tls bool) urlBases {
	b := urlBases{rtmp: publicRTMP, flv: publicFLV}
	if b.rtmp == "" {
		b.rtmp = (&url.URL{Scheme: "rtmp", Host: net.JoinHostPort(host, rtmpPort)}).String()
	}
	if b.flv == "" {
		scheme := "http"
		if tls {
			scheme = "https"
		}
		b.flv = (&url.URL{Scheme: scheme, Host: net.JoinHostPort(host, httpPort)}).String()
	}
	return b
}

// MediaBases are the RTMP and FLV URL bases a server with cfg hands out,
// made from the configured listen ports (for the CLI, which signs URLs
// without a running server).
func MediaBases(cfg config.Config) (rtmpBase, flvBase string) {
	port := func(addr string) string {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			return addr
		}
		return p
	}
	b := mediaBases(cfg.Media.PublicRTMPURL, cfg.Media.PublicFLVURL, cfg.Host, port(cfg.RTMP), port(cfg.HTTP), cfg.TLS.Enabled())
	return b.rtmp, b.flv
}

package webrtc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// closedState collects the final OnState call.
type closedState struct {
	ch chan error
}

func watchClosed(p *Peer) closedState {
	c := closedState{ch: make(chan error, 1)}
	p.OnState(func(s webrtc.PeerConnectionState, err error) {
		if s == webrtc.PeerConnectionStateClosed {
			c.ch <- err
		}
	})
	return c
}

func (c closedState) wait(t *testing.T, p *Peer, within time.Duration) error {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(within):
		t.Fatalf("peer not done after %s", within)
	}
	select {
	case err := <-c.ch:
		if err != p.Err() {
			t.Errorf("OnState(closed) err %v, Err() %v", err, p.Err())
		}
	default:
		t.Error("no OnState(closed)")
	}
	return p.Err()
}

// TestConnectTimeout: ICE that never connects closes the peer after
// ConnectTimeout with ErrConnectTimeout, through Done, Err and OnState.
func TestConnectTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.ConnectTimeout = 700 * time.Millisecond
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, p *Peer)
	}{
		{"no answer applied", func(t *testing.T, p *Peer) {
			// The client keeps its offer pending: it never starts ICE.
			c := newClient(t, false)
			if _, err := c.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Answer(clientOffer(t, c)); err != nil {
				t.Fatal(err)
			}
		}},
		{"unreachable client", func(t *testing.T, p *Peer) {
			// The client's candidates point at sockets closed before the
			// server answers.
			c := newClient(t, false)
			if _, err := c.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo); err != nil {
				t.Fatal(err)
			}
			offer := clientOffer(t, c)
			if err := c.GracefulClose(); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Answer(offer); err != nil {
				t.Fatal(err)
			}
		}},
		{"never negotiated", func(*testing.T, *Peer) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, cfg)
			p := newPeer(t, e, "timeout")
			closed := watchClosed(p)
			start := time.Now()
			tc.setup(t, p)
			err := closed.wait(t, p, 5*time.Second)
			took := time.Since(start)
			if !errors.Is(err, ErrConnectTimeout) {
				t.Fatalf("Err() = %v, want ErrConnectTimeout", err)
			}
			if took < cfg.ConnectTimeout-50*time.Millisecond {
				t.Errorf("closed after %s, before the %s timeout", took, cfg.ConnectTimeout)
			}
			t.Logf("closed after %s: %v", took.Round(time.Millisecond), err)
			if n := e.Peers(); n != 0 {
				t.Errorf("engine still counts %d peers", n)
			}
			if _, err := p.Answer("v=0"); !errors.Is(err, ErrConnectTimeout) {
				t.Errorf("Answer on a closed peer: %v", err)
			}
		})
	}
}

// TestConnectedPeerOutlivesTimeout: the timeout only applies until connected.
func TestConnectedPeerOutlivesTimeout(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.ConnectTimeout = 500 * time.Millisecond
	e := newEngine(t, cfg)
	p := newPeer(t, e, "ok")
	c := newClient(t, false)
	if _, err := c.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	connect(t, c, p)
	waitConnected(t, c, 5*time.Second)
	select {
	case <-p.Done():
		t.Fatalf("connected peer closed: %v", p.Err())
	case <-time.After(2 * cfg.ConnectTimeout):
	}
}

// TestClientCloses: the client ending the connection closes the peer.
func TestClientCloses(t *testing.T) {
	t.Parallel()
	e := newEngine(t, testConfig())
	p := newPeer(t, e, "bye")
	closed := watchClosed(p)
	c := newClient(t, false)
	if _, err := c.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	connect(t, c, p)
	waitConnected(t, c, 5*time.Second)
	_ = c.GracefulClose()
	if err := closed.wait(t, p, 10*time.Second); !errors.Is(err, ErrRemoteClosed) {
		t.Fatalf("Err() = %v, want ErrRemoteClosed (DTLS close_notify)", err)
	}
}

func TestContextCancelClosesPeer(t *testing.T) {
	t.Parallel()
	e := newEngine(t, testConfig())
	ctx, cancel := context.WithCancel(context.Background())
	p, err := e.NewPeer(ctx, PeerOptions{ID: "ctx"})
	if err != nil {
		t.Fatal(err)
	}
	closed := watchClosed(p)
	cancel()
	if err := closed.wait(t, p, 5*time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err() = %v, want context.Canceled", err)
	}
	if _, err := e.NewPeer(ctx, PeerOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("NewPeer with a done context: %v", err)
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEngine(t, testConfig())
	p := newPeer(t, e, "close")
	closed := watchClosed(p)
	if p.Err() != nil {
		t.Fatalf("open peer Err() = %v", p.Err())
	}
	p.Close()
	p.Close()
	if err := closed.wait(t, p, 5*time.Second); !errors.Is(err, ErrPeerClosed) {
		t.Fatalf("Err() = %v", err)
	}
	if _, err := p.AddTrack(OpusCodec(), "a", "s"); !errors.Is(err, ErrPeerClosed) {
		t.Fatalf("AddTrack after Close: %v", err)
	}
	if _, err := p.Offer(); !errors.Is(err, ErrPeerClosed) {
		t.Fatalf("Offer after Close: %v", err)
	}
}

func TestMaxPeers(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxPeers = 2
	e := newEngine(t, cfg)
	a := newPeer(t, e, "a")
	newPeer(t, e, "b")
	_, err := e.NewPeer(context.Background(), PeerOptions{ID: "c"})
	if !errors.Is(err, ErrTooManyPeers) || !strings.Contains(err.Error(), "2") {
		t.Fatalf("third peer: %v, want ErrTooManyPeers naming the limit", err)
	}
	a.Close()
	<-a.Done()
	newPeer(t, e, "c")
}

// TestEngineClose closes open peers with ErrEngineClosed and refuses new ones.
func TestEngineClose(t *testing.T) {
	t.Parallel()
	e, err := New(testConfig(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.NewPeer(context.Background(), PeerOptions{ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, false)
	if _, err := c.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	connect(t, c, p)
	waitConnected(t, c, 5*time.Second)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Engine.Close returned before its peers were done")
	}
	if !errors.Is(p.Err(), ErrEngineClosed) {
		t.Fatalf("peer Err() = %v", p.Err())
	}
	if _, err := e.NewPeer(context.Background(), PeerOptions{}); !errors.Is(err, ErrEngineClosed) {
		t.Fatalf("NewPeer after Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestCloseFromCallbacks: callbacks run on the peer's own goroutine, so
// closing from them does not deadlock.
func TestCloseFromCallbacks(t *testing.T) {
	t.Parallel()
	e := newEngine(t, testConfig())
	p := newPeer(t, e, "self-close")
	p.OnLocalCandidate(func(string) { p.Close() })
	c := newClient(t, false)
	if _, err := c.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	_, _ = p.Answer(clientOffer(t, c)) // may fail: the peer closes under it
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Close from OnLocalCandidate did not complete")
	}
	if !errors.Is(p.Err(), ErrPeerClosed) {
		t.Fatalf("Err() = %v", p.Err())
	}
}

// TestConcurrentPeersAndEngineClose: peers created and closed from many
// goroutines while the engine closes; every peer ends, none is counted
// twice, and NewPeer fails cleanly once the engine is closed.
func TestConcurrentPeersAndEngineClose(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxPeers = 8
	e, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 64)
	done := make(chan struct{})
	for i := 0; i < 16; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := 0; j < 4; j++ {
				p, err := e.NewPeer(ctx, PeerOptions{ID: "c"})
				if err != nil {
					if !errors.Is(err, ErrTooManyPeers) && !errors.Is(err, ErrEngineClosed) && !errors.Is(err, context.Canceled) {
						errs <- err
					}
					continue
				}
				if j%2 == 0 {
					p.Close()
				}
				<-p.Done()
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 16; i++ {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Errorf("NewPeer: %v", err)
	}
	if n := e.Peers(); n != 0 {
		t.Fatalf("%d peers left", n)
	}
}

// TestSilentClientFails: a client that vanishes without closing (its
// packets stop arriving) is disconnected after DisconnectedTimeout and
// closed with ErrConnectionFailed after FailedTimeout more.
func TestSilentClientFails(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.DisconnectedTimeout = 300 * time.Millisecond
	cfg.FailedTimeout = 500 * time.Millisecond
	e := newEngine(t, cfg)
	p := newPeer(t, e, "silent")
	closed := watchClosed(p)
	c := newClient(t, false)
	if _, err := c.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	connect(t, c, p)
	waitConnected(t, c, 5*time.Second)
	// Stop the client's traffic but not its connection: no close_notify.
	silence(t, c)
	start := time.Now()
	if err := closed.wait(t, p, 10*time.Second); !errors.Is(err, ErrConnectionFailed) {
		t.Fatalf("Err() = %v, want ErrConnectionFailed", err)
	}
	t.Logf("failed %s after the client went silent", time.Since(start).Round(time.Millisecond))
}

// silence stops the client's ICE transport under its DTLS session, so it
// stops sending without telling the server.
func silence(t *testing.T, c *webrtc.PeerConnection) {
	t.Helper()
	if err := c.SCTP().Transport().ICETransport().Stop(); err != nil {
		t.Fatal(err)
	}
}

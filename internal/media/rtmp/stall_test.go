package rtmp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/minirtc/minirtc/internal/media"
)

// TestStalledPlayer: a player that stops reading fills its socket; it must
// not hold up the publisher or a healthy player, and is dropped after
// WriteTimeout without progress.
func TestStalledPlayer(t *testing.T) {
	e := newEnv(t, func(l *media.Limits, _ *Options) {
		l.WriteTimeout = time.Second
		l.MaxFrameBytes = 256 << 10
		l.GOPCacheBytes = 1 << 20
		l.ReaderQueueBytes = 2 << 20
	})
	pub := e.pushTiny(t, "u_main")
	stalled := e.mustDial(t, "/a/r/u_main?ok=1", false) // never read
	healthy := e.mustDial(t, "/a/r/u_main?ok=1", false)

	const frames, size = 300, 100 << 10
	const lastTS = 10_000 + (frames-1)*40
	got := make(chan error, 1)
	go func() {
		healthy.NetConn().SetReadDeadline(time.Now().Add(30 * time.Second))
		prev := time.Duration(-1)
		for {
			msg, err := healthy.Read()
			if err != nil {
				got <- err
				return
			}
			if v, ok := msg.(*message.Video); ok && v.Type == message.VideoTypeAU {
				if v.DTS < prev {
					got <- errors.New("healthy player: DTS went backwards")
					return
				}
				prev = v.DTS
				if v.DTS == lastTS*time.Millisecond {
					got <- nil
					return
				}
			}
		}
	}()

	start := time.Now()
	for i := range frames {
		body := append([]byte{0x27, 1, 0, 0, 0}, nal(size)...)
		if i%10 == 0 || i == frames-1 {
			body[0] = 0x17
		}
		writeRaw(t, pub.NetConn(), typeVideo, uint32(10_000+i*40), body)
		time.Sleep(time.Millisecond)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("pushing %d MB took %s: the stalled player held up the publisher", frames*size>>20, d)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the healthy player did not get the last frame")
	}
	e.waitLog(t, "rtmp: play ended", "reason=timeout")
	st := e.hub.Stats("a", "r", "u_main")
	if len(st) == 1 {
		t.Logf("frames dropped for the stalled player: %d", st[0].Dropped)
	}
	_ = stalled
}

// TestRTMPS publishes and plays through a TLS listener.
func TestRTMPS(t *testing.T) {
	e := newEnv(t, nil)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.srv.Shutdown(ctx)
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve(tls) returned %v", err)
		}
	}()

	dial := func(publish bool) *gortmplib.Client {
		c := &gortmplib.Client{URL: gortmplibURL("rtmps", ln.Addr().String(), "/a/r/u_tls?ok=1"), Publish: publish,
			TLSConfig: &tls.Config{InsecureSkipVerify: true}}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Initialize(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	pub := dial(true)
	for _, tag := range readFLV(t, "tiny.flv") {
		writeRaw(t, pub.NetConn(), tag.typ, tag.ts, tag.body)
	}
	e.hooks.waitLive(t, "u_tls")
	got, _ := readMedia(t, dial(false), 4)
	if !got[0].config || !got[2].key {
		t.Fatalf("RTMPS play got %+v", got)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestShutdownWithLiveSessions: Shutdown closes pushes, plays and
// half-open handshakes and waits for their goroutines (goleak checks).
func TestShutdownWithLiveSessions(t *testing.T) {
	e := newEnv(t, nil)
	pub := e.pushTiny(t, "u_main")
	player := e.mustDial(t, "/a/r/u_main?ok=1", false)
	dialRaw(t, e) // never handshakes
	waitFor(t, 5*time.Second, "three connections", func() bool { return e.srv.Conns() == 3 })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Conns(); n != 0 {
		t.Errorf("%d connections after Shutdown", n)
	}
	for _, c := range []net.Conn{pub.NetConn(), player.NetConn()} {
		expectClosed(t, c, 2*time.Second)
	}
	if _, err := e.dial("/a/r/u_main?ok=1", false); err == nil {
		t.Error("a new connection succeeded after Shutdown")
	}
}

package webrtc

import (
	"context"
	"errors"
	"testing"
)

// FuzzAnswer feeds arbitrary offers to Peer.Answer: it must return an
// answer or an error, never panic or hang, and the peer must close cleanly
// either way (goleak in TestMain checks for leftovers). Seeds are in
// testdata/fuzz/FuzzAnswer (a Chrome offer, a pion offer, broken ones).
//
//	go test -run '^$' -fuzz FuzzAnswer -fuzztime 30s ./internal/media/webrtc
func FuzzAnswer(f *testing.F) {
	cfg := testConfig()
	cfg.TCPAddr = "" // one socket is enough; halves the set-up per input
	e, err := New(cfg, testLogger(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = e.Close() })
	f.Fuzz(func(t *testing.T, offer string) {
		p, err := e.NewPeer(context.Background(), PeerOptions{ID: "fuzz"})
		if err != nil {
			t.Fatal(err)
		}
		answer, err := p.Answer(offer)
		switch {
		case err == nil && answer == "":
			t.Fatal("empty answer without error")
		case err != nil && answer != "":
			t.Fatal("answer with error")
		case err != nil && !isAnswerError(err):
			t.Fatalf("unclassified error: %v", err)
		}
		p.Close()
		<-p.Done()
	})
}

// isAnswerError: every Answer error is one of the documented kinds.
func isAnswerError(err error) bool {
	for _, e := range []error{ErrBadSDP, ErrSDPTooLarge, ErrTooManyMediaSections, ErrNoMedia, ErrNoSupportedCodecs, ErrGlare} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

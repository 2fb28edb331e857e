package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// syncBuffer is a bytes.Buffer safe to write from run and read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func (s *syncBuffer) has(event string) bool {
	for _, m := range s.lines() {
		if m["event"] == event {
			return true
		}
	}
	return false
}

func TestRun(t *testing.T) {
	env := servertest.Start(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{url: env.URL, token: env.Token(t, "cli", "demo"), room: "demo", publish: true, message: "hello"}, &out)
	}()
	waitFor(t, &out, "message_sent")
	env.GoLive(t, pushURLFrom(t, out.String()), protocol.MediaAudioVideo) // what ffmpeg or live-pusher would do

	other, err := client.Join(t.Context(), env.URL, env.Token(t, "other", "demo"), "demo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got := other.Joined().Participants; len(got) != 1 || len(got[0].Streams) != 1 {
		t.Fatalf("participants seen by another user: %+v", got)
	}
	if _, err := other.SendMessage(t.Context(), "chat", "hi cli"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &out, protocol.EvMessage)
	cancel() // Ctrl-C
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"joined", "published", "message_sent", protocol.EvUserJoined, protocol.EvMessage} {
		if !out.has(want) {
			t.Errorf("no %q line in output", want)
		}
	}
}

func waitFor(t *testing.T, out *syncBuffer, event string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !out.has(event) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q line; output: %v", event, out.lines())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pushURLFrom finds push_url in the "published" output line.
func pushURLFrom(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		var ln struct {
			Event string
			Data  struct {
				PushURL string `json:"push_url"`
			}
		}
		if json.Unmarshal([]byte(l), &ln) == nil && ln.Event == "published" && ln.Data.PushURL != "" {
			return ln.Data.PushURL
		}
	}
	t.Fatalf("no published line with a push_url in:\n%s", out)
	return ""
}

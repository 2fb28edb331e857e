package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// usageTotals is the part of `minirtc usage --json` this test reads.
type usageTotals struct {
	Total struct {
		Call             map[string]int64 `json:"call_seconds"`
		OnlineSeconds    int64            `json:"online_seconds"`
		PublishSeconds   int64            `json:"publish_seconds"`
		SubscribeSeconds int64            `json:"subscribe_seconds"`
		RoomsCreated     int64            `json:"rooms_created"`
		UniqueUsers      int64            `json:"unique_users"`
		UniqueCallUsers  int64            `json:"unique_call_users"`
		PeakUsers        int64            `json:"peak_users"`
	} `json:"total"`
}

// TestUsageWithTheBinary runs the real binary with a one-second
// usage.flush_interval (from the environment): alice publishes 1280x720 with
// ffmpeg over RTMP, bob subscribes, and `minirtc usage`, reading the same
// SQLite file while the server runs, shows online, publish, subscribe and
// 720p call time; after SIGTERM the final flush has counted up to the stop.
func TestUsageWithTheBinary(t *testing.T) {
	needFFmpeg(t)
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	srv := exec.Command(bin, "serve", "--data", data, "--http", "127.0.0.1:0", "--rtmp", "127.0.0.1:0",
		"--webrtc-udp", "127.0.0.1:0", "--webrtc-tcp", "127.0.0.1:0", "--host", "127.0.0.1", "--log-level", "warn")
	srv.Env = append(os.Environ(), "MINIRTC_USAGE_FLUSH_INTERVAL=1s")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	banner := readBanner(t, stdout)
	go io.Copy(io.Discard, stdout)
	wsURL, appID := banner["signalling"], banner["app id"]
	if wsURL == "" || appID == "" {
		t.Fatalf("banner = %v", banner)
	}
	// The window covers the hour before and after, so a run across an hour
	// boundary still finds everything.
	from := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	to := from.Add(3 * time.Hour)
	usage := func(extra ...string) ([]byte, error) {
		args := append([]string{"usage", "--data", data, "--app", appID, "--by", "hour",
			"--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339)}, extra...)
		return exec.Command(bin, args...).Output()
	}
	totals := func() usageTotals {
		t.Helper()
		out, err := usage("--json")
		if err != nil {
			t.Fatalf("minirtc usage --json: %v", err)
		}
		var u usageTotals
		if err := json.Unmarshal(out, &u); err != nil {
			t.Fatalf("minirtc usage --json printed %q: %v", out, err)
		}
		return u
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	joinAs := func(user string) *client.Client {
		out, err := exec.Command(bin, "token", "create", "--data", data, "--app", appID, "--user", user, "--room", "usage").Output()
		if err != nil {
			t.Fatalf("token create: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		c, err := client.Join(ctx, wsURL, lines[len(lines)-1], "usage", nil)
		if err != nil {
			t.Fatalf("%s joins: %v", user, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	alice, bob := joinAs("alice"), joinAs("bob")
	pub, err := alice.PublishURL(ctx, "", protocol.MediaAudioVideo)
	if err != nil {
		t.Fatal(err)
	}
	pusher := startPush(t, pub.PushURL, pushOpts{size: "1280x720", rate: 15})
	st := streamEvent(t, clienttest.WaitEvent(t, bob, protocol.EvStreamPublished, nil))
	if st.Video == nil || st.Video.Width != 1280 || st.Video.Height != 720 {
		t.Fatalf("stream_published video %+v, want 1280x720", st.Video)
	}
	if _, err := bob.SubscribeURLs(ctx, st.ID); err != nil {
		t.Fatal(err)
	}

	// Flushed while the server runs: a second or two after the subscribe.
	var u usageTotals
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		u = totals()
		if u.Total.Call["720p"] >= 2 && u.Total.OnlineSeconds > 0 && u.Total.PublishSeconds > 0 && u.Total.SubscribeSeconds > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage after 20 s: %+v", u.Total)
		}
	}
	for tier, secs := range u.Total.Call {
		if tier != "720p" && secs != 0 {
			t.Errorf("call seconds in tier %s: %d; only 720p was watched", tier, secs)
		}
	}
	if u.Total.RoomsCreated != 1 || u.Total.UniqueUsers != 2 || u.Total.UniqueCallUsers != 1 || u.Total.PeakUsers != 2 {
		t.Errorf("counts %+v, want 1 room, 2 users, 1 in a call, peak 2", u.Total)
	}
	// Both were online at least as long as bob watched, and alice published
	// at least as long.
	if u.Total.OnlineSeconds < 2*u.Total.Call["720p"] || u.Total.PublishSeconds < u.Total.Call["720p"] {
		t.Errorf("online %d and publish %d seconds, for %d seconds of call", u.Total.OnlineSeconds, u.Total.PublishSeconds, u.Total.Call["720p"])
	}

	// The table: the TOTAL row has non-zero ONLINE and CALL_720P minutes.
	out, err := usage()
	if err != nil {
		t.Fatalf("minirtc usage: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	header, last := strings.Fields(lines[1]), strings.Fields(lines[len(lines)-1])
	col := func(name string) string {
		for i, h := range header {
			if h == name {
				return last[i-1] // "PERIOD (UTC)" is two fields in the header, one in the row
			}
		}
		t.Fatalf("no column %s in %q", name, lines[1])
		return ""
	}
	if last[0] != "TOTAL" || col("ONLINE") == "0.00" || col("CALL_720P") == "0.00" || col("CALL_AUDIO") != "0.00" {
		t.Fatalf("usage table:\n%s", out)
	}

	// SIGTERM: the final flush counts everyone up to the stop.
	time.Sleep(1500 * time.Millisecond)
	before := u.Total.OnlineSeconds
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(srv, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	// The server's exit ends the push; wait for ffmpeg here so that its
	// cleanup does not race with the goroutine that reaped it.
	if _, done := pusher.exited(10 * time.Second); !done {
		t.Error("ffmpeg kept running after the server exited")
	}
	after := totals()
	if after.Total.OnlineSeconds < before+2 || after.Total.Call["720p"] <= u.Total.Call["720p"] {
		t.Fatalf("after SIGTERM: %+v; before: %+v", after.Total, u.Total)
	}
}

func waitExit(cmd *exec.Cmd, within time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("server exit: %w", err)
		}
		return nil
	case <-time.After(within):
		return fmt.Errorf("server did not exit within %s of SIGTERM", within)
	}
}

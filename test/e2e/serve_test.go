package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// buildBinary builds cmd/minirtc once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "minirtc")
	gobin, err := exec.LookPath("go") // make test puts the go it uses on PATH
	if err != nil {
		t.Fatalf("no go on PATH: %v", err)
	}
	cmd := exec.Command(gobin, "build", "-o", bin, "../../cmd/minirtc")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestServeBinaryFirstStartJoinAndSIGTERM walks the README: start the real
// binary on an empty data directory, read the development app from its
// banner, mint a token with the CLI, join, check /healthz and /metrics, and
// stop it with SIGTERM while a client is connected.
func TestServeBinaryFirstStartJoinAndSIGTERM(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	srv := exec.Command(bin, "serve", "--data", data, "--http", "127.0.0.1:0", "--rtmp", "127.0.0.1:0",
		"--webrtc-udp", "127.0.0.1:0", "--webrtc-tcp", "127.0.0.1:0", "--host", "127.0.0.1", "--log-level", "warn")
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
	wsURL := banner["signalling"]
	appID := banner["app id"]
	if !strings.HasPrefix(wsURL, "ws://127.0.0.1:") || appID == "" || banner["app secret"] == "" {
		t.Fatalf("banner = %v", banner)
	}
	go io.Copy(io.Discard, stdout)

	out, err := exec.Command(bin, "token", "create", "--data", data, "--app", appID, "--user", "alice", "--room", "demo").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	token := lines[len(lines)-1]
	if err := exec.Command(bin, "token", "verify", "--data", data, token).Run(); err != nil {
		t.Fatalf("token verify: %v", err)
	}

	ctx := context.Background()
	c, err := client.Join(ctx, wsURL, token, "demo", nil)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	defer c.Close()
	pub, err := c.PublishURL(ctx, "", protocol.MediaAudioVideo)
	if err != nil {
		t.Fatal(err)
	}
	servertest.Push(t, pub.PushURL, protocol.MediaAudioVideo) // through the binary's RTMP port

	base := "http://" + strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws://"), "/ws")
	var health struct {
		Status       string `json:"status"`
		Rooms        int    `json:"rooms"`
		Participants int    `json:"participants"`
		Store        string `json:"store"`
	}
	getJSON(t, base+"/healthz", &health)
	if health.Status != "ok" || health.Rooms != 1 || health.Participants != 1 || health.Store != "ok" {
		t.Fatalf("healthz = %+v", health)
	}
	// The stream counts once media arrived on the push URL.
	metrics := get(t, base+"/metrics")
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(metrics, "minirtc_streams 1\n") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		metrics = get(t, base+"/metrics")
	}
	for _, want := range []string{
		"minirtc_connections 1", "minirtc_rooms 1", "minirtc_participants 1", "minirtc_streams 1",
		`minirtc_requests_total{op="publish"} 1`, "minirtc_messages_total 0",
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	// An error shows up by code.
	if _, err := c.Publish(ctx, "", protocol.MediaAudioVideo); err == nil {
		t.Fatal("second publish of main accepted")
	}
	if m := get(t, base+"/metrics"); !strings.Contains(m, `minirtc_errors_total{code="3004"} 1`) {
		t.Error("error counter by code missing")
	}

	// SIGTERM: the client is told the server is going away; the process
	// exits cleanly.
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	clienttest.WaitEvent(t, c, protocol.EvGoingAway, nil)
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}

	// A second start finds the app and does not create another.
	out, err = exec.Command(bin, "app", "list", "--data", data, "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var apps []map[string]any
	if err := json.Unmarshal(out, &apps); err != nil || len(apps) != 1 {
		t.Fatalf("apps after restart: %s (%v)", out, err)
	}
}

// readBanner reads the startup banner's "  key   value" lines until the
// "Press Ctrl-C" line.
func readBanner(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	kv := regexp.MustCompile(`^  ([a-z][a-z ]*[a-z])\s{2,}(\S+)$`)
	got := map[string]string{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
			if strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
				break
			}
		}
		close(lines)
	}()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return got
			}
			if m := kv.FindStringSubmatch(line); m != nil {
				got[m[1]] = m[2]
			}
		case <-timeout:
			t.Fatalf("no banner within 30 s; got %v", got)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(get(t, url)), v); err != nil {
		t.Fatal(err)
	}
}

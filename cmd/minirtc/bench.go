package main

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// newBenchCmd is the load-tool group: `minirtc bench signal` now, media
// benchmarks later. Results go to docs/benchmarks.md.
func newBenchCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load tools: measure a running server (see docs/benchmarks.md)",
	}
	addDataDirFlag(cmd, &dataDir)
	cmd.AddCommand(newBenchSignalCmd(&dataDir), newBenchMediaCmd(&dataDir), newBenchWebRTCCmd(&dataDir))
	return cmd
}

// signalOpts are the flags of `bench signal`.
type signalOpts struct {
	url         string
	dataDir     string
	app         string
	secret      string
	clients     int
	roomSize    int
	joinRate    float64
	joinTimeout time.Duration
	idle        time.Duration
	msgRate     float64
	duration    time.Duration
	msgBytes    int
	drain       time.Duration
	kind        string
	roomPrefix  string
	asJSON      bool
}

func newBenchSignalCmd(dataDir *string) *cobra.Command {
	var o signalOpts
	cmd := &cobra.Command{
		Use:   "signal [--url ws://127.0.0.1:7880/ws] [--clients N] [--room-size M] [--join-rate R] ...",
		Short: "Connect many participants to a running server and measure joins, messages and memory",
		Long: `Connect --clients participants to a running server over the signalling WebSocket,
in rooms of --room-size, at --join-rate joins per second. Then:

  1. idle:     everyone stays connected (pinging) for --idle, then the server's
               heap is read from /debug/heap (the server must run with
               --debug-endpoints) and compared with the reading taken before
               the first join: memory and goroutines per idle connection;
  2. messages: the first participant of each room sends --msg-rate messages
               per second for --duration; every other member's receipt is
               timed against the send time carried in the message;
  3. everyone leaves.

A progress line is printed to stderr every second, the summary to stdout
(--json for a machine-readable one). Tokens are minted here with the app's
secret: from the server's data directory (--data, and --app or the first app)
or given with --app and --secret. For numbers that mean something, pin the
server and the load to different cores (taskset) and see docs/benchmarks.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.dataDir = *dataDir
			if err := o.validate(); err != nil {
				return err
			}
			app, secret, err := benchSecret(cmd, &o)
			if err != nil {
				return err
			}
			r, err := newSignalRun(o, app, secret, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return r.execute(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "ws://127.0.0.1:7880/ws", "signalling WebSocket URL of the server")
	f.StringVar(&o.app, "app", "", "app id (default: the first app in --data)")
	f.StringVar(&o.secret, "secret", "", "app secret, instead of reading it from --data (needs --app)")
	f.IntVar(&o.clients, "clients", 1000, "number of participants")
	f.IntVar(&o.roomSize, "room-size", 16, "participants per room")
	f.Float64Var(&o.joinRate, "join-rate", 200, "joins started per second")
	f.DurationVar(&o.joinTimeout, "join-timeout", 10*time.Second, "longest wait for one dial and join")
	f.DurationVar(&o.idle, "idle", 5*time.Second, "time everyone sits idle before the memory reading")
	f.Float64Var(&o.msgRate, "msg-rate", 5, "messages per second sent in each room during the messaging phase (0: no messaging)")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "length of the messaging phase (0: no messaging)")
	f.IntVar(&o.msgBytes, "msg-bytes", 0, "pad each message's content to this many bytes (0: just the timestamp)")
	f.DurationVar(&o.drain, "drain", 3*time.Second, "how long to wait after the messaging phase for messages still in flight")
	f.StringVar(&o.kind, "client", "raw", "participant implementation: raw (light WebSocket, default) or sdk (pkg/client)")
	f.StringVar(&o.roomPrefix, "room-prefix", "bench", "prefix of room and user ids")
	f.BoolVar(&o.asJSON, "json", false, "print the summary as JSON")
	return cmd
}

func (o *signalOpts) validate() error {
	switch {
	case o.clients < 1:
		return fmt.Errorf("--clients must be at least 1, got %d", o.clients)
	case o.roomSize < 1:
		return fmt.Errorf("--room-size must be at least 1, got %d", o.roomSize)
	case !(o.joinRate > 0):
		return fmt.Errorf("--join-rate must be positive, got %g", o.joinRate)
	case o.joinTimeout <= 0:
		return fmt.Errorf("--join-timeout must be positive, got %s", o.joinTimeout)
	case o.idle < 0:
		return fmt.Errorf("--idle must not be negative, got %s", o.idle)
	case o.msgRate < 0 || o.msgRate > 1000:
		return fmt.Errorf("--msg-rate must be between 0 and 1000 per second, got %g", o.msgRate)
	case o.duration < 0:
		return fmt.Errorf("--duration must not be negative, got %s", o.duration)
	case o.drain < 0:
		return fmt.Errorf("--drain must not be negative, got %s", o.drain)
	case o.msgBytes < 0 || o.msgBytes > 16<<10:
		return fmt.Errorf("--msg-bytes must be between 0 and %d, got %d", 16<<10, o.msgBytes)
	case o.kind != "raw" && o.kind != "sdk":
		return fmt.Errorf("--client must be raw or sdk, got %q", o.kind)
	case o.secret != "" && o.app == "":
		return errors.New("--secret needs --app: the token's issuer must be named")
	}
	if err := ids.Validate("--room-prefix", o.roomPrefix); err != nil {
		return err
	}
	if len(o.roomPrefix) > 64 {
		return fmt.Errorf("--room-prefix is %d characters; keep it to 64", len(o.roomPrefix))
	}
	if _, err := httpBase(o.url); err != nil {
		return err
	}
	return nil
}

// benchSecret finds the app and its secret: given, or read from the store.
func benchSecret(cmd *cobra.Command, o *signalOpts) (ids.AppID, string, error) {
	if o.secret != "" {
		app := ids.AppID(o.app)
		if err := app.Validate(); err != nil {
			return "", "", fmt.Errorf("--app: %w", err)
		}
		return app, o.secret, nil
	}
	db, err := openDataStore(cmd.Context(), o.dataDir, false)
	if err != nil {
		return "", "", fmt.Errorf("%w\n(or give the app's secret with --app ID --secret S)", err)
	}
	defer db.Close()
	if o.app != "" {
		a, err := db.GetApp(cmd.Context(), ids.AppID(o.app))
		if errors.Is(err, store.ErrNotFound) {
			return "", "", fmt.Errorf("app %q not found in %s; see \"minirtc app list\"", o.app, db.Path())
		}
		if err != nil {
			return "", "", err
		}
		return a.ID, a.Secret, nil
	}
	apps, err := db.ListApps(cmd.Context())
	if err != nil {
		return "", "", err
	}
	if len(apps) == 0 {
		return "", "", fmt.Errorf("no app in %s; create one with \"minirtc app create --name NAME\"", db.Path())
	}
	return apps[0].ID, apps[0].Secret, nil
}

// newSignalRun prepares a run: rooms, identities and tokens, HTTP clients.
func newSignalRun(o signalOpts, app ids.AppID, secret string, out, errOut io.Writer) (*signalRun, error) {
	base, _ := httpBase(o.url) // validated
	r := &signalRun{
		opts:   o,
		out:    out,
		errOut: errOut,
		// One transport for every participant: dialling shares nothing
		// but configuration (each WebSocket hijacks its connection).
		httpClient: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: o.joinTimeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: o.joinTimeout,
		}},
		probe: &serverProbe{base: base, client: &http.Client{Transport: &http.Transport{
			DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		}}},
		join: rawJoin,
	}
	if o.kind == "sdk" {
		r.join = sdkJoin
	}
	nRooms := (o.clients + o.roomSize - 1) / o.roomSize
	r.rooms = make([]*benchRoom, nRooms)
	for i := range r.rooms {
		r.rooms[i] = &benchRoom{id: ids.RoomID(fmt.Sprintf("%s-r%05d", o.roomPrefix, i))}
	}
	// Users are new on every run, so that a previous run's sessions (if
	// one was killed) cannot replace or be replaced by this run's.
	run := newRunID()
	now := time.Now()
	expected := time.Duration(float64(o.clients)/o.joinRate*float64(time.Second)) + o.idle + o.duration + o.drain
	exp := now.Add(min(expected+time.Hour, auth.MaxTTL))
	r.peers = make([]*peerInfo, o.clients)
	for i := range r.peers {
		rm := r.rooms[i/o.roomSize]
		user := ids.UserID(fmt.Sprintf("%s-%s-%05d", o.roomPrefix, run, i))
		tok, err := auth.Mint(secret, auth.Claims{App: app, User: user, Room: rm.id, IssuedAt: now, ExpiresAt: exp})
		if err != nil {
			return nil, err
		}
		r.peers[i] = &peerInfo{index: i, user: user, room: rm, token: tok}
	}
	return r, nil
}

var runIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return runIDEncoding.EncodeToString(b[:])
}

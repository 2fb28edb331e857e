package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/server"
)

// serveFlags are the serve command's flags; each one that is given
// overrides the config file and the environment.
type serveFlags struct {
	config         string
	data           string
	http           string
	rtmp           string
	rtmps          string
	tlsCert        string
	tlsKey         string
	host           string
	logLevel       string
	logFormat      string
	debugEndpoints bool
	webrtcUDP      string
	webrtcTCP      string
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the minirtc server",
		Long: `Run the minirtc server: signalling WebSocket at /ws, HTTP-FLV at /flv/, /healthz and
/metrics on the HTTP port; RTMP push and play on the RTMP port.

Configuration comes from defaults, then the YAML file given with --config, then
MINIRTC_* environment variables (MINIRTC_ROOM_MAX_PARTICIPANTS=16 sets
room.max_participants), then these flags. docs/deployment.md lists every key.

On a first start with no apps, a development app is created and its id,
secret and a token command are printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(f.config, os.Environ())
			if err != nil {
				return err
			}
			f.apply(cmd, &cfg)
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid configuration: %w", err)
			}
			return runServer(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	def := config.Default()
	fl.StringVar(&f.config, "config", "", "YAML configuration file")
	fl.StringVar(&f.data, "data", def.Data, "data directory (SQLite database)")
	fl.StringVar(&f.http, "http", def.HTTP, "HTTP listen address (signalling, health, metrics)")
	fl.StringVar(&f.rtmp, "rtmp", def.RTMP, "RTMP listen address (media plane: push and play)")
	fl.StringVar(&f.rtmps, "rtmps", def.RTMPS, "RTMPS listen address, used with --tls-cert")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "certificate (PEM) for HTTPS/WSS/HTTPS-FLV and RTMPS")
	fl.StringVar(&f.tlsKey, "tls-key", "", "private key (PEM) of --tls-cert")
	fl.StringVar(&f.host, "host", def.Host, "host name or IP put into URLs handed to clients")
	fl.StringVar(&f.logLevel, "log-level", def.Log.Level, "log level: debug, info, warn, error")
	fl.StringVar(&f.logFormat, "log-format", def.Log.Format, "log format: text or json")
	fl.BoolVar(&f.debugEndpoints, "debug-endpoints", false, "serve /debug/pprof and /debug/heap (keep the port private)")
	fl.StringVar(&f.webrtcUDP, "webrtc-udp", def.WebRTC.UDPAddr, "WebRTC: the one UDP address ICE uses for every peer")
	fl.StringVar(&f.webrtcTCP, "webrtc-tcp", def.WebRTC.TCPAddr, "WebRTC: the ICE-TCP listen address (empty: no ICE-TCP)")
	return cmd
}

// apply copies the flags the user gave onto cfg.
func (f *serveFlags) apply(cmd *cobra.Command, cfg *config.Config) {
	set := func(name string, dst *string, v string) {
		if cmd.Flags().Changed(name) {
			*dst = v
		}
	}
	set("data", &cfg.Data, f.data)
	set("http", &cfg.HTTP, f.http)
	set("rtmp", &cfg.RTMP, f.rtmp)
	set("rtmps", &cfg.RTMPS, f.rtmps)
	set("tls-cert", &cfg.TLS.CertFile, f.tlsCert)
	set("tls-key", &cfg.TLS.KeyFile, f.tlsKey)
	set("host", &cfg.Host, f.host)
	set("log-level", &cfg.Log.Level, f.logLevel)
	set("log-format", &cfg.Log.Format, f.logFormat)
	set("webrtc-udp", &cfg.WebRTC.UDPAddr, f.webrtcUDP)
	set("webrtc-tcp", &cfg.WebRTC.TCPAddr, f.webrtcTCP)
	if cmd.Flags().Changed("debug-endpoints") {
		cfg.Debug.Endpoints = f.debugEndpoints
	}
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level)) // validated before
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runServer(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	slog.SetDefault(log)
	server.Version = version
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		_ = srv.Shutdown(context.Background())
		return err
	}
	printBanner(ctx, stdout, srv)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}

// printBanner tells a newcomer where everything is and how to join.
func printBanner(ctx context.Context, w io.Writer, srv *server.Server) {
	cfg := srv.Config()
	port := portString(srv.HTTPAddr())
	base := net.JoinHostPort(cfg.Host, port)
	self := os.Args[0] // so the printed commands work as typed (./bin/minirtc, minirtc, ...)
	fmt.Fprintf(w, "\nminirtc %s is running\n", version)
	rtmpBase, flvBase := srv.MediaURLBases()
	fmt.Fprintf(w, "  signalling  %s\n", srv.WebSocketURL())
	fmt.Fprintf(w, "  rtmp        %s  (push and play)\n", rtmpBase)
	fmt.Fprintf(w, "  http-flv    %s/flv/...\n", flvBase)
	if udp, tcp := srv.WebRTCAddrs(); udp != nil {
		line := "udp " + udp.String()
		if tcp != nil {
			line += ", tcp " + tcp.String()
		}
		fmt.Fprintf(w, "  webrtc      %s  (ICE; browsers)\n", line)
	}
	scheme := "http"
	if cfg.TLS.Enabled() {
		scheme = "https"
	}
	fmt.Fprintf(w, "  rest api    %s://%s/api/v1  (app servers; docs/api.md)\n", scheme, base)
	fmt.Fprintf(w, "  health      %s://%s/healthz\n", scheme, base)
	fmt.Fprintf(w, "  metrics     %s://%s/metrics\n", scheme, base)
	if cfg.Demo.Enabled {
		note := "paste a token"
		if cfg.Demo.MintTokens {
			note = "it mints tokens of the development app: keep this server to yourself"
		}
		fmt.Fprintf(w, "  demo        %s://%s/demo/  (browser: camera, mic, screen; %s)\n", scheme, base, note)
	}
	fmt.Fprintf(w, "  data        %s\n", cfg.Data)
	store := "--data " + cfg.Data
	if cfg.Store.Driver == config.StorePostgres {
		// The DSN holds a password: point at the variable, never print it.
		store = `--store-driver postgres --store-dsn "$MINIRTC_STORE_DSN"`
	}
	appID := ""
	if app := srv.DevApp; app != nil {
		appID = string(app.ID)
		fmt.Fprintf(w, "\nCreated a development app (keep the secret private):\n")
		fmt.Fprintf(w, "  app id      %s\n", app.ID)
		fmt.Fprintf(w, "  app secret  %s\n", app.Secret)
	} else if apps, err := srv.Store().ListApps(ctx); err == nil && len(apps) > 0 {
		appID = string(apps[0].ID)
		fmt.Fprintf(w, "\nApps: %d (list them with: %s app list %s)\n", len(apps), self, store)
	}
	if appID != "" {
		fmt.Fprintf(w, "\nJoin room \"demo\" as alice:\n")
		fmt.Fprintf(w, "  TOKEN=$(%s token create %s --app %s --user alice --room demo | tail -n1)\n", self, store, appID)
		fmt.Fprintf(w, "  %s --url %s --room demo --token \"$TOKEN\"\n", joinCommand(self), srv.WebSocketURL())
		fmt.Fprintf(w, "\nPush a test pattern into room \"demo\" as bob, then watch it:\n")
		// The URL commands read host and ports from the config and MINIRTC_*
		// variables; when serve's flags changed them, say so explicitly.
		baseFlags := ""
		if r, f := server.MediaBases(envConfig()); r != rtmpBase || f != flvBase {
			baseFlags = fmt.Sprintf(" --rtmp-base %s --flv-base %s", rtmpBase, flvBase)
		}
		fmt.Fprintf(w, "  URL=$(%s ingest create %s --app %s --room demo --user bob%s --field url)\n", self, store, appID, baseFlags)
		fmt.Fprintf(w, "  ffmpeg -re -f lavfi -i testsrc=size=640x360:rate=25 -f lavfi -i sine=sample_rate=48000 -c:v libx264 -pix_fmt yuv420p -profile:v baseline -tune zerolatency -g 50 -c:a aac -ac 1 -f flv \"$URL\"\n")
		fmt.Fprintf(w, "  ffplay \"$(%s url play %s --app %s --room demo --stream bob_main%s --field flv)\"\n", self, store, appID, baseFlags)
		fmt.Fprintf(w, "\nCall the REST API as your app server would:\n")
		fmt.Fprintf(w, "  ADMIN=$(%s token create %s --app %s --user app-server --grants admin | tail -n1)\n", self, store, appID)
		fmt.Fprintf(w, "  curl -H \"Authorization: Bearer $ADMIN\" %s://%s/api/v1/apps/%s/rooms\n", scheme, base, appID)
	}
	fmt.Fprintf(w, "\nPress Ctrl-C to stop.\n\n")
}

// joinCommand is how to run the example participant: the binary `make
// build` puts next to minirtc, or the example's source.
func joinCommand(self string) string {
	if p := filepath.Join(filepath.Dir(self), "minirtc-join"); fileExists(p) {
		if !filepath.IsAbs(p) && !strings.HasPrefix(p, ".") {
			p = "./" + p // a bare relative path would be looked up in $PATH
		}
		return p
	}
	return "go run ./examples/join"
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func portString(a net.Addr) string {
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return p
}

// envConfig is the configuration a CLI command without --config sees:
// defaults and MINIRTC_* variables.
func envConfig() config.Config {
	cfg, err := config.Load("", os.Environ())
	if err != nil {
		return config.Default()
	}
	return cfg
}

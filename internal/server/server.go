// Package server assembles a minirtc process: it opens the store, builds the
// room manager and the protocol handlers from the configuration, listens,
// and shuts everything down in order. It holds no logic of its own beyond
// that wiring and the small HTTP endpoints (/healthz, /debug).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/minirtc/minirtc/internal/api"
	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/media"
	"github.com/minirtc/minirtc/internal/media/flv"
	"github.com/minirtc/minirtc/internal/media/rtmp"
	"github.com/minirtc/minirtc/internal/media/webrtc"
	"github.com/minirtc/minirtc/internal/metrics"
	"github.com/minirtc/minirtc/internal/room"
	"github.com/minirtc/minirtc/internal/signal"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/internal/usage"
	"github.com/minirtc/minirtc/internal/webhook"
)

// Version is reported by /healthz; cmd/minirtc sets it from its build.
var Version = "dev"

// Server is one running minirtc process.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	store   store.Store
	rooms   *room.Manager
	signal  *signal.Handler
	metrics *metrics.Metrics
	hub     *media.Hub
	glue    *mediaGlue
	rtmp    *rtmp.Server
	flv     *flv.Handler
	rtc     *webrtcGlue // nil when webrtc.enabled is off
	api     *api.API    // apiglue.go
	usage   *usage.Accountant
	started time.Time

	// webhooks records room events and delivers them (webhookglue.go).
	webhooks *webhook.Dispatcher

	httpSrv *http.Server
	httpLn  net.Listener
	served  chan error
	rtmpLn  net.Listener
	rtmpsLn net.Listener
	rtmpWG  sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error

	// DevApp is the development app created at this start, if any.
	DevApp *store.App
}

// New opens the store and builds the server; it does not listen yet.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	db, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	s, err := build(ctx, cfg, log, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func build(_ context.Context, cfg config.Config, log *slog.Logger, db store.Store) (*Server, error) {
	s := &Server{cfg: cfg, log: log, store: db, started: time.Now()}
	var err error
	if s.usage, err = newUsage(cfg, db, log); err != nil {
		return nil, err
	}
	if s.webhooks, err = newWebhooks(cfg, db, log); err != nil {
		return nil, err
	}
	apps := auth.NewCachedApps(db, 2*time.Second)
	s.glue = &mediaGlue{verify: &auth.Verifier{Apps: apps}, apps: apps, log: log, now: time.Now, ingests: map[media.Key]*room.Member{}}
	s.glue.ttl.push, s.glue.ttl.play = cfg.Media.PushURLTTL, cfg.Media.PlayURLTTL
	rooms, err := room.NewManager(cfg.Room, room.Options{Bans: db, Logger: log, Media: s.glue, Limits: appLimits(apps),
		Observer: chainObservers(s.usage.Observe, s.webhooks.Observe)})
	if err != nil {
		return nil, err
	}
	s.rooms = rooms
	s.glue.rooms = rooms
	s.hub, err = media.NewHub(cfg.Media.Limits, media.Options{Admission: s.glue, Hooks: s.glue, Logger: log, Convert: convertAudio})
	if err != nil {
		return nil, err
	}
	s.glue.hub = s.hub
	if err := s.buildAPI(apps); err != nil {
		return nil, err
	}
	s.rtmp = rtmp.New(s.hub, rtmp.Options{Logger: log, MaxConns: cfg.Media.RTMPMaxConns, HandshakeTimeout: cfg.Media.RTMPHandshakeTimeout})
	s.flv = flv.New(s.hub, flv.Options{Logger: log, AllowOrigins: cfg.Media.AllowedOrigins})
	s.metrics = metrics.New(rooms.Counts)
	s.metrics.Registry.MustRegister(media.NewCollector(s.hub))
	s.metrics.Registry.MustRegister(s.webhooks.Collectors()...)
	deps := signal.Deps{
		Rooms:   rooms,
		Tokens:  &auth.Verifier{Apps: apps},
		Reports: db,
		Media:   s.glue,
		Metrics: s.metrics,
		Logger:  log,
	}
	if cfg.WebRTC.Enabled {
		// The engine (and its sockets) comes with Start; sessions reach it
		// only once the server listens.
		s.rtc = newWebRTCGlue(nil, s.hub, s.glue, log)
		deps.WebRTC = s.rtc
	}
	s.signal, err = signal.New(cfg.Signal, deps)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ensureDevApp creates a development app when the store has no app at all,
// so that a first start can be tried at once. It runs once the port is
// ours, so a start that fails to listen leaves the store untouched.
func (s *Server) ensureDevApp(ctx context.Context) error {
	apps, err := s.store.ListApps(ctx)
	if err != nil {
		return fmt.Errorf("listing apps: %w", err)
	}
	if len(apps) > 0 {
		return nil
	}
	app, err := s.store.CreateApp(ctx, "development")
	if err != nil {
		return fmt.Errorf("creating the development app: %w", err)
	}
	s.log.Info("created development app", "app", app.ID)
	s.DevApp = &app
	return nil
}

// Store is the server's store.
func (s *Server) Store() store.Store { return s.store }

// Rooms is the server's room manager.
func (s *Server) Rooms() *room.Manager { return s.rooms }

// Config is the configuration the server runs with.
func (s *Server) Config() config.Config { return s.cfg }

// Start listens on the HTTP and RTMP addresses (and RTMPS with TLS) and
// serves in the background.
func (s *Server) Start() error {
	raiseFileLimit(s.log)
	var tlsCfg *tls.Config
	if s.cfg.TLS.Enabled() {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
		if err != nil {
			return fmt.Errorf("loading tls.cert_file/tls.key_file: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", s.cfg.HTTP)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.HTTP, err)
	}
	rln, err := net.Listen("tcp", s.cfg.RTMP)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listening for RTMP on %s: %w", s.cfg.RTMP, err)
	}
	var sln net.Listener
	if tlsCfg != nil && s.cfg.RTMPS != "" {
		if sln, err = net.Listen("tcp", s.cfg.RTMPS); err != nil {
			ln.Close()
			rln.Close()
			return fmt.Errorf("listening for RTMPS on %s: %w", s.cfg.RTMPS, err)
		}
		sln = tls.NewListener(sln, tlsCfg)
	}
	if s.rtc != nil {
		eng, err := webrtc.New(s.cfg.WebRTC.Config, s.log)
		if err != nil {
			ln.Close()
			rln.Close()
			if sln != nil {
				sln.Close()
			}
			return fmt.Errorf("starting WebRTC (webrtc.udp_addr %s, webrtc.tcp_addr %s): %w", s.cfg.WebRTC.UDPAddr, s.cfg.WebRTC.TCPAddr, err)
		}
		s.rtc.engine = eng
	}
	s.httpLn, s.rtmpLn, s.rtmpsLn = ln, rln, sln
	if s.cfg.DevApp {
		if err := s.ensureDevApp(context.Background()); err != nil {
			s.closeListeners()
			return err
		}
	}
	s.glue.urls = mediaBases(s.cfg.Media.PublicRTMPURL, s.cfg.Media.PublicFLVURL, s.cfg.Host,
		portOf(rln.Addr()), portOf(ln.Addr()), tlsCfg != nil)
	s.httpSrv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		TLSConfig:         tlsCfg,
	}
	s.served = make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			s.served <- s.httpSrv.ServeTLS(ln, "", "")
			return
		}
		s.served <- s.httpSrv.Serve(ln)
	}()
	for _, l := range []net.Listener{rln, sln} {
		if l == nil {
			continue
		}
		s.rtmpWG.Add(1)
		go func() {
			defer s.rtmpWG.Done()
			if err := s.rtmp.Serve(l); err != nil {
				s.log.Debug("rtmp listener stopped", "addr", l.Addr().String(), "err", err)
			}
		}()
	}
	attrs := []any{"http", ln.Addr().String(), "rtmp", rln.Addr().String(), "tls", tlsCfg != nil}
	if sln != nil {
		attrs = append(attrs, "rtmps", sln.Addr().String())
	}
	if s.rtc != nil {
		attrs = append(attrs, "webrtc_udp", s.rtc.engine.UDPAddr().String())
		if a := s.rtc.engine.TCPAddr(); a != nil {
			attrs = append(attrs, "webrtc_tcp", a.String())
		}
	}
	s.log.Info("listening", attrs...)
	s.usage.Start()
	s.webhooks.Start()
	return nil
}

func (s *Server) closeListeners() {
	for _, l := range []net.Listener{s.httpLn, s.rtmpLn, s.rtmpsLn} {
		if l != nil {
			l.Close()
		}
	}
}

// WebRTCAddrs are the UDP and ICE-TCP addresses of WebRTC (after Start);
// nil when WebRTC is off (TCP also when webrtc.tcp_addr is empty).
func (s *Server) WebRTCAddrs() (udp, tcp net.Addr) {
	if s.rtc == nil || s.rtc.engine == nil {
		return nil, nil
	}
	if a := s.rtc.engine.TCPAddr(); a != nil {
		tcp = a
	}
	return s.rtc.engine.UDPAddr(), tcp
}

// RTMPAddr is the address the RTMP server listens on (after Start).
func (s *Server) RTMPAddr() net.Addr { return s.rtmpLn.Addr() }

// RTMPSAddr is the address RTMPS listens on, nil without TLS.
func (s *Server) RTMPSAddr() net.Addr {
	if s.rtmpsLn == nil {
		return nil
	}
	return s.rtmpsLn.Addr()
}

// Hub is the media hub.
func (s *Server) Hub() *media.Hub { return s.hub }

// MediaURLBases are the scheme://host:port bases of RTMP and FLV URLs.
func (s *Server) MediaURLBases() (rtmpBase, flvBase string) { return s.glue.urls.rtmp, s.glue.urls.flv }

// HTTPAddr is the address the HTTP server listens on (after Start).
func (s *Server) HTTPAddr() net.Addr { return s.httpLn.Addr() }

// WebSocketURL is the signalling URL clients are told to use.
func (s *Server) WebSocketURL() string {
	scheme := "ws"
	if s.cfg.TLS.Enabled() {
		scheme = "wss"
	}
	return fmt.Sprintf("%s://%s/ws", scheme, net.JoinHostPort(s.cfg.Host, portOf(s.HTTPAddr())))
}

func portOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return fmt.Sprint(ta.Port)
	}
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// Run starts the server and serves until ctx ends, then shuts down.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-s.served:
		s.served <- err
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	return s.Shutdown(sctx)
}

// Shutdown tells clients the server is going away, stops serving and closes
// the store. Calling it again returns the first call's result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	s.log.Info("shutting down")
	var errs []error
	if err := s.signal.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("signalling: %w", err))
	}
	if s.rtc != nil && s.rtc.engine != nil {
		if err := s.rtc.shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("webrtc: %w", err))
		}
	}
	// Media before HTTP: HTTP-FLV players are hijacked connections that
	// http.Server.Shutdown does not wait for; ending the streams ends them.
	s.hub.Shutdown()
	if s.rtmpLn != nil {
		if err := s.rtmp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("rtmp: %w", err))
		}
		s.rtmpWG.Wait()
	}
	if s.httpSrv != nil {
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http: %w", err))
		}
		if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("http: %w", err))
		}
	}
	s.stopWebhooks(ctx) // after the rooms ended, before the store closes
	if err := s.stopUsage(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("store: %w", err))
	}
	s.log.Info("stopped")
	return errors.Join(errs...)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /ws", s.signal)
	mux.Handle("/flv/", s.flv)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle(api.Prefix+"/", s.api)
	if s.cfg.Demo.Enabled {
		s.mountDemo(mux)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}))
	if s.cfg.Debug.Endpoints {
		mountDebug(mux)
	}
	return mux
}

// hostname is for /healthz; failures just leave it empty.
func hostname() string {
	h, _ := os.Hostname()
	return h
}

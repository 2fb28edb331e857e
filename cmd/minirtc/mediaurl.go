package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/server"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// mediaFlags are what ingest and url commands share: where the app secret
// is, and how the server's URLs look (from its config file and MINIRTC_*
// environment, like "minirtc serve").
type mediaFlags struct {
	dataDir, configPath string
	app, room, user     string
	ttl                 time.Duration
	field               string
	rtmpBase, flvBase   string
}

// print writes out as JSON, or only one of its fields with --field.
func (f *mediaFlags) print(cmd *cobra.Command, out map[string]any) error {
	if f.field == "" {
		return writeIndentedJSON(cmd.OutOrStdout(), out)
	}
	v, ok := out[f.field]
	if !ok {
		return fmt.Errorf("--field %q: not one of the output's fields", f.field)
	}
	_, err := fmt.Fprintln(cmd.OutOrStdout(), v)
	return err
}

func (f *mediaFlags) add(cmd *cobra.Command, ttlDefault time.Duration) {
	fl := cmd.Flags()
	fl.StringVar(&f.configPath, "config", "", "the server's YAML config, for host, ports and public URLs (MINIRTC_* variables apply too)")
	fl.StringVar(&f.app, "app", "", "app id (required)")
	fl.StringVar(&f.room, "room", "", "room id (required)")
	fl.DurationVar(&f.ttl, "ttl", ttlDefault, "how long the URL can be used to start, at most 720h")
	fl.StringVar(&f.field, "field", "", "print only this field of the JSON output (e.g. url, flv)")
	fl.StringVar(&f.rtmpBase, "rtmp-base", "", "scheme://host:port of RTMP URLs (default: from the config)")
	fl.StringVar(&f.flvBase, "flv-base", "", "scheme://host:port of HTTP-FLV URLs (default: from the config)")
	cmd.MarkFlagRequired("app")
	cmd.MarkFlagRequired("room")
}

// secretAndBases validates the common flags and loads the app secret and URL bases.
func (f *mediaFlags) secretAndBases(ctx context.Context) (secret, rtmpBase, flvBase string, err error) {
	if f.ttl <= 0 || f.ttl > auth.MaxTTL {
		return "", "", "", fmt.Errorf("--ttl %s is out of range; it must be more than 0 and at most %s", f.ttl, auth.MaxTTL)
	}
	if err := ids.AppID(f.app).Validate(); err != nil {
		return "", "", "", fmt.Errorf("--app: %w", err)
	}
	if err := ids.RoomID(f.room).Validate(); err != nil {
		return "", "", "", fmt.Errorf("--room: %w", err)
	}
	cfg, err := config.Load(f.configPath, os.Environ())
	if err != nil {
		return "", "", "", err
	}
	if f.rtmpBase != "" {
		cfg.Media.PublicRTMPURL = f.rtmpBase
	}
	if f.flvBase != "" {
		cfg.Media.PublicFLVURL = f.flvBase
	}
	if err := cfg.Validate(); err != nil {
		return "", "", "", fmt.Errorf("--rtmp-base/--flv-base: %w", err)
	}
	rtmpBase, flvBase = server.MediaBases(cfg)
	db, err := openDataStore(ctx, f.dataDir, false)
	if err != nil {
		return "", "", "", err
	}
	defer db.Close()
	a, err := db.GetApp(ctx, ids.AppID(f.app))
	if errors.Is(err, store.ErrNotFound) {
		return "", "", "", fmt.Errorf("app %q not found in %s; see \"minirtc app list\"", f.app, db.Path())
	}
	if err != nil {
		return "", "", "", err
	}
	return a.Secret, rtmpBase, flvBase, nil
}

func newIngestCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "ingest", Short: "Let an external encoder (OBS, ffmpeg) publish into a room"}
	var f mediaFlags
	addDataDirFlag(cmd, &f.dataDir)
	var tag string
	create := &cobra.Command{
		Use:   "create --app ID --room R --user U [--tag T] [--ttl D]",
		Short: "Print a signed RTMP URL that publishes into a room as user U",
		Long: "Print JSON with a signed RTMP URL. Pushing to it joins user U to the room as a participant\n" +
			"that publishes stream U_T; U leaves when the push ends (after the unpublish grace).\n" +
			"U must not be in the room otherwise. In OBS use the part before the last '/' as the server\n" +
			"and the rest as the stream key.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret, rtmpBase, _, err := f.secretAndBases(cmd.Context())
			if err != nil {
				return err
			}
			if err := ids.UserID(f.user).Validate(); err != nil {
				return fmt.Errorf("--user: %w", err)
			}
			t := ids.Tag(tag).OrDefault()
			if err := t.Validate(); err != nil {
				return fmt.Errorf("--tag: %w", err)
			}
			g := auth.MediaGrant{Action: auth.ActionIngest, App: ids.AppID(f.app), Room: ids.RoomID(f.room),
				Stream: ids.Stream(ids.UserID(f.user), t), User: ids.UserID(f.user), Expires: time.Now().Add(f.ttl).Truncate(time.Second)}
			return f.print(cmd, map[string]any{
				"url": server.PushURLFor(rtmpBase, secret, g), "stream": g.Stream, "user": g.User, "room": g.Room,
				"expires_at": cliTime(g.Expires),
			})
		},
	}
	f.add(create, time.Hour)
	create.Flags().StringVar(&f.user, "user", "", "user id the encoder appears as (required)")
	create.Flags().StringVar(&tag, "tag", "main", "stream tag; the stream id is USER_TAG")
	create.MarkFlagRequired("user")
	cmd.AddCommand(create)
	return cmd
}

func newURLCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "url", Short: "Sign media URLs"}
	var f mediaFlags
	addDataDirFlag(cmd, &f.dataDir)
	var stream string
	play := &cobra.Command{
		Use:   "play --app ID --room R --stream S [--user U] [--ttl D]",
		Short: "Print signed RTMP and HTTP-FLV URLs to watch a stream from outside the room",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret, rtmpBase, flvBase, err := f.secretAndBases(cmd.Context())
			if err != nil {
				return err
			}
			if err := ids.Validate("--stream", stream); err != nil {
				return err
			}
			if f.user != "" {
				if err := ids.UserID(f.user).Validate(); err != nil {
					return fmt.Errorf("--user: %w", err)
				}
			}
			g := auth.MediaGrant{Action: auth.ActionView, App: ids.AppID(f.app), Room: ids.RoomID(f.room),
				Stream: ids.StreamID(stream), User: ids.UserID(f.user), Expires: time.Now().Add(f.ttl).Truncate(time.Second)}
			u := server.PlayURLsFor(rtmpBase, flvBase, secret, g)
			return f.print(cmd, map[string]any{
				"rtmp": u.RTMP, "flv": u.FLV, "stream": g.Stream, "room": g.Room, "expires_at": cliTime(g.Expires),
			})
		},
	}
	f.add(play, time.Hour)
	play.Flags().StringVar(&stream, "stream", "", "stream id, USER_TAG (required)")
	play.Flags().StringVar(&f.user, "user", "", "who watches, for logs (optional)")
	play.MarkFlagRequired("stream")
	cmd.AddCommand(play)
	return cmd
}

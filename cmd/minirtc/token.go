package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

func newTokenCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint tokens for trying things out, and check tokens",
	}
	addDataDirFlag(cmd, &dataDir)
	cmd.AddCommand(newTokenCreateCmd(&dataDir), newTokenVerifyCmd(&dataDir))
	return cmd
}

func newTokenCreateCmd(dataDir *string) *cobra.Command {
	var (
		app, user, room, grants, name, metadata string
		ttl                                     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create --app ID --user U [--room R] [--ttl 1h] [--grants LIST] [--name NAME] [--metadata JSON]",
		Short: "Mint a token signed with the app's secret",
		Long: "Mint a token signed with the app's current secret. A description goes to stderr and the\n" +
			"token alone to stdout, so TOKEN=$(minirtc token create ...) works.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ttl <= 0 || ttl > auth.MaxTTL {
				return fmt.Errorf("--ttl %s is out of range; it must be more than 0 and at most %s (30 days)", ttl, auth.MaxTTL)
			}
			c := auth.Claims{App: ids.AppID(app), User: ids.UserID(user), Room: ids.RoomID(room), Name: name, Metadata: metadata}
			if err := c.App.Validate(); err != nil {
				return fmt.Errorf("--app: %w", err)
			}
			if err := c.User.Validate(); err != nil {
				return fmt.Errorf("--user: %w", err)
			}
			if c.Room != "" {
				if err := c.Room.Validate(); err != nil {
					return fmt.Errorf("--room: %w", err)
				}
			}
			// Without --grants the token gets the default set; --grants ""
			// deliberately asks for a token with no grants.
			if cmd.Flags().Changed("grants") {
				g, err := auth.ParseGrants(grants)
				if err != nil {
					return fmt.Errorf("--grants: %w", err)
				}
				c.Grants = g
			} else {
				c.Grants = auth.DefaultGrants()
			}
			db, err := openDataStore(cmd.Context(), *dataDir, false)
			if err != nil {
				return err
			}
			defer db.Close()
			a, err := db.GetApp(cmd.Context(), c.App)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("app %q not found in %s; see \"minirtc app list\"", c.App, db.Path())
			}
			if err != nil {
				return err
			}
			c.IssuedAt = time.Now()
			c.ExpiresAt = c.IssuedAt.Add(ttl)
			tok, err := auth.Mint(a.Secret, c)
			if err != nil {
				return err
			}
			describeToken(cmd.ErrOrStderr(), c)
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&app, "app", "", "app id (required)")
	f.StringVar(&user, "user", "", "user id: letters, digits, '_' and '-' (required)")
	f.StringVar(&room, "room", "", "room id the token is limited to (default: any room of the app)")
	f.DurationVar(&ttl, "ttl", time.Hour, "how long the token is valid, at most 720h (30 days)")
	f.StringVar(&grants, "grants", "publish,subscribe,data", "comma-separated grants from publish, subscribe, data, admin")
	f.StringVar(&name, "name", "", fmt.Sprintf("display name, at most %d bytes", auth.MaxNameLen))
	f.StringVar(&metadata, "metadata", "", fmt.Sprintf("metadata handed to other participants as is (usually JSON), at most %d bytes", auth.MaxMetadataLen))
	cmd.MarkFlagRequired("app")
	cmd.MarkFlagRequired("user")
	return cmd
}

func describeToken(w io.Writer, c auth.Claims) {
	where := "any room"
	if c.Room != "" {
		where = "room " + string(c.Room)
	}
	g := make([]string, len(c.Grants))
	for i, x := range c.Grants {
		g[i] = string(x)
	}
	grants := strings.Join(g, ",")
	if grants == "" {
		grants = "none"
	}
	fmt.Fprintf(w, "token for user %s in %s of app %s, grants %s\n", c.User, where, c.App, grants)
	fmt.Fprintf(w, "expires %s (in %s)\n", cliTime(c.ExpiresAt), c.ExpiresAt.Sub(c.IssuedAt).Round(time.Second))
}

func newTokenVerifyCmd(dataDir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "verify TOKEN",
		Short: "Check a token against the app's secret; print its claims or why it is invalid",
		Long: "Check a token. A valid token's claims are printed as JSON (exit status 0); otherwise\n" +
			"\"invalid token: <reason>\" goes to stderr and the exit status is 2.\n" +
			"Pass - as TOKEN to read it from stdin (keeps it out of shell history).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			token := args[0]
			if token == "-" {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), auth.MaxTokenLen+2))
				if err != nil {
					return fmt.Errorf("read token from stdin: %w", err)
				}
				token = string(b)
			}
			token = strings.TrimSpace(token) // tolerate a pasted newline
			db, err := openDataStore(cmd.Context(), *dataDir, false)
			if err != nil {
				return err
			}
			defer db.Close()
			v := &auth.Verifier{Apps: db}
			c, err := v.Verify(cmd.Context(), token)
			if err != nil {
				if !isTokenError(err) {
					return err // the store failed; that says nothing about the token
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "invalid token: %v\n", err)
				return exitError{code: 2}
			}
			return writeIndentedJSON(cmd.OutOrStdout(), c)
		},
	}
}

func isTokenError(err error) bool {
	for _, e := range []error{auth.ErrMalformed, auth.ErrUnknownApp, auth.ErrBadSignature, auth.ErrExpired, auth.ErrNotYetValid} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

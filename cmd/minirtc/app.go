package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/minirtc/minirtc/internal/auth"
	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

func newAppCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "app",
		Short: "Create apps, list them and rotate their secrets",
	}
	addDataDirFlag(cmd, &dataDir)
	cmd.AddCommand(newAppCreateCmd(&dataDir), newAppListCmd(&dataDir), newAppRotateCmd(&dataDir), newAppWebhookCmd(&dataDir))
	return cmd
}

// appJSON is how the CLI shows an app. Secret is only filled where the
// command's purpose is to hand it out.
type appJSON struct {
	ID        ids.AppID `json:"id"`
	Name      string    `json:"name"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt string    `json:"created_at"`
}

func newAppCreateCmd(dataDir *string) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create an app and print its id and secret (as JSON)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := store.ValidateAppName(name); err != nil {
				return fmt.Errorf("--name: %w", err)
			}
			db, err := openDataStore(cmd.Context(), *dataDir, true)
			if err != nil {
				return err
			}
			defer db.Close()
			a, err := db.CreateApp(cmd.Context(), name)
			if err != nil {
				return err
			}
			return writeIndentedJSON(cmd.OutOrStdout(), appJSON{ID: a.ID, Name: a.Name, Secret: a.Secret, CreatedAt: cliTime(a.CreatedAt)})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", fmt.Sprintf("app name, 1 to %d characters (required)", store.MaxAppNameLen))
	cmd.MarkFlagRequired("name")
	return cmd
}

func newAppListCmd(dataDir *string) *cobra.Command {
	var asJSON, showSecrets bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List apps, oldest first (secrets are never shown in the table)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showSecrets && !asJSON {
				return errors.New("--show-secrets only works with --json; the table never shows secrets")
			}
			db, err := openDataStore(cmd.Context(), *dataDir, false)
			if err != nil {
				return err
			}
			defer db.Close()
			apps, err := db.ListApps(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]appJSON, 0, len(apps))
				for _, a := range apps {
					j := appJSON{ID: a.ID, Name: a.Name, CreatedAt: cliTime(a.CreatedAt)}
					if showSecrets {
						j.Secret = a.Secret
					}
					out = append(out, j)
				}
				return writeIndentedJSON(cmd.OutOrStdout(), out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED")
			for _, a := range apps {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", a.ID, a.Name, cliTime(a.CreatedAt))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	cmd.Flags().BoolVar(&showSecrets, "show-secrets", false, "include each app's current secret in the JSON")
	return cmd
}

func newAppRotateCmd(dataDir *string) *cobra.Command {
	var (
		app     string
		overlap time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rotate-secret --app ID [--overlap 24h]",
		Short: "Give an app a new secret; the old one keeps working for --overlap",
		Long: "Give an app a new secret. Tokens signed with the old secret keep working for --overlap\n" +
			"(default 24h) so app servers can switch over; --overlap 0 stops the old secret at once.\n" +
			"A running server notices within a few seconds.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id := ids.AppID(app)
			if err := id.Validate(); err != nil {
				return fmt.Errorf("--app: %w", err)
			}
			if overlap < 0 || overlap > auth.MaxTTL {
				return fmt.Errorf("--overlap %s is out of range; use 0 (old secret stops at once) up to %s (the longest token lifetime)", overlap, auth.MaxTTL)
			}
			db, err := openDataStore(cmd.Context(), *dataDir, false)
			if err != nil {
				return err
			}
			defer db.Close()
			now := time.Now()
			a, err := db.RotateSecret(cmd.Context(), id, overlap, now)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("app %q not found in %s; see \"minirtc app list\"", id, db.Path())
			}
			if err != nil {
				return err
			}
			return writeIndentedJSON(cmd.OutOrStdout(), struct {
				ID                       ids.AppID `json:"id"`
				Secret                   string    `json:"secret"`
				PreviousSecretValidUntil string    `json:"previous_secret_valid_until"`
			}{a.ID, a.Secret, cliTime(now.Add(overlap))})
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "app id (required)")
	cmd.Flags().DurationVar(&overlap, "overlap", 24*time.Hour, "how long the old secret stays valid (0 = not at all)")
	cmd.MarkFlagRequired("app")
	return cmd
}

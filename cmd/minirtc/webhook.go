package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/minirtc/minirtc/internal/store"
	"github.com/minirtc/minirtc/pkg/ids"
)

// newAppWebhookCmd configures an app's webhooks straight in the data
// directory (a running server sees changes at its next delivery).
func newAppWebhookCmd(dataDir *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Set or show an app's webhook URLs and signing secret",
		Long: "Webhooks POST each room event (room created/destroyed, user joined/left, stream published/\n" +
			"unpublished/state changed) to the app's URLs, signed with its webhook secret; docs/webhooks.md\n" +
			"says how receivers verify them.",
	}
	cmd.AddCommand(newAppWebhookSetCmd(dataDir), newAppWebhookShowCmd(dataDir))
	return cmd
}

// webhookJSON is how the CLI shows an app's webhook settings.
type webhookJSON struct {
	App       ids.AppID            `json:"app"`
	URLs      []string             `json:"urls"`
	Secret    string               `json:"secret"`
	UpdatedAt string               `json:"updated_at,omitempty"`
	Counts    *store.WebhookCounts `json:"deliveries,omitempty"`
	Recent    []deliveryJSON       `json:"recent,omitempty"`
}

type deliveryJSON struct {
	ID          int64  `json:"id"`
	Event       string `json:"event"`
	Type        string `json:"type"`
	Room        string `json:"room"`
	Seq         int64  `json:"seq"`
	URL         string `json:"url"`
	State       string `json:"state"`
	Attempts    int    `json:"attempts"`
	LastStatus  int    `json:"last_status,omitempty"`
	LastError   string `json:"last_error,omitempty"`
	NextAttempt string `json:"next_attempt,omitempty"`
	CreatedAt   string `json:"created_at"`
}

func settingsJSON(s store.WebhookSettings) webhookJSON {
	j := webhookJSON{App: s.App, URLs: s.URLs, Secret: s.Secret}
	if j.URLs == nil {
		j.URLs = []string{}
	}
	if !s.UpdatedAt.IsZero() {
		j.UpdatedAt = cliTime(s.UpdatedAt)
	}
	return j
}

func appFlag(app string) (ids.AppID, error) {
	id := ids.AppID(app)
	if err := id.Validate(); err != nil {
		return "", fmt.Errorf("--app: %w", err)
	}
	return id, nil
}

func newAppWebhookSetCmd(dataDir *string) *cobra.Command {
	var (
		app, secret   string
		urls          []string
		rotate, clear bool
	)
	cmd := &cobra.Command{
		Use:   "set --app ID (--url URL [--url URL2 ...] | --clear) [--secret S | --rotate-secret]",
		Short: "Replace an app's webhook URLs (and optionally its secret); prints the settings as JSON",
		Long: fmt.Sprintf("Replace an app's webhook URLs: 1 to %d http(s) URLs, or --clear for none (webhooks off).\n"+
			"The signing secret is kept, or generated on first use; --secret sets one (%d to %d printable ASCII\n"+
			"characters), --rotate-secret generates a new one. Pending deliveries to URLs no longer listed\n"+
			"are given up. The output includes the secret: receivers need it to verify deliveries.",
			store.MaxWebhookURLs, store.MinWebhookSecretLen, store.MaxWebhookSecretLen),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := appFlag(app)
			if err != nil {
				return err
			}
			switch {
			case clear && len(urls) > 0:
				return errors.New("--clear and --url do not go together: --clear removes every URL")
			case !clear && len(urls) == 0:
				return errors.New("give at least one --url, or --clear to remove them all")
			case len(urls) > store.MaxWebhookURLs:
				return fmt.Errorf("%d URLs given; an app has at most %d", len(urls), store.MaxWebhookURLs)
			case rotate && secret != "":
				return errors.New("--secret and --rotate-secret do not go together")
			}
			for _, u := range urls {
				if err := store.ValidateWebhookURL(u); err != nil {
					return fmt.Errorf("--url: %w", err)
				}
			}
			if secret != "" {
				if err := store.ValidateWebhookSecret(secret); err != nil {
					return fmt.Errorf("--secret: %w", err)
				}
			}
			if rotate {
				secret = store.NewSecret()
			}
			db, err := openDataStore(cmd.Context(), *dataDir, false)
			if err != nil {
				return err
			}
			defer db.Close()
			s, err := db.PutWebhookSettings(cmd.Context(), store.WebhookSettings{App: id, URLs: urls, Secret: secret}, time.Now())
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("app %q not found; see \"minirtc app list\"", id)
			}
			if err != nil {
				return err
			}
			return writeIndentedJSON(cmd.OutOrStdout(), settingsJSON(s))
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "app id (required)")
	cmd.Flags().StringArrayVar(&urls, "url", nil, fmt.Sprintf("receiver URL, http:// or https://; repeat for up to %d", store.MaxWebhookURLs))
	cmd.Flags().BoolVar(&clear, "clear", false, "remove every URL (turns the app's webhooks off)")
	cmd.Flags().StringVar(&secret, "secret", "", "signing secret to use (default: keep the current one, or generate one)")
	cmd.Flags().BoolVar(&rotate, "rotate-secret", false, "generate a new signing secret (receivers must switch to it)")
	cmd.MarkFlagRequired("app")
	return cmd
}

func newAppWebhookShowCmd(dataDir *string) *cobra.Command {
	var (
		app    string
		recent int
	)
	cmd := &cobra.Command{
		Use:   "show --app ID [--recent N]",
		Short: "Print an app's webhook settings, delivery counts and recent deliveries as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := appFlag(app)
			if err != nil {
				return err
			}
			if recent < 0 || recent > store.MaxWebhookDeliveryLimit {
				return fmt.Errorf("--recent must be 0 to %d, got %d", store.MaxWebhookDeliveryLimit, recent)
			}
			db, err := openDataStore(cmd.Context(), *dataDir, false)
			if err != nil {
				return err
			}
			defer db.Close()
			s, err := db.WebhookSettings(cmd.Context(), id)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("app %q not found; see \"minirtc app list\"", id)
			}
			if err != nil {
				return err
			}
			out := settingsJSON(s)
			c, err := db.CountWebhookDeliveries(cmd.Context(), id)
			if err != nil {
				return err
			}
			out.Counts = &c
			if recent > 0 {
				ds, err := db.ListWebhookDeliveries(cmd.Context(), store.WebhookDeliveryQuery{App: id, Limit: recent})
				if err != nil {
					return err
				}
				for _, d := range ds {
					j := deliveryJSON{ID: d.ID, Event: d.Event.ID, Type: d.Event.Type, Room: string(d.Event.Room), Seq: d.Event.Seq,
						URL: d.URL, State: string(d.State), Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError,
						CreatedAt: cliTime(d.CreatedAt)}
					if d.State == store.WebhookPending {
						j.NextAttempt = cliTime(d.NextAttemptAt)
					}
					out.Recent = append(out.Recent, j)
				}
			}
			return writeIndentedJSON(cmd.OutOrStdout(), out)
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "app id (required)")
	cmd.Flags().IntVar(&recent, "recent", 0, "also list this many most recent deliveries, newest first")
	cmd.MarkFlagRequired("app")
	return cmd
}

// Command minirtc is the minirtc server and its command-line tools: serve,
// app and token management, reports and the load tool.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		var ex exitError
		if errors.As(err, &ex) {
			os.Exit(ex.code)
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// exitError carries a specific exit status for commands (token verify) whose
// exit status is part of their interface; the message has already been printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "minirtc",
		Short:         "Self-hosted real-time audio/video rooms for mini-programs, browsers and bots",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServeCmd(),
		newAppCmd(),
		newTokenCmd(),
		newReportCmd(),
		newUsageCmd(),
		newIngestCmd(),
		newURLCmd(),
		newBenchCmd(),
	)
	return root
}

package main

// TEMPORARY: stand-in for newBenchCmd so this package
// compiles (and the app/token/report CLI tests run) until bench*.go lands. Delete this file as soon as they exist.

import "github.com/spf13/cobra"

func newBenchCmd() *cobra.Command {
	return &cobra.Command{Use: "bench", Short: "(not yet implemented)"}
}

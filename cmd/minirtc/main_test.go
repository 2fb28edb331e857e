package main

import (
	"os"
	"testing"

	"github.com/minirtc/minirtc/internal/store/pgtest"
)

// TestMain lets the tests that need PostgreSQL (storeflag_test.go) share one
// throwaway cluster, stopped when they end.
func TestMain(m *testing.M) { os.Exit(pgtest.Wrap(m).Run()) }

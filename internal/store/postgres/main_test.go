package postgres

import (
	"testing"

	"github.com/minirtc/minirtc/internal/store/pgtest"
)

// TestMain shares one throwaway PostgreSQL among the tests (or uses
// MINIRTC_TEST_POSTGRES_DSN) and checks for leaked goroutines.
func TestMain(m *testing.M) { pgtest.Main(m) }

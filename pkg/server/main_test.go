package server

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: the client's
// connections, the servers the tests start, the clients that join.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

package e2e

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/servertest"
)

// TestRTMPLimitsFromConfig checks that media.rtmp_max_conns and
// media.rtmp_handshake_timeout reach the RTMP server: a connection over
// the limit is closed at once, and one that never completes its handshake
// is closed after the timeout.
func TestRTMPLimitsFromConfig(t *testing.T) {
	const timeout = 300 * time.Millisecond
	env := servertest.Start(t, func(c *config.Config) {
		c.Media.RTMPMaxConns = 1
		c.Media.RTMPHandshakeTimeout = timeout
	})
	addr := env.Server.RTMPAddr().String()

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	time.Sleep(50 * time.Millisecond) // let the server count it

	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	if got := closedWithin(t, over, timeout/2); !got {
		t.Fatalf("a connection over media.rtmp_max_conns (1) stayed open")
	}

	start := time.Now()
	if !closedWithin(t, idle, 5*time.Second) {
		t.Fatal("an idle connection outlived media.rtmp_handshake_timeout by seconds")
	}
	if took := time.Since(start); took < timeout/2 {
		t.Fatalf("idle connection closed after %s, before the %s handshake timeout", took, timeout)
	}
}

// closedWithin reports whether the server closed c within d.
func closedWithin(t *testing.T, c net.Conn, d time.Duration) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("the server sent bytes to a client that sent none")
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err == io.EOF || err != nil
}

//go:build !linux

package main

import (
	"net"
	"sync/atomic"
)

// tsConn would time reads at the socket (SO_TIMESTAMPNS); only on Linux.
type tsConn struct {
	at int64
}

func newTSConn(net.Conn, *atomic.Int64, *atomic.Int64) *tsConn { return nil }

func (t *tsConn) Read([]byte) (int, error) { panic("unreachable") }

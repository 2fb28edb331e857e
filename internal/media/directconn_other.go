//go:build !linux

package media

import "net"

// DirectConn is Linux-only (non-blocking writev on the raw socket).
// Elsewhere NewDirectConn returns nil and every player is written by its
// own goroutine.
type DirectConn struct{}

// NewDirectConn returns nil outside Linux.
func NewDirectConn(net.Conn) *DirectConn { return nil }

// TryWrite is never called on a nil DirectConn.
func (d *DirectConn) TryWrite([][]byte) (int, bool) { return 0, false }

// Rest returns nothing outside Linux.
func (d *DirectConn) Rest() ([][]byte, error) { return nil, nil }

package media

import (
	"errors"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// DirectConn writes byte slices to a TCP connection without blocking, for
// DirectWriter implementations. What a write could not send (or the error
// that stopped it) is kept until the egress takes it with Rest.
type DirectConn struct {
	rc   syscall.RawConn
	rest [][]byte
	err  error
	iov  []syscall.Iovec
}

// NewDirectConn returns a DirectConn for c, or nil where non-blocking
// writes are not available (TLS, other operating systems): such players
// are always written by their own goroutine.
func NewDirectConn(c net.Conn) *DirectConn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return &DirectConn{rc: rc}
}

// TryWrite writes bufs with as few non-blocking writev calls as it takes.
// It reports the bytes written and whether all of bufs went out; if not,
// Rest returns what is left (or the error). bufs itself is not modified.
func (d *DirectConn) TryWrite(bufs [][]byte) (int, bool) {
	if d.err != nil || len(d.rest) > 0 {
		return 0, false // the egress has not flushed the last rest yet
	}
	total, skip := 0, 0 // skip: bytes of bufs[0] already written
	for len(bufs) > 0 {
		n, err := d.writev(bufs, skip)
		total += n
		bufs, skip = consume(bufs, skip+n)
		if err != nil {
			if err != syscall.EAGAIN {
				d.err = err
			}
			break
		}
	}
	if len(bufs) == 0 && d.err == nil {
		return total, true
	}
	// Copy the slice headers: bufs belongs to the caller's reused buffer.
	d.rest = append(d.rest[:0], bufs...)
	if len(d.rest) > 0 {
		d.rest[0] = d.rest[0][skip:]
	}
	return total, false
}

// Rest returns the bytes a TryWrite could not send, or the error that
// stopped it, and forgets them: the egress writes them (blocking) before its
// next batch.
func (d *DirectConn) Rest() ([][]byte, error) {
	rest, err := d.rest, d.err
	d.rest, d.err = nil, nil
	return rest, err
}

func (d *DirectConn) writev(bufs [][]byte, skip int) (int, error) {
	d.iov = d.iov[:0]
	for i, b := range bufs {
		if i == 0 {
			b = b[skip:]
		}
		if len(b) == 0 {
			continue
		}
		d.iov = append(d.iov, syscall.Iovec{Base: &b[0]})
		d.iov[len(d.iov)-1].SetLen(len(b))
		if len(d.iov) == maxIovecs {
			break
		}
	}
	if len(d.iov) == 0 {
		return 0, nil
	}
	var n int
	var werr error
	err := d.rc.Write(func(fd uintptr) bool {
		n, werr = rawWritev(fd, d.iov)
		return true // never wait: a full socket goes back to the player's goroutine
	})
	clear(d.iov) // do not keep the frames' memory alive
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The write deadline of the last blocking write ran out while the
		// writers served the player: not a failure. The player's goroutine
		// renews it with the rest.
		return 0, syscall.EAGAIN
	}
	if err != nil {
		return 0, err
	}
	if werr == syscall.EINTR {
		werr = syscall.EAGAIN
	}
	return max(n, 0), werr
}

// maxIovecs stays under the kernel's IOV_MAX (1024).
const maxIovecs = 1024

// consume drops the first n bytes of bufs: whole slices are dropped, and
// skip is what is written of the new bufs[0].
func consume(bufs [][]byte, n int) (rest [][]byte, skip int) {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	return bufs, n
}

// rawWritev is writev(2) on a non-blocking socket. RawSyscall skips the
// scheduler hand-off of a blocking system call: the call cannot block.
func rawWritev(fd uintptr, iov []syscall.Iovec) (int, error) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

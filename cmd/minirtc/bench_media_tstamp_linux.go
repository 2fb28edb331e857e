package main

import (
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// tsConn reads a TCP connection with recvmsg and SO_TIMESTAMPNS, so that
// every read also says when its bytes reached the socket: frames can then
// be timed twice, when the kernel had them (the server's share of the
// latency) and when the reader handled them (plus this tool's own
// queueing, which grows as its core fills up). Nothing is allocated per
// read: the message header, its vector and the control buffer live here.
type tsConn struct {
	rc    syscall.RawConn
	count *atomic.Int64 // bytes
	calls *atomic.Int64 // recvmsg calls, including those that found nothing
	fn    func(fd uintptr) bool
	msg   syscall.Msghdr
	iov   syscall.Iovec
	oob   [8]uint64 // control messages, 8-byte aligned
	n     int
	errno syscall.Errno
	// at is when the data of the last read reached the socket, on the
	// monoNow clock (0: unknown).
	at int64
}

// newTSConn wraps c; it returns nil when c is not a TCP connection or
// the option cannot be set (frames are then timed at the reader only).
func newTSConn(c net.Conn, count, calls *atomic.Int64) *tsConn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return nil
	}
	t := &tsConn{rc: rc, count: count, calls: calls}
	t.msg.Iov = &t.iov
	t.msg.Iovlen = 1
	t.msg.Control = (*byte)(unsafe.Pointer(&t.oob[0]))
	t.fn = t.recv
	return t
}

func (t *tsConn) recv(fd uintptr) bool {
	t.msg.SetControllen(int(unsafe.Sizeof(t.oob)))
	t.msg.Flags = 0
	n, _, e := syscall.Syscall(syscall.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&t.msg)), 0)
	t.calls.Add(1)
	if e == syscall.EAGAIN {
		return false // wait for the poller
	}
	t.n, t.errno = int(n), e
	return true
}

func (t *tsConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	t.iov.Base = &p[0]
	t.iov.SetLen(len(p))
	err := t.rc.Read(t.fn)
	t.iov.Base = nil
	switch {
	case err != nil:
		return 0, err
	case t.errno != 0:
		return 0, t.errno
	case t.n == 0:
		return 0, io.EOF
	}
	t.count.Add(int64(t.n))
	oob := unsafe.Slice((*byte)(unsafe.Pointer(&t.oob[0])), unsafe.Sizeof(t.oob))
	if k := cmsgTimestamp(oob[:t.msg.Controllen]); k > 0 {
		// The kernel stamps with CLOCK_REALTIME; convert through the gap
		// to now, which is short, so clock slewing does not matter.
		t.at = monoNow() - (time.Now().UnixNano() - k)
	}
	return t.n, nil
}

// cmsgTimestamp finds SCM_TIMESTAMPNS in control messages. b must be
// aligned like the kernel's buffer.
func cmsgTimestamp(b []byte) int64 {
	hdr := syscall.CmsgLen(0)
	for len(b) >= hdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&b[0]))
		l := int(h.Len)
		if l < hdr || l > len(b) {
			return 0
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SO_TIMESTAMPNS && l >= syscall.CmsgLen(int(unsafe.Sizeof(syscall.Timespec{}))) {
			return (*syscall.Timespec)(unsafe.Pointer(&b[hdr])).Nano()
		}
		b = b[min(syscall.CmsgSpace(l-hdr), len(b)):]
	}
	return 0
}

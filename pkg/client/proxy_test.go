package client

import (
	"net"
	"sync"
	"testing"
)

// proxy is a TCP relay between the client and the server that a test can
// sever (Cut), refuse new connections through (Block), or make swallow what
// the server sends (Deafen: requests still reach the server, responses and
// events are lost), to stage network failures with a real server.
type proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	blocked bool
	deaf    bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	accepts int
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Go(p.serve)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.accepts++
		blocked := p.blocked
		p.mu.Unlock()
		if blocked {
			_ = down.Close()
			continue
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		up, err := net.Dial("tcp", target)
		if err != nil {
			_ = down.Close()
			continue
		}
		p.mu.Lock()
		p.conns[down], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(up, down, false) })
		p.wg.Go(func() { p.pipe(down, up, true) })
	}
}

// pipe copies src to dst; fromServer data is dropped while deaf.
func (p *proxy) pipe(dst, src net.Conn, fromServer bool) {
	defer func() {
		_ = dst.Close()
		_ = src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop := fromServer && p.deaf
			p.mu.Unlock()
			if !drop {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// cut closes every relayed connection, as a network failure would.
func (p *proxy) cut() {
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
}

// block makes new connections fail (true) or pass again (false).
func (p *proxy) block(b bool) {
	p.mu.Lock()
	p.blocked = b
	p.mu.Unlock()
}

// deafen drops (true) or relays again (false) the server's bytes.
func (p *proxy) deafen(b bool) {
	p.mu.Lock()
	p.deaf = b
	p.mu.Unlock()
}

// retarget sends new connections to another server.
func (p *proxy) retarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

func (p *proxy) acceptCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepts
}

func (p *proxy) close() {
	_ = p.ln.Close()
	p.cut()
	p.wg.Wait()
}

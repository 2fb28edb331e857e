package main

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestTSConn reads through recvmsg with socket timestamps: the bytes, the
// count, a plausible arrival time, EOF, and no allocation per read.
func TestTSConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	var n, calls atomic.Int64
	ts := newTSConn(client, &n, &calls)
	if ts == nil {
		t.Fatal("no socket timestamps on a TCP connection")
	}
	buf, x := make([]byte, 64), []byte("x")
	// The kernel turns timestamping on for the whole system in the
	// background when the first socket asks: warm up.
	for i := 0; i < 100 && ts.at == 0; i++ {
		if _, err := server.Write(x); err != nil {
			t.Fatal(err)
		}
		if _, err := ts.Read(buf); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	before := monoNow()
	if _, err := server.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the bytes wait in the socket
	k, err := io.ReadFull(ts, buf[:5])
	if err != nil || string(buf[:k]) != "hello" {
		t.Fatalf("read %q, %v, counted %d", buf[:k], err, n.Load())
	}
	if n.Load() < 5 || calls.Load() < 2 {
		t.Errorf("counted %d bytes in %d calls", n.Load(), calls.Load())
	}
	if waited := monoNow() - ts.at; ts.at < before || waited < int64(15*time.Millisecond) || waited > int64(time.Second) {
		t.Errorf("arrival %d ns after the write started, %d ns before the read returned", ts.at-before, waited)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := server.Write(x); err != nil {
			t.Fatal(err)
		}
		if _, err := ts.Read(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per read", allocs)
	}
	server.Close()
	if _, err := ts.Read(buf); err != io.EOF {
		t.Errorf("after close: %v, want EOF", err)
	}
}

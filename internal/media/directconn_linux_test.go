package media

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// TryWrite on a real socket: when the peer reads slowly, writes stop short
// (partway through a slice, too), and what the receiver gets is exactly
// the bytes offered, in order, once the rest is written the blocking way.
func TestDirectConnPartialWrites(t *testing.T) {
	client, server := tcpPair(t)
	server.(*net.TCPConn).SetWriteBuffer(16 << 10) // fill up quickly

	received := make(chan []byte)
	go func() {
		var got bytes.Buffer
		buf := make([]byte, 3000)
		for {
			time.Sleep(200 * time.Microsecond) // a slow reader
			n, err := client.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				received <- got.Bytes()
				return
			}
		}
	}()

	dc := NewDirectConn(server)
	if dc == nil {
		t.Fatal("no DirectConn for a TCP connection on Linux")
	}
	var want bytes.Buffer
	stops := 0
	for i := range 200 {
		bufs := [][]byte{bytes.Repeat([]byte{byte(i)}, 700+i*13%1500), bytes.Repeat([]byte{byte(i + 1)}, 9000)}
		for _, b := range bufs {
			want.Write(b)
		}
		n, complete := dc.TryWrite(bufs)
		if complete {
			continue
		}
		stops++
		rest, err := dc.Rest()
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		left := 0
		for _, b := range rest {
			left += len(b)
		}
		if n+left != len(bufs[0])+len(bufs[1]) {
			t.Fatalf("batch %d: wrote %d, rest %d, of %d", i, n, left, len(bufs[0])+len(bufs[1]))
		}
		if _, err := (*net.Buffers)(&rest).WriteTo(server); err != nil {
			t.Fatal(err)
		}
	}
	server.Close()
	got := <-received
	if stops == 0 {
		t.Fatal("the socket never filled up; the test proves nothing")
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("received %d bytes that differ from the %d offered", len(got), want.Len())
	}
	t.Logf("%d of 200 batches stopped short", stops)
}

// A failed connection is reported through Rest, and TryWrite refuses
// further writes until the egress has taken it.
func TestDirectConnError(t *testing.T) {
	client, server := tcpPair(t)
	client.(*net.TCPConn).SetLinger(0)
	client.Close() // a reset
	dc := NewDirectConn(server)
	var err2 error
	for range 100 {
		if _, complete := dc.TryWrite([][]byte{make([]byte, 1000)}); !complete {
			_, err2 = dc.Rest()
			if err2 != nil {
				break
			}
		}
		time.Sleep(time.Millisecond)
	}
	if err2 == nil {
		t.Fatal("writing to a reset connection never failed")
	}
}

// tcpPair returns both ends of a loopback TCP connection, closed at the
// end of the test.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

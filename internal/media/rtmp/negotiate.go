package rtmp

import (
	"errors"
	"fmt"
	"io"
)

// handshakeSize is C0 + C1 + C2 of the plain RTMP handshake.
const handshakeSize = 1 + 1536 + 1536

// negotiator is the io.ReadWriter that gortmplib's ServerConn talks through
// during the handshake and the connect/createStream/publish|play commands.
//
// Reads pass the handshake through, then come from our bounded chunkReader:
// each AMF0 command is handed to gortmplib re-chunked at its default chunk
// size (128), and everything else (chunk-size changes, acks, stray media) is
// consumed here. gortmplib therefore never sees a size it did not get bytes
// for. Read never returns bytes past the end of the current command, so when
// AcceptConn returns on the publish or play command, gortmplib has buffered
// nothing and the session continues on the same chunkReader.
type negotiator struct {
	w   io.Writer
	cr  *chunkReader
	hs  int // handshake bytes still to pass through
	out []byte
	off int
}

func newNegotiator(w io.Writer, cr *chunkReader) *negotiator {
	return &negotiator{w: w, cr: cr, hs: handshakeSize}
}

var (
	errRTMPE    = errors.New("rtmp: encrypted RTMP (RTMPE) is not supported; use rtmps://")
	errTLSPlain = errors.New("rtmp: a TLS handshake on the plain RTMP port; use rtmp:// here or the RTMPS port")
	errHTTP     = errors.New("rtmp: an HTTP request (or other text) on the RTMP port")
)

func (n *negotiator) Read(p []byte) (int, error) {
	if n.hs > 0 {
		if n.hs == handshakeSize {
			if err := n.checkVersion(); err != nil {
				return 0, err
			}
		}
		k, err := n.cr.r.Read(p[:min(len(p), n.hs)])
		n.hs -= k
		return k, err
	}
	for n.off == len(n.out) {
		m, err := n.cr.next()
		if err != nil {
			return 0, err
		}
		switch m.typ {
		case typeCommandAMF0:
			n.out = appendMessage(n.out[:0], m.csid, 0, m.typ, m.msid, m.body, defaultChunkSize)
			n.off = 0
		case typeCommandAMF3:
			return 0, errors.New("rtmp: AMF3 commands are not supported; use AMF0 (objectEncoding 0)")
		}
	}
	k := copy(p, n.out[n.off:])
	n.off += k
	return k, nil
}

func (n *negotiator) Write(p []byte) (int, error) { return n.w.Write(p) }

// checkVersion names the usual wrong clients instead of "invalid version".
func (n *negotiator) checkVersion() error {
	b, err := n.cr.r.Peek(1)
	if err != nil {
		return err
	}
	switch v := b[0]; {
	case v == 3:
		return nil
	case v == 6:
		return errRTMPE
	case v == 0x16:
		return errTLSPlain
	case v >= 'A' && v <= 'Z':
		return errHTTP
	default:
		return fmt.Errorf("rtmp: not an RTMP handshake (version byte 0x%02x)", v)
	}
}

package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minirtc/minirtc/internal/clienttest"
	"github.com/minirtc/minirtc/internal/config"
	"github.com/minirtc/minirtc/internal/servertest"
	"github.com/minirtc/minirtc/pkg/client"
	"github.com/minirtc/minirtc/pkg/ids"
	"github.com/minirtc/minirtc/pkg/protocol"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "minirtc test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestTLS: with a certificate, signalling is WSS, HTTP-FLV is HTTPS and
// RTMPS accepts pushes and plays — what mini-programs, which only reach
// https/wss domains, need.
func TestTLS(t *testing.T) {
	needFFmpeg(t)
	cert, key := selfSigned(t, t.TempDir())
	env := servertest.Start(t, func(c *config.Config) {
		c.TLS = config.TLS{CertFile: cert, KeyFile: key}
		c.Media.UnpublishGrace = time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	wss := env.Server.WebSocketURL()
	if !strings.HasPrefix(wss, "wss://") {
		t.Fatalf("signalling URL %s, want wss://", wss)
	}
	joinTLS := func(user string) *client.Client {
		c, err := client.Join(ctx, wss, env.Token(t, ids.UserID(user), "r1"), "r1", &client.Options{HTTPClient: insecure})
		if err != nil {
			t.Fatalf("%s joins over wss: %v", user, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	alice, bob := joinTLS("alice"), joinTLS("bob")
	pub, err := alice.PublishURL(ctx, "", protocol.MediaAudioVideo)
	if err != nil {
		t.Fatal(err)
	}
	// The same signed URL works on the RTMPS port.
	rtmps := strings.Replace(pub.PushURL, "rtmp://", "rtmps://", 1)
	rtmps = strings.Replace(rtmps, pubHostPort(t, pub.PushURL), env.Server.RTMPSAddr().String(), 1)
	startPush(t, rtmps, pushOpts{})
	clienttest.WaitEvent(t, bob, protocol.EvStreamPublished, nil)
	sub, err := bob.SubscribeURLs(ctx, "alice_main")
	if err != nil {
		t.Fatal(err)
	}
	urls := sub.URLs["alice_main"]
	if !strings.HasPrefix(urls.FLV, "https://") {
		t.Fatalf("flv URL %s, want https://", urls.FLV)
	}
	if r := probe(ctx, urls.FLV, 2); r.err != nil || r.video < 45 || r.stderr != "" {
		t.Fatalf("https-flv: %d video frames, %v %s", r.video, r.err, r.stderr)
	}
}

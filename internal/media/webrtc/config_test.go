package webrtc

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	if err := Defaults().Validate(); err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	if d.UDPAddr != ":7882" || d.TCPAddr != ":7881" || d.ConnectTimeout != 15*time.Second || d.MaxPeers != 2000 {
		t.Fatalf("defaults changed: %+v", d)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string // substring of the error; "" = valid
	}{
		{"tcp disabled", func(c *Config) { c.TCPAddr = "" }, ""},
		{"ip literal", func(c *Config) { c.UDPAddr = "10.0.0.5:7882"; c.TCPAddr = "[::1]:7881" }, ""},
		{"public ips", func(c *Config) { c.PublicIPs = []string{"203.0.113.7", "2001:db8::7"} }, ""},
		{"stun and turn", func(c *Config) {
			c.ICEServers = []ICEServer{
				{URLs: []string{"stun:stun.example.com:3478"}},
				{URLs: []string{"turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"}, Username: "u", Credential: "p"},
			}
		}, ""},
		{"no udp", func(c *Config) { c.UDPAddr = "" }, "udp_addr is required"},
		{"udp no port", func(c *Config) { c.UDPAddr = "7882" }, "udp_addr"},
		{"udp bad port", func(c *Config) { c.UDPAddr = ":70000" }, "bad port"},
		{"udp host name", func(c *Config) { c.UDPAddr = "media.example.com:7882" }, "not an IP address"},
		{"tcp bad", func(c *Config) { c.TCPAddr = "x:y" }, "tcp_addr"},
		{"public not ip", func(c *Config) { c.PublicIPs = []string{"media.example.com"} }, "not an IP address"},
		{"public unspecified", func(c *Config) { c.PublicIPs = []string{"0.0.0.0"} }, "cannot be reached"},
		{"public loopback", func(c *Config) { c.PublicIPs = []string{"127.0.0.1"} }, "cannot be reached"},
		{"public twice", func(c *Config) { c.PublicIPs = []string{"203.0.113.7", "203.0.113.7"} }, "twice"},
		{"ice no urls", func(c *Config) { c.ICEServers = []ICEServer{{}} }, "ice_servers[0]: urls is empty"},
		{"ice bad url", func(c *Config) { c.ICEServers = []ICEServer{{URLs: []string{"http://x"}}} }, "ice_servers[0]: url"},
		{"turn no credential", func(c *Config) { c.ICEServers = []ICEServer{{URLs: []string{"turn:t.example.com"}}} }, "username and credential"},
		{"zero connect timeout", func(c *Config) { c.ConnectTimeout = 0 }, "connect_timeout must be positive"},
		{"negative failed timeout", func(c *Config) { c.FailedTimeout = -time.Second }, "failed_timeout must be positive"},
		{"zero disconnected timeout", func(c *Config) { c.DisconnectedTimeout = 0 }, "disconnected_timeout"},
		{"zero max peers", func(c *Config) { c.MaxPeers = 0 }, "max_peers"},
		{"huge max peers", func(c *Config) { c.MaxPeers = MaxPeersLimit + 1 }, "max_peers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	c := testConfig()
	c.MaxPeers = -1
	if _, err := New(c, nil); err == nil || !strings.Contains(err.Error(), "max_peers") {
		t.Fatalf("New: %v", err)
	}
}

// TestNewPortInUse: a taken port is an error naming it, and nothing bound
// so far stays open (the UDP socket is released when TCP fails).
func TestNewPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := testConfig()
	c.UDPAddr = "127.0.0.1:0"
	c.TCPAddr = ln.Addr().String()
	if _, err := New(c, nil); err == nil || !strings.Contains(err.Error(), "listen tcp") {
		t.Fatalf("New: %v", err)
	}

	e := newEngine(t, testConfig())
	c = testConfig()
	c.UDPAddr = e.UDPAddr().String()
	if _, err := New(c, nil); err == nil || !strings.Contains(err.Error(), "listen udp") {
		t.Fatalf("New on a used UDP port: %v", err)
	}
}

// TestICEServersAreCopies: neither the caller's slices nor the returned
// ones alias the engine's configuration.
func TestICEServersAreCopies(t *testing.T) {
	c := testConfig()
	c.ICEServers = []ICEServer{{URLs: []string{"stun:stun.example.com:3478"}}}
	e := newEngine(t, c)
	c.ICEServers[0].URLs[0] = "stun:changed.example.com"
	got := e.ICEServers()
	if got[0].URLs[0] != "stun:stun.example.com:3478" {
		t.Fatalf("engine saw the caller's change: %v", got)
	}
	got[0].URLs[0] = "stun:changed.example.com"
	if e.ICEServers()[0].URLs[0] != "stun:stun.example.com:3478" {
		t.Fatal("engine saw a change to the returned slice")
	}
}

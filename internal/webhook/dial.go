package webhook

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// newTransport is the HTTP transport of deliveries: bounded connect and TLS
// times, a few idle connections per receiver (PerURLWorkers of them can be
// busy at once), and, with DenyPrivateNetworks, a dialer that refuses
// non-public addresses.
func newTransport(cfg Config) *http.Transport {
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	proxy := http.ProxyFromEnvironment
	if cfg.DenyPrivateNetworks {
		// The check runs on the address actually dialled, after DNS, so a
		// name that resolves to 127.0.0.1 is refused as well.
		dialer.Control = func(_, address string, _ syscall.RawConn) error { return checkPublic(address) }
		proxy = nil // a proxy would dial on our behalf, unchecked
	}
	return &http.Transport{
		Proxy:                  proxy,
		DialContext:            dialer.DialContext,
		TLSHandshakeTimeout:    cfg.Timeout,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    cfg.PerURLWorkers,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      true,
	}
}

// nonPublic are ranges that are not globally reachable besides those the
// netip predicates cover (RFC 6890 and successors).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may embed a private IPv4
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
}

// checkPublic refuses an "ip:port" that is not a public unicast address.
func checkPublic(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("webhook.deny_private_networks: cannot check address %q", host)
	}
	ip = ip.Unmap()
	bad := !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()
	for _, p := range nonPublic {
		bad = bad || p.Contains(ip)
	}
	if bad {
		return fmt.Errorf("refusing to connect to non-public address %s (webhook.deny_private_networks is on)", ip)
	}
	return nil
}

package httpapi

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	// 10.0.0.0/8 are our load balancers, 192.0.2.7 an nginx, 2001:db8:a::/48
	// our IPv6 proxies.
	trusted := clientIPs{trusted: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8:a::/48"),
	}}
	for _, tt := range []struct {
		name    string
		ips     clientIPs
		peer    string
		forward []string // the X-Forwarded-For headers, in order
		want    string
	}{
		{"no proxy trusted: the peer", clientIPs{}, "203.0.113.5:4711", []string{"198.51.100.1"}, "203.0.113.5"},
		{"no proxy trusted: IPv6 peer", clientIPs{}, "[2001:db8::5]:4711", nil, "2001:db8::5"},
		{"spoofed header from an untrusted peer", trusted, "203.0.113.5:4711", []string{"198.51.100.1, 10.0.0.1"}, "203.0.113.5"},
		{"trusted peer without the header", trusted, "10.1.2.3:80", nil, "10.1.2.3"},
		{"trusted peer: the address it appended", trusted, "10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"the client's own entries left of it are ignored", trusted, "10.1.2.3:80", []string{"1.1.1.1, 8.8.8.8, 198.51.100.1"}, "198.51.100.1"},
		{"client pretends to be a trusted proxy", trusted, "10.1.2.3:80", []string{"10.9.9.9, 198.51.100.1"}, "198.51.100.1"},
		{"several proxies: the right-most untrusted", trusted, "10.1.2.3:80", []string{"1.1.1.1, 198.51.100.1, 192.0.2.7, 10.4.4.4"}, "198.51.100.1"},
		{"several headers, in order", trusted, "10.1.2.3:80", []string{"1.1.1.1, 198.51.100.1", "192.0.2.7", "10.4.4.4"}, "198.51.100.1"},
		{"every address trusted: the farthest", trusted, "10.1.2.3:80", []string{"10.5.5.5, 192.0.2.7"}, "10.5.5.5"},
		{"IPv6 chain", trusted, "[2001:db8:a::1]:443", []string{"2001:db8:bad::1, 2001:db8:cafe::7, 2001:db8:a:1::2"}, "2001:db8:cafe::7"},
		{"IPv6 peer, IPv4 client", trusted, "[2001:db8:a::1]:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped addresses are their IPv4 ones", trusted, "[::ffff:10.1.2.3]:80", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"entries with ports", trusted, "10.1.2.3:80", []string{"[2001:db8:cafe::7]:5000, 10.4.4.4:443"}, "2001:db8:cafe::7"},
		{"garbage right-most: the peer", trusted, "10.1.2.3:80", []string{"198.51.100.1, not-an-ip"}, "10.1.2.3"},
		{"garbage after trusted hops: the last of them", trusted, "10.1.2.3:80", []string{"198.51.100.1, <script>, 10.4.4.4"}, "10.4.4.4"},
		{"garbage left of the client is never reached", trusted, "10.1.2.3:80", []string{"unknown, 198.51.100.1"}, "198.51.100.1"},
		{"an empty entry is garbage", trusted, "10.1.2.3:80", []string{"198.51.100.1,"}, "10.1.2.3"},
		{"an empty header is garbage", trusted, "10.1.2.3:80", []string{"198.51.100.1", ""}, "10.1.2.3"},
		{"a zone is garbage", trusted, "10.1.2.3:80", []string{"fe80::1%eth0"}, "10.1.2.3"},
		{"a CIDR is garbage", trusted, "10.1.2.3:80", []string{"198.51.100.0/24"}, "10.1.2.3"},
		{"Lambda's source IP, no port", trusted, "198.51.100.1:0", nil, "198.51.100.1"},
		{"no address at all (Lambda's console test event)", trusted, "", []string{"198.51.100.1"}, ""},
	} {
		r, err := http.NewRequest(http.MethodGet, "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.RemoteAddr = tt.peer
		for _, v := range tt.forward {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := tt.ips.of(r); got != tt.want {
			t.Errorf("%s: of(peer %q, X-Forwarded-For %q) = %q, want %q", tt.name, tt.peer, tt.forward, got, tt.want)
		}
	}
}

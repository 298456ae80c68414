package httpapi

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientIPs tells the address a request came from, believing
// X-Forwarded-For only as far as trusted proxies wrote it.
//
// Why right to left: each proxy appends the address of the peer it got the
// request from, so the right end of the header is written by the proxy
// nearest to us and the left end by whoever sent the request first, which
// may be anyone. Walking from the right while the address is one of our
// proxies' stops at the first hop no proxy of ours is, whatever the client
// put to its left; the left-most entry, which many frameworks take, is the
// client's to choose.
type clientIPs struct {
	trusted []netip.Prefix
}

// forwardedFor is the header trusted proxies append the client's address to.
// Forwarded (RFC 7239) is not read: ALB, CloudFront and nginx's usual setup
// write X-Forwarded-For, and believing a second header would give a client a
// second one to forge.
const forwardedFor = "X-Forwarded-For"

// of returns the client's address for r: the socket's peer (in AWS Lambda
// mode, the event's source IP, which lambdahttp puts in RemoteAddr and from
// which it strips X-Forwarded-For), or, when the peer is a trusted proxy,
// the right-most X-Forwarded-For address that is not one. When every
// address is trusted it is the left-most one, the farthest hop known.
//
// A malformed entry (not an address, with or without a port) ends the walk,
// and the answer is the last address walked, the one a trusted proxy wrote
// just right of it: what lies to the left came from a hop none of our
// proxies vouches for. Why not the peer: that would put every such request
// under the proxy's address, where the per-IP limit would count them with
// every other client that ends up there.
func (c clientIPs) of(r *http.Request) string {
	peer, ok := peerAddr(r.RemoteAddr)
	if !ok {
		return hostOf(r.RemoteAddr)
	}
	if !c.trusts(peer) {
		return peer.String()
	}
	nearest := peer
	headers := r.Header.Values(forwardedFor)
	for i := len(headers) - 1; i >= 0; i-- {
		entries := strings.Split(headers[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			addr, ok := forwardedAddr(entries[j])
			if !ok {
				return nearest.String()
			}
			if !c.trusts(addr) {
				return addr.String()
			}
			nearest = addr
		}
	}
	return nearest.String()
}

func (c clientIPs) trusts(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr reads net/http's RemoteAddr, host:port.
func peerAddr(remote string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap().WithZone(""), true
}

// forwardedAddr reads one X-Forwarded-For entry: an address, or one with a
// port as some proxies write it (1.2.3.4:5678, [2001:db8::1]:443). An
// IPv4-mapped address is its IPv4 address; a zone, which no proxy has reason
// to write, makes the entry malformed.
func forwardedAddr(entry string) (netip.Addr, bool) {
	entry = strings.TrimSpace(entry)
	a, err := netip.ParseAddr(entry)
	if err != nil {
		ap, perr := netip.ParseAddrPort(entry)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	if a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// hostOf is RemoteAddr's host part when it is not an address and port
// (nothing net/http's server gives; lambdahttp gives "" for an event whose
// source IP is not an address).
func hostOf(remote string) string {
	host := remote
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = strings.Trim(host[:i], "[]")
	}
	return host
}
